"""The `wdcli` command line: each command parses options, makes one library call and prints with rich.

`app.py` is the app (how commands are registered, one invocation's state, what errors become), `options.py` the
options commands share and the checks of the files they name, `output.py` the consoles, tables and JSON,
`progress.py` training's progress on the console; each `*_commands.py` holds the commands of one part.

Heavy modules (torch, polars) are imported inside the commands, so `wdcli --help` stays fast.
Errors the user can fix print one clear message and exit 2; anything else exits 1 with a one-line summary
(`--debug` shows the traceback).
"""

from . import (  # noqa: F401
    init_commands,
    report_commands,
    score_commands,
    serve_commands,
    spec_commands,
    train_commands,  # (they register the commands)
    tune_commands,
)
from .app import app

__all__ = ["app"]

if __name__ == "__main__":  # pragma: no cover
    app()
