"""wdcli's own exceptions. Each carries a message that says what is wrong and what to do; `suggest` (and
`closest`) is the one "did you mean" every message uses, `counted` the one "1 row, 2 rows".

The CLI prints them without a traceback; library users catch `WdcliError`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# How alike a word and a choice must be for "did you mean" to offer the choice: difflib's similarity ratio
# (twice the matched characters over both lengths). 0.6 offers 'min_count' for 'min_cont', 'every_steps' for
# 'every' and 'education' for 'educaton', and nothing for words that share only a letter or two.
CLOSE_ENOUGH = 0.6


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
        super().__init__(f"{counted(n, 'problem')} in the spec:\n{lines}")


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


def closest(word: object, choices: Iterable[object]) -> str | None:
    """The choice most like `word` (at least CLOSE_ENOUGH alike), or None. Every "did you mean" uses this."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=CLOSE_ENOUGH)
    return close[0] if close else None


def suggest(word: object, choices: Iterable[object]) -> str:
    """The hint " (did you mean 'x'?)" for the choice most like `word`, or "" when none is close enough."""
    return did_you_mean(closest(word, choices))


def did_you_mean(close: str | None) -> str:
    """The hint " (did you mean 'x'?)" for a close choice already found, or "" for none."""
    return f" (did you mean '{close}'?)" if close is not None else ""


def counted(n: int, noun: str) -> str:
    """A count and its noun, plural unless it is 1: `1 epoch`, `3 epochs`, `12,000 rows`. Every message that
    counts uses this."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
