"""The `wdcli` command line: each command parses options, makes one library call and prints with rich.

Heavy modules (torch, polars) are imported inside the commands, so `wdcli --help` stays fast.
Errors the user can fix print one clear message and exit 2; anything else exits 1 with a one-line summary
(`--debug` shows the traceback).
"""

from . import score_commands, spec_commands, train_commands, tune_commands  # noqa: F401 - they register the commands
from .common import app

__all__ = ["app"]

if __name__ == "__main__":  # pragma: no cover
    app()
