"""Stop requests while training: Ctrl-C or SIGTERM asks the loop to stop at a step's end (it then writes a
checkpoint and raises `Interrupted`); a second Ctrl-C stops at once."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

# a signal's handler, as signal.signal takes and returns it (typeshed's private signal._HANDLER)
Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


class StopRequests:
    """While training: the first Ctrl-C (or SIGTERM) asks the loop to stop after the current step, write a
    checkpoint and exit; a second Ctrl-C stops at once. Only in the main thread (where signals arrive)."""

    def __init__(self):
        self.signal: int | None = None
        self._old: dict[int, Handler] = {}

    def __enter__(self) -> StopRequests:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.signal is not None:
            raise KeyboardInterrupt
        self.signal = signum

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
