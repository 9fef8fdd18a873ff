"""Tracking: a run's parameters (the spec, flattened), per-epoch metrics, final metrics and artifact folder,
logged to the trackers `train.log` names (MLflow, TensorBoard). Nothing is imported unless a tracker is asked
for, and a missing extra is an error before training starts.

    tracking = Tracking.open(spec)                 # one sink per name in spec.train.log
    result = train(spec, reporter=tracking.wrap(reporter))
    tracking.finish(result.metrics, folder)        # or tracking.fail(error)
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import WdcliError
from ..metrics import EpochRecord, RunMetrics
from ..spec import Spec
from ..spec.flat import flatten

if TYPE_CHECKING:
    from .mlflow_sink import MLflowSink
    from .tensorboard_sink import TensorBoardSink

EXTRAS = {"mlflow": "mlflow", "tensorboard": "tensorboard"}


def params(spec: Spec) -> dict[str, object]:
    """The spec as flat parameters (lists as text)."""
    return {
        k: v if isinstance(v, (int, float, str, bool)) else str(v)
        for k, v in flatten(spec.model_dump(mode="json")).items()
    }


def numbers(record: dict) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in record.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "epoch"
    }


class Tracking:
    """The sinks of one run."""

    def __init__(self, sinks: list):
        self.sinks = sinks
        self.logged: set[int] = set()  # epochs logged as they ended

    @staticmethod
    def open(spec: Spec) -> Tracking:
        sinks = []
        for name in dict.fromkeys(spec.train.log):
            sink: type[MLflowSink | TensorBoardSink]
            try:
                if name == "mlflow":
                    from .mlflow_sink import MLflowSink as sink
                else:
                    from .tensorboard_sink import TensorBoardSink as sink
            except ImportError as e:
                raise WdcliError(
                    f"train.log: {name} needs the {EXTRAS[name]} package ({e.name} is not installed); "
                    f"pip install 'wdcli[{name}]', or remove {name} from train.log"
                ) from None
            try:
                sinks.append(sink(spec, params(spec)))
            except Exception as e:  # noqa: BLE001 - a tracker that cannot start: say so before training
                raise WdcliError(f"train.log: {name} cannot start logging this run: {_short(e)}") from None
        return Tracking(sinks)

    @property
    def where(self) -> list[str]:
        """Where each sink logs, a line each (`mlflow: logging to sqlite:///mlflow.db, experiment 'census'`)."""
        return [s.where for s in self.sinks]

    def wrap(self, reporter):
        """The reporter the training loop calls: `reporter` (may be None) plus the sinks, or `reporter` itself
        when nothing is tracked."""
        return Tracked(reporter, self) if self.sinks else reporter

    def epoch(self, record: EpochRecord) -> None:
        self.logged.add(record.epoch)
        self._each("epoch", record.epoch, numbers(record.to_json()))

    def _each(self, method: str, *args) -> None:
        """Call every sink; one that fails is dropped with a warning (a tracker must not stop training)."""
        for s in list(self.sinks):
            try:
                getattr(s, method)(*args)
            except Exception as e:  # noqa: BLE001
                self.sinks.remove(s)
                warnings.warn(
                    f"train.log: {type(s).__name__} stopped logging: {_short(e)}", RuntimeWarning, stacklevel=2
                )

    def finish(self, metrics: RunMetrics, folder: Path) -> None:
        """Final metrics (split_metric) and the run folder; epochs not logged live (before a resume) first."""
        for record in metrics.history:
            if record.epoch not in self.logged:
                self.epoch(record)
        final = {
            f"{split}_{k}": float(v)
            for split, m in metrics.splits.items()
            for k, v in m.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        self._each("finish", final, Path(folder))

    def fail(self, error: BaseException) -> None:
        for s in self.sinks:
            try:
                s.fail(error)
            except Exception:  # noqa: BLE001 - the training error is the one to report
                pass


def _short(e: Exception) -> str:
    text = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {text[:300]}"


class Tracked:
    """A training reporter that also sends each epoch's record to the sinks; every other call goes to the
    reporter it wraps (or nowhere)."""

    def __init__(self, reporter, tracking: Tracking):
        self.reporter, self.tracking = reporter, tracking

    def end_epoch(self, record: EpochRecord) -> None:
        if self.reporter is not None:
            self.reporter.end_epoch(record)
        self.tracking.epoch(record)

    def start_epoch(self, epoch: int, epochs: int, rows: int) -> None:
        if self.reporter is not None:
            self.reporter.start_epoch(epoch, epochs, rows)

    def advance(self, rows: int, loss: float) -> None:
        if self.reporter is not None:
            self.reporter.advance(rows, loss)

    def __getattr__(self, name: str):
        """The wrapped reporter's other hooks (e.g. `task`); none when there is no reporter."""
        reporter = self.__dict__.get("reporter")
        if reporter is None:
            raise AttributeError(name)
        return getattr(reporter, name)
