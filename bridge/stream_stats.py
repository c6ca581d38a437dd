"""Per-stream counters and rates for STATS replies and the progress line.

Updated from the I/O thread (frames in) and the last stage's thread (frames
out) under one small lock; everything is O(1) per frame except the latency
percentiles, computed only when a report is asked for.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np

from bridge.protocol.messages import StreamStats

_RATE_WINDOW_NS = 2_000_000_000
_LATENCY_SAMPLES = 512


class StreamStatsTracker:
    def __init__(self, stream_id: int, name: str) -> None:
        self.stream_id = stream_id
        self.name = name
        self._lock = threading.Lock()
        self.frames_in = 0
        self.frames_out = 0
        self._in_times: deque[int] = deque()
        self._out_times: deque[int] = deque()
        self._server_us: deque[int] = deque(maxlen=_LATENCY_SAMPLES)
        self._stage_us_sum: dict[str, float] = {}
        self._stage_count = 0

    @staticmethod
    def _trim(times: deque[int], now_ns: int) -> None:
        while times and now_ns - times[0] > _RATE_WINDOW_NS:
            times.popleft()

    def record_in(self, now_ns: int | None = None) -> None:
        now_ns = time.monotonic_ns() if now_ns is None else now_ns
        with self._lock:
            self.frames_in += 1
            self._in_times.append(now_ns)
            self._trim(self._in_times, now_ns)

    def record_out(self, server_us: int, stage_us: dict[str, int], now_ns: int | None = None) -> None:
        now_ns = time.monotonic_ns() if now_ns is None else now_ns
        with self._lock:
            self.frames_out += 1
            self._out_times.append(now_ns)
            self._trim(self._out_times, now_ns)
            self._server_us.append(server_us)
            for name, us in stage_us.items():
                self._stage_us_sum[name] = self._stage_us_sum.get(name, 0.0) + us
            self._stage_count += 1

    @staticmethod
    def _rate(times: deque[int], now_ns: int) -> float:
        if len(times) < 2:
            return 0.0
        span = max(now_ns - times[0], times[-1] - times[0])
        return (len(times) - 1) * 1e9 / span if span > 0 else 0.0

    def snapshot(self, dropped: int, now_ns: int | None = None) -> StreamStats:
        now_ns = time.monotonic_ns() if now_ns is None else now_ns
        with self._lock:
            self._trim(self._in_times, now_ns)
            self._trim(self._out_times, now_ns)
            lat = np.asarray(self._server_us, dtype=np.float64) / 1000.0
            p50, p95 = (float(np.percentile(lat, 50)), float(np.percentile(lat, 95))) if lat.size else (0.0, 0.0)
            n = max(self._stage_count, 1)
            return StreamStats(
                id=self.stream_id,
                name=self.name,
                frames_in=self.frames_in,
                frames_out=self.frames_out,
                dropped=dropped,
                fps_in=self._rate(self._in_times, now_ns),
                fps_out=self._rate(self._out_times, now_ns),
                latency_ms_p50=p50,
                latency_ms_p95=p95,
                stage_ms={k: v / n / 1000.0 for k, v in self._stage_us_sum.items()},
            )
