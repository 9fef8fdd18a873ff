"""Logging a run to MLflow (`train.log: [mlflow]`), through `MlflowClient`: no global active run is touched.

The store is MLflow's own choice: $MLFLOW_TRACKING_URI when set, else a local store in the working directory
(`mlflow.db`, with artifacts under `mlruns/`), which `mlflow ui` there shows. The experiment is the spec's name.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

from mlflow.entities import Metric, Param, RunStatus
from mlflow.tracking import MlflowClient

BATCH = 100  # MLflow takes at most 100 params and 1000 metrics per call
for _name in ("mlflow", "alembic"):  # its "creating tables" notes are not the user's business
    logging.getLogger(_name).setLevel(logging.WARNING)


def key(name: str) -> str:
    """A key MLflow accepts (alphanumerics, _ - . space : /): `crosses[0].columns` -> `crosses.0.columns`."""
    return re.sub(r"[^\w\-. :/]", "_", re.sub(r"\[(\d+)\]", r".\1", name))[:250]


class MLflowSink:
    def __init__(self, spec, params: dict[str, object]):
        self.client = MlflowClient()
        self.where = f"mlflow: logging to {self.client.tracking_uri}, experiment '{spec.name}'"
        exp = self.client.get_experiment_by_name(spec.name)
        exp_id = exp.experiment_id if exp is not None else self.client.create_experiment(spec.name)
        self.run_id = self.client.create_run(
            exp_id, run_name=f"{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}", tags={"wdcli.model": spec.model}
        ).info.run_id
        items = [Param(key(k), str(v)[:6000]) for k, v in params.items()]
        for i in range(0, len(items), BATCH):
            self.client.log_batch(self.run_id, params=items[i : i + BATCH])

    def epoch(self, epoch: int, values: dict[str, float]) -> None:
        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(key(k), v, now, epoch) for k, v in values.items()])

    def finish(self, final: dict[str, float], folder: Path) -> None:
        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(key(f"final_{k}"), v, now, 0) for k, v in final.items()])
        self.client.set_tag(self.run_id, "wdcli.run_folder", str(folder.resolve()))
        self.client.log_artifacts(self.run_id, str(folder), artifact_path="run")
        self.client.set_terminated(self.run_id, RunStatus.to_string(RunStatus.FINISHED))

    def fail(self, error: BaseException) -> None:
        status = (
            RunStatus.KILLED
            if isinstance(error, KeyboardInterrupt) or type(error).__name__ == "Interrupted"
            else RunStatus.FAILED
        )
        self.client.set_terminated(self.run_id, RunStatus.to_string(status))
