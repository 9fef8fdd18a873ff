"""wdcli's own exceptions. Each carries a message that says what is wrong and what to do.

The CLI prints them without a traceback; library users catch `WdcliError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class WdcliError(Exception):
    """A problem the user can fix: bad spec, bad data, bad artifact."""


@dataclass(frozen=True)
class Problem:
    """One problem in a spec: where it is (file, line, YAML path) and what it is."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where} {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class SpecError(WdcliError):
    """Every problem found in a spec, reported together."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        n = len(problems)
        super().__init__(f"{n} problem{'s' if n != 1 else ''} in the spec:\n{lines}")


class DataError(WdcliError):
    """The data does not match the spec (missing column, wrong type, bad label...)."""


class MissingColumns(DataError):
    """A frame lacks columns the spec (or the model) needs: often a file meant for another model."""


class ArtifactError(WdcliError):
    """A model folder that is missing files, corrupted, or of an unknown format version."""


class Interrupted(WdcliError):
    """Training stopped on Ctrl-C or SIGTERM (after writing a checkpoint, when it could). Of the processes of a
    job, only the first speaks (`speak`)."""

    def __init__(self, message: str, exit_code: int, checkpoint: Path | None = None, speak: bool = True):
        super().__init__(message)
        self.exit_code, self.checkpoint, self.speak = exit_code, checkpoint, speak
