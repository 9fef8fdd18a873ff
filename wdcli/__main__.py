"""`python -m wdcli` runs the command line, like the `wdcli` script."""

from .cli import app

app(prog_name="wdcli")
