"""What a user reads about runs: one run's HTML report (`build_report`), and past runs side by side
(`list_runs`, `diff_runs`)."""

from .runs import Diff, Run, diff_runs, find_run, list_runs, read_run

__all__ = ["Diff", "Run", "build_report", "diff_runs", "find_run", "list_runs", "read_run"]


def build_report(*args, **kwargs):
    """See `wdcli.report.build.build_report` (imported on first use: it brings in the scorer and matplotlib)."""
    from .build import build_report as build

    return build(*args, **kwargs)
