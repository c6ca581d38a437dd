"""Logging that cannot flood: at most a few lines per cause per interval.

A misbehaving engine that sends thousands of bad frames a second must not turn
the server's log (or its disk) into the bottleneck; the first few occurrences
of each cause are logged, the rest are counted and summarised.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Hashable


class RateLimitedLog:
    def __init__(self, logger: logging.Logger, burst: int = 5, interval_s: float = 10.0) -> None:
        self._logger = logger
        self._burst = burst
        self._interval_ns = int(interval_s * 1e9)
        self._lock = threading.Lock()
        self._windows: dict[Hashable, list[int]] = {}  # key -> [window start, count in window]

    def allow(self, key: Hashable) -> bool:
        """True when a line for ``key`` may be logged now; summarises what was suppressed."""
        now = time.monotonic_ns()
        with self._lock:
            window = self._windows.get(key)
            if window is None or now - window[0] > self._interval_ns:
                suppressed = 0 if window is None else max(0, window[1] - self._burst)
                self._windows[key] = [now, 1]
                if len(self._windows) > 10_000:  # bounded memory under a storm of distinct keys
                    self._windows.clear()
                    self._windows[key] = [now, 1]
                if suppressed:
                    self._logger.warning("%d similar messages suppressed (%r)", suppressed, key)
                return True
            window[1] += 1
            return window[1] <= self._burst

    def warning(self, key: Hashable, msg: str, *args: Any) -> None:
        if self.allow(key):
            self._logger.warning(msg, *args)
