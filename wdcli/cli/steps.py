"""Progress of a command made of steps whose length is not known ahead (init's sampling and ranking, export's
tracing, reading a study's data): a spinner naming the step on a terminal; one line per step as it
starts when the output is a pipe or a file; nothing when quiet.

    with Steps(err, quiet) as step:
        draft_spec(..., step=step)   # step("sampling data.csv"), step("ranking crosses"), ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from rich.status import Status


class Steps:
    """Called with each step's description as it starts (see the module's doc)."""

    def __init__(self, console: Console, quiet: bool = False):
        self.console, self.quiet = console, quiet
        self.status: Status | None = None
        self.last = ""  # (a step said again at once, as init ranks again for each draft it tries, is said once)

    def __enter__(self) -> Steps:
        return self

    def __exit__(self, *exc) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None

    def __call__(self, what: str) -> None:
        if self.quiet or what == self.last:
            return
        self.last = what
        if not self.console.is_terminal:
            self.console.print(what, markup=False, highlight=False, soft_wrap=True)
            return
        if self.status is None:
            self.status = status = self.console.status(what)
            status.start()
        else:
            self.status.update(what)
