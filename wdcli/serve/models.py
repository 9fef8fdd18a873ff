"""The model being served, and hot reload.

`Models.current` is the loaded model; a scoring batch reads it once, so every request is answered by one
model. A reload loads the new run in a thread (requests go on being answered by the current one), verifies it
against the current one when a holdout was given (`wdcli.score.verify`), and only then swaps the reference:
no request fails or waits during the swap. A run that fails to load or to verify is not served, and the current
one stays. `watch` polls the --model folder (its LATEST pointer, or the run folder's files) and reloads
when it changes. A run is known by its stamp: its folder and the size and time of each of its files, so a run
that failed to load (half copied, say) is tried again once its files change, and never before: a reload, or a
storm of them, of a run already served or already refused costs a few `stat` calls. With --workers N, a reload
that one worker answers reaches the others through a shared generation (`workers.Generation`).
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from ..artifact import resolve_model_dir
from ..data import io
from ..errors import WdcliError
from ..features.fitted import Numeric
from ..features.inputs import spec_inputs
from ..features.pipeline import file_in
from ..score import Scorer
from ..score.verify import verify
from .stats import Stats
from .workers import POLL, Generation

log = logging.getLogger("uvicorn.error")
ABSOLUTE = re.compile(r"(?<![\w.~:/-])/[^\s'\"`,;:()]+")  # an absolute path in a message


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
    """The run folder and the size and modification time of each of its files (and of vocab/'s)."""
    files = []
    for folder in (path, path / "vocab"):
        if folder.is_dir():
            for e in os.scandir(folder):
                st = e.stat(follow_symlinks=False)
                files.append((folder.name + "/" + e.name, st.st_size, st.st_mtime_ns))
    return str(path.resolve()), tuple(sorted(files))


def load(path: Path) -> Loaded:
    """Load a run and describe it (GET /metadata)."""
    scorer = Scorer.load(path)
    manifest = json.loads(file_in(path, "manifest.json").read_text())
    spec, fitted = scorer.spec, scorer.fitted
    features = []
    for name, f in fitted.features.items():
        d: dict[str, object] = {"name": name, "kind": f.kind}
        d.update({"transform": f.transform} if isinstance(f, Numeric) else {"cardinality": f.cardinality})
        features.append(d)
    metadata = {
        "name": spec.name,
        "run": path.name,
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
        self,
        source: Path | None,
        stats: Stats,
        holdout: str | None = None,
        separator: str | None = None,
        generation: Generation | None = None,
    ):
        self.source, self.stats, self.generation = source, stats, generation
        root = source or Path("runs")  # what --model names: messages to clients name paths relative to it
        self.root = root.parent if root.name == "LATEST" and root.is_file() else root
        self.current = load(resolve_model_dir(source))
        # the rows a new run must pass `verify` on, read as the served run read its CSV (or as --separator says)
        separator = separator or self.current.scorer.spec.data.csv.separator
        self.holdout = io.read_table(holdout, separator) if holdout else None
        self.holdout_name = holdout or "holdout"
        freeze()
        self.skipped: dict[tuple, str] = {}  # runs (stamps) that failed to load or verify, and why
        self._lock: asyncio.Lock | None = None
        self._unresolved = False

    async def reload_all(self) -> tuple[int, dict]:
        """POST /reload: this worker reloads, then (--workers N) every other one; the answer comes when all of
        them serve the same run, or after 10 s (`workers` in the answer says how many do)."""
        status, body = await self.reload(explicit=True)
        if self.generation is not None and status == 200:
            run, every = self.current.run, self.generation.workers
            if body.get("status") == "unchanged":  # (every worker serving it already: no round of the others)
                now = await asyncio.to_thread(self.generation.current)
                if (n := await asyncio.to_thread(self.generation.serving, now, run)) >= every:
                    body["workers"] = {"serving": n, "of": every}
                    return status, body
            generation = await asyncio.to_thread(self.generation.bump)
            await asyncio.to_thread(self.generation.ack, generation, run)
            body["workers"] = {"serving": await self.generation.wait(generation, run), "of": self.generation.workers}
        return status, body

    async def follow(self) -> None:
        """(--workers N) Reload when another worker's reload raised the generation, and say which run is served."""
        assert self.generation is not None
        # a worker that started after another's reload raised the generation loaded the new run itself: it says
        # so, or that reload would wait for it in vain (and answer that only some workers serve the run)
        await asyncio.to_thread(self.generation.ack, self.generation.seen, self.current.run)
        while True:
            await asyncio.sleep(POLL)
            try:
                if (generation := await asyncio.to_thread(self.generation.risen)) is not None:
                    await self.reload(explicit=True)
                    await asyncio.to_thread(self.generation.ack, generation, self.current.run)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - the follower must outlive any one bad run
                log.warning("follow: %s: %s", type(e).__name__, e)

    async def reload(self, explicit: bool = True) -> tuple[int, dict]:
        """Load the run --model points at now and serve it, if it loads (and verifies). Returns an HTTP status
        and what happened. A run already served is unchanged; one already refused is refused again (409) until
        its files change."""
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
                why = f"the model was not reloaded: {self.private(_short(e))}"
                return self._done("failed", 409, {"error": why, "run": old.run})
            self._unresolved = False
            if stamp == old.stamp:
                return 200, {"status": "unchanged", "run": old.run}
            if stamp in self.skipped:
                error = {"error": f"the model was not reloaded: {self.skipped[stamp]}", "run": old.run}
                return (409, error) if explicit else (200, {"status": "unchanged", "run": old.run})
            status, body = await self._load(path, stamp, old)
            return self._done(body.get("status", "failed"), status, body)

    async def _load(self, path: Path, stamp: tuple, old: Loaded) -> tuple[int, dict]:
        try:
            new = await asyncio.to_thread(load, path)
        except Exception as e:  # noqa: BLE001 - whatever is wrong with the new run, the current one stays
            self.skipped[stamp] = self.private(_short(e))
            return 409, {"error": f"the model was not reloaded: {self.skipped[stamp]}", "run": old.run}
        if self.holdout is not None:
            try:
                verdict = await asyncio.to_thread(verify, new.scorer, old.scorer, self.holdout, self.holdout_name)
            except WdcliError as e:
                self.skipped[stamp] = f"{new.run} cannot be verified: {self.private(str(e))}"
                return 409, {"error": self.skipped[stamp], "run": old.run}
            if not verdict.passed:
                self.skipped[stamp] = (
                    f"{new.run} failed verification ({', '.join(verdict.failed)}); still serving {old.run}"
                )
                return 409, {
                    "error": self.skipped[stamp],
                    "run": old.run,
                    "verify": verdict.to_dict(),
                    "status": "rejected",
                }
        self.current = new
        asyncio.get_running_loop().call_later(1.0, freeze)  # once the batches that hold the old one are done
        return 200, {"status": "reloaded", "run": new.run, "previous": old.run}

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

    def private(self, message: str) -> str:
        """A message as a client may read it, naming no absolute path: a path under --model relative to it (the
        run's folder name), any other by its file name. Where the server keeps its files is not the client's to
        know."""
        for folder in dict.fromkeys((str(self.root.absolute()), str(self.root.resolve()))):
            message = message.replace(folder + os.sep, "").replace(folder, self.root.name)
        return ABSOLUTE.sub(lambda m: Path(m[0]).name, message)

    def uptime(self) -> float:
        return time.time() - self.stats.started


def freeze() -> None:
    """Keep the served model's objects out of Python's cyclic garbage collector: a full collection walks every
    object it tracks (~0.2 s for the apps model, the GIL held: every request waits), and a request that builds
    many containers (deeply nested JSON) sets one off. After a reload, the previous model's objects are let go
    first (one full collection, once per reload)."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _short(e: Exception) -> str:
    """An error as a client may read it: a WdcliError's message; for anything else its kind only (the log has
    the rest)."""
    if isinstance(e, WdcliError | OSError):
        return str(e)
    log.warning("reload: %s: %s", type(e).__name__, e)
    return f"it cannot be loaded ({type(e).__name__}; the server's log has the details)"
