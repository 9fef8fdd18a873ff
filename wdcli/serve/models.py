"""The model being served, and hot reload.

`Models.current` is the loaded model; a scoring batch reads it once, so every request is answered by one
model. A reload loads the new run in a thread (requests go on being answered by the current one), verifies it
against the current one when a holdout was given (`wdcli.score.verify`), and only then swaps the reference:
no request fails or waits during the swap. A run that fails to load or to verify is not served, and the current
one stays. `watch` polls the --model folder (its LATEST pointer, or the run folder's manifest) and reloads
when it changes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ..artifact import resolve_model_dir
from ..errors import WdcliError
from ..features.fitted import Numeric
from ..features.inputs import spec_inputs
from ..score import Scorer
from ..score.verify import verify
from .stats import Stats

log = logging.getLogger("uvicorn.error")


@dataclass(frozen=True)
class Loaded:
    scorer: Scorer
    path: Path
    stamp: tuple  # (path, the manifest's modification time): what the watcher compares
    metadata: dict

    @property
    def run(self) -> str:
        return self.path.name


def _stamp(path: Path) -> tuple:
    return str(path.resolve()), (path / "manifest.json").stat().st_mtime_ns


def load(path: Path) -> Loaded:
    """Load a run and describe it (GET /metadata)."""
    scorer = Scorer.load(path)
    manifest = json.loads((path / "manifest.json").read_text())
    spec, fitted = scorer.spec, scorer.fitted
    features = []
    for name, f in fitted.features.items():
        d = {"name": name, "kind": f.kind}
        d.update({"transform": f.transform} if isinstance(f, Numeric) else {"cardinality": f.cardinality})
        features.append(d)
    metadata = {
        "name": spec.name,
        "run": path.name,
        "path": str(path),
        "format_version": manifest.get("format_version"),
        "wdcli_version": manifest.get("wdcli_version"),
        "created": manifest.get("created"),
        "model": scorer.artifact.config.model,
        "label": spec.label.model_dump(),
        "columns": {column: needs.reads for column, needs in spec_inputs(spec).items()},
        "features": features,
        "metrics": scorer.artifact.metrics.splits,
    }
    return Loaded(scorer, path, _stamp(path), metadata)


class Models:
    def __init__(
        self, source: Path | None, stats: Stats, holdout: pl.DataFrame | None = None, holdout_name: str = "holdout"
    ):
        self.source, self.stats = source, stats
        self.holdout, self.holdout_name = holdout, holdout_name
        self.current = load(resolve_model_dir(source))
        self.skipped: set[tuple] = set()  # runs the watcher will not try again (failed to load or verify)
        self._lock: asyncio.Lock | None = None
        self._unresolved = False

    async def reload(self, explicit: bool = True) -> tuple[int, dict]:
        """Load the run --model points at now and serve it, if it loads (and verifies). Returns an HTTP status
        and what happened."""
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            old = self.current
            try:
                path = await asyncio.to_thread(resolve_model_dir, self.source)
                stamp = await asyncio.to_thread(_stamp, path)
            except (WdcliError, OSError) as e:  # e.g. LATEST names a folder that is gone: said once
                if not explicit and self._unresolved:
                    return 200, {"status": "unchanged", "run": old.run}
                self._unresolved = True
                return self._done("failed", 409, {"error": f"the model was not reloaded: {e}", "run": old.run})
            self._unresolved = False
            if not explicit and (stamp == old.stamp or stamp in self.skipped):
                return 200, {"status": "unchanged", "run": old.run}
            try:
                new = await asyncio.to_thread(load, path)
            except Exception as e:  # noqa: BLE001 - whatever is wrong with the new run, the current one stays
                self.skipped.add(stamp)
                return self._done("failed", 409, {"error": f"the model was not reloaded: {e}", "run": old.run})
            if self.holdout is not None:
                try:
                    verdict = await asyncio.to_thread(verify, new.scorer, old.scorer, self.holdout, self.holdout_name)
                except WdcliError as e:
                    self.skipped.add(new.stamp)
                    return self._done("failed", 409, {"error": f"{new.run} cannot be verified: {e}", "run": old.run})
                if not verdict.passed:
                    self.skipped.add(new.stamp)
                    return self._done(
                        "rejected",
                        409,
                        {
                            "error": f"{new.run} failed verification ({', '.join(verdict.failed)}); still serving {old.run}",
                            "run": old.run,
                            "verify": verdict.to_dict(),
                        },
                    )
            self.current = new
            return self._done("reloaded", 200, {"status": "reloaded", "run": new.run, "previous": old.run})

    def _done(self, result: str, status: int, body: dict) -> tuple[int, dict]:
        self.stats.reloads[result] += 1
        (log.warning if status >= 400 else log.info)("reload: %s", body.get("error") or f"now serving {body['run']}")
        return status, body

    async def watch(self, interval: float) -> None:
        """Reload when the --model folder points at another run (or the run folder was replaced)."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.reload(explicit=False)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - the watcher must outlive any one bad run
                log.warning("watch: %s: %s", type(e).__name__, e)

    def uptime(self) -> float:
        return time.time() - self.stats.started
