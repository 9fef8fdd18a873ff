"""What the worker processes of `wdcli serve --workers N` share, and how they end.

Each worker holds its own model. A reload that one worker answers must reach the others: the parent makes a
folder before it starts them, and in it a generation number (`generation`). The worker that reloads raises it
and waits (a few seconds at most) until every worker has written that it serves the new run (`ack-<pid>`);
each worker polls the number four times a second and reloads when it rises. So `POST /reload` answers
"reloaded" once every worker serves the new run.

A worker dies with its parent: on Linux the kernel sends it SIGTERM when the parent goes (prctl's
PR_SET_PDEATHSIG, even after a `kill -9` of the parent), so no orphan keeps the port and a restart can bind it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from pathlib import Path

from ..data.atomic import atomic_file

POLL = 0.25  # seconds between a worker's looks at the generation


class Generation:
    def __init__(self, folder: str | Path, workers: int):
        self.folder, self.workers = Path(folder), workers
        self.seen = self.current()
        # one writer at a time in this process: its writes share a temporary file (named after the process), so
        # two reloads answered at once failed one of them
        self._writing = threading.Lock()

    def current(self) -> int:
        try:
            return int((self.folder / "generation").read_text() or 0)
        except (OSError, ValueError):
            return 0

    def bump(self) -> int:
        """A new generation: the other workers reload when they see it."""
        with self._writing:
            generation = self.current() + 1
            with atomic_file(self.folder / "generation") as tmp:
                tmp.write_text(str(generation))
            self.seen = generation
            return generation

    def ack(self, generation: int, run: str) -> None:
        with self._writing, atomic_file(self.folder / f"ack-{os.getpid()}") as tmp:
            tmp.write_text(f"{generation} {run}")

    def serving(self, generation: int, run: str) -> int:
        """How many workers have said that they serve `run` since `generation`."""
        count = 0
        for file in self.folder.glob("ack-*"):
            try:
                seen, served = file.read_text().split(" ", 1)
            except (OSError, ValueError):
                continue
            count += int(seen) >= generation and served == run
        return count

    async def wait(self, generation: int, run: str, timeout: float = 10.0) -> int:
        """Wait until every worker serves `run` (or `timeout`); returns how many do."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (n := self.serving(generation, run)) < self.workers and loop.time() < deadline:
            await asyncio.sleep(0.05)
        return n

    def risen(self) -> int | None:
        """The generation, if it rose since this worker last looked."""
        generation = self.current()
        if generation > self.seen:
            self.seen = generation
            return generation
        return None


def die_with_parent(parent: int) -> None:
    """Ask the kernel for SIGTERM when the parent process ends (Linux); if it already has, end now."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)
