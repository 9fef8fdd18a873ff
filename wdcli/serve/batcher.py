"""Micro-batching, as the paper's serving does: requests that arrive together are encoded and scored as one
batch, then split back.

One task takes every request waiting when the scorer is free. It waits for more only while other requests are
still being received (read and parsed), and for at most `window` seconds: a request that arrives alone is
scored at once, so batching adds no latency under light load, and under heavy load the fixed cost of a
scoring call (encoder set-up, the model's dozen kernel launches) is paid once per batch instead of once per
request. Scoring runs in one worker thread (Polars and torch release the GIL), so the event loop keeps
reading requests meanwhile. Requests are batched with others of the same columns and types, so the encoder's
per-schema plan applies; if a batch fails (a bad value in one request), each request is scored alone, so only
the bad one gets the error: whatever goes wrong while a batch is put together or scored is answered request by
request, never to a whole batch. A request's error in a library's words (Polars', numpy's) is answered in the
server's: the column, the value and its row, and what to send (`unscorable`). At most `max_queue` requests wait;
the next is answered 503 with Retry-After.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from ..errors import WdcliError
from ..features.inputs import spec_inputs
from ..score import Scorer
from .bodies import BadRequest
from .models import Loaded, Models, log
from .stats import Stats

# what a column the model reads takes, by how it reads it: (one value, the values)
KINDS = {
    "numeric": ("a number", "numbers"),
    "categorical": ("text or a number", "text or numbers"),
    "multivalent": ("a list of text or numbers", "lists of text or numbers"),
    "weights": ("a list of numbers, a weight for each value", "lists of numbers"),
}


@dataclass
class _Item:
    frame: pl.DataFrame
    future: asyncio.Future
    key: tuple = field(init=False)  # (made in the request's own task: a failure there is its own)

    def __post_init__(self):
        self.key = (tuple(self.frame.columns), tuple(map(str, self.frame.dtypes)))


class Batcher:
    def __init__(self, models: Models, stats: Stats, window: float, max_rows: int, max_queue: int = 256):
        self.models, self.stats, self.window, self.max_rows = models, stats, window, max_rows
        self.max_queue = max_queue
        self.pending: list[_Item] = []
        self.receiving = 0  # requests being read or parsed: they may join the next batch
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="wdcli-score")
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task | None = None

    # ------------------------------------------------------------------------------------ request side
    def receiving_started(self) -> None:
        self.receiving += 1

    def receiving_done(self) -> None:
        self.receiving -= 1
        if self._wakeup is not None:
            self._wakeup.set()

    async def score(self, frame: pl.DataFrame) -> tuple[np.ndarray, Loaded]:
        """The scores of a request's candidates, and the model that gave them."""
        if len(self.pending) >= self.max_queue:
            raise BadRequest(
                503,
                f"the server is busy ({len(self.pending)} requests waiting to be scored); retry in a second",
                {"Retry-After": "1"},
            )
        if self._task is None or self._task.done():
            self._wakeup = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(self._wakeup))
        future = asyncio.get_running_loop().create_future()
        item = _Item(frame, future)
        self.pending.append(item)
        assert self._wakeup is not None  # made with the task, above
        self._wakeup.set()
        return await future

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self.executor.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------------------------ scoring side
    async def _run(self, wakeup: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await wakeup.wait()
            wakeup.clear()
            while self.pending:
                deadline = loop.time() + self.window
                while self.receiving > 0 and self._rows() < self.max_rows and loop.time() < deadline:
                    wakeup.clear()
                    try:
                        await asyncio.wait_for(wakeup.wait(), deadline - loop.time())
                    except TimeoutError:
                        break
                batch = self._take()
                model = self.models.current
                try:
                    results = await loop.run_in_executor(self.executor, _score, model, batch)
                except Exception:  # noqa: BLE001 - whatever failed, each request alone: one answer each
                    results = [await loop.run_in_executor(self.executor, _alone, model, item) for item in batch]
                for item, result in zip(batch, results):
                    if item.future.done():  # the client went away
                        continue
                    if isinstance(result, BaseException):
                        item.future.set_exception(result)
                    else:
                        item.future.set_result((result, model))
                self.stats.batch(len(batch), sum(len(i.frame) for i in batch))

    def _rows(self) -> int:
        return sum(len(i.frame) for i in self.pending)

    def _take(self) -> list[_Item]:
        """The waiting requests, oldest first, up to max_rows candidates (at least one request)."""
        taken: list[_Item] = []
        rows = 0
        while self.pending and (not taken or rows + len(self.pending[0].frame) <= self.max_rows):
            item = self.pending.pop(0)
            taken.append(item)
            rows += len(item.frame)
        return taken


def _score(model: Loaded, batch: list[_Item]) -> list[np.ndarray | BaseException]:
    """Score a batch in the worker thread: requests of one schema together; a failing group one by one."""
    results: dict[int, np.ndarray | BaseException] = {}  # by the request's place in the batch
    groups: dict[tuple, list[int]] = {}
    for i, item in enumerate(batch):
        groups.setdefault(item.key, []).append(i)
    for members in groups.values():
        frames = [batch[i].frame for i in members]
        try:
            scores = model.scorer.score(pl.concat(frames) if len(frames) > 1 else frames[0], "request")
        except Exception as e:  # noqa: BLE001 - which request is at fault is found below
            if len(members) == 1:
                results[members[0]] = _as_bad_request(e, model, frames[0])
                continue
            for i in members:
                try:
                    results[i] = model.scorer.score(batch[i].frame, "request")
                except Exception as e:  # noqa: BLE001
                    results[i] = _as_bad_request(e, model, batch[i].frame)
            continue
        at = 0
        for i in members:
            n = len(batch[i].frame)
            results[i], at = scores[at : at + n], at + n
    return [results[i] for i in range(len(batch))]


def _alone(model: Loaded, item: _Item) -> np.ndarray | BaseException:
    try:
        return _score(model, [item])[0]
    except Exception as e:  # noqa: BLE001 - the request's own failure, answered to it alone
        return _as_bad_request(e, model, item.frame)


def _as_bad_request(e: Exception, model: Loaded, frame: pl.DataFrame) -> BaseException:
    """A scoring error caused by the request's values as a 422 (a library's words go to the log, the client is
    told which value and what to send); anything else stays what it is (a 500)."""
    if isinstance(e, WdcliError):
        return BadRequest(422, str(e))
    if isinstance(e, (pl.exceptions.PolarsError, ValueError, TypeError, OverflowError)):
        log.warning("request: scoring failed: %s: %s", type(e).__name__, str(e)[:500])
        return BadRequest(422, unscorable(model.scorer, frame))
    return e


def unscorable(scorer: Scorer, frame: pl.DataFrame) -> str:
    """Why the model fails on a request's rows, in its values: the first row that fails alone, and in it the first
    column the model reads that, set missing, lets it be scored; else what each column the model reads takes."""
    reads = {c: i.reads for c, i in spec_inputs(scorer.spec).items() if c in frame.columns and i.reads in KINDS}
    if (at := _failing_row(scorer, frame)) is not None:
        row = frame[at : at + 1]
        for column, how in reads.items():
            if _scores(scorer, row.with_columns(pl.lit(None, dtype=row.schema[column]).alias(column))):
                value = repr(row[column][0])
                value = value if len(value) <= 60 else value[:57] + "..."
                return (
                    f"request: row {at + 1:,}: column '{column}' = {value} cannot be scored; send {KINDS[how][0]} "
                    "there (null for a missing value)"
                )
    kinds = "; ".join(f"'{c}': {KINDS[how][1]}" for c, how in reads.items())
    return f"request: the candidates cannot be scored (the server's log has the details); send {kinds}"


def _failing_row(scorer: Scorer, frame: pl.DataFrame) -> int | None:
    """The first row of a failing frame that fails alone, found by halving (about twice the rows scored again);
    None when each half is scored alone (the rows fail only together)."""
    lo, hi = 0, len(frame)  # frame[lo:hi] fails
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if not _scores(scorer, frame[lo:mid]):
            hi = mid
        elif not _scores(scorer, frame[mid:hi]):
            lo = mid
        else:
            return None
    return lo


def _scores(scorer: Scorer, frame: pl.DataFrame) -> bool:
    try:
        scorer.score(frame, "request")
    except Exception:  # noqa: BLE001 - whatever fails, the rows are not scored
        return False
    return True
