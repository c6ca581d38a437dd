"""Per-stream counters and rates for STATS replies and the progress line.

Updated from the I/O thread (frames in) and the last stage's thread (frames
out) under one small lock.  Recording is an append per frame (no trimming:
the time deques are bounded and cut to the rate window when a report is
asked for), because it sits on the path of every RESULT; the rates and
latency percentiles are computed only for a report.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np

from bridge.protocol.messages import StreamStats

_RATE_WINDOW_NS = 2_000_000_000
_LATENCY_SAMPLES = 512
_RATE_SAMPLES = 4096  # arrival times kept per direction: a 2 s window up to 2048 fps (above, the newest 4096)


class StreamStatsTracker:
    def __init__(self, stream_id: int, name: str) -> None:
        self.stream_id = stream_id
        self.name = name
        self._lock = threading.Lock()
        self.frames_in = 0
        self.frames_out = 0
        self._in_times: deque[int] = deque(maxlen=_RATE_SAMPLES)
        self._out_times: deque[int] = deque(maxlen=_RATE_SAMPLES)
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

    def record_out(self, server_us: int, stage_us: dict[str, int], now_ns: int | None = None) -> None:
        now_ns = time.monotonic_ns() if now_ns is None else now_ns
        with self._lock:
            self.frames_out += 1
            self._out_times.append(now_ns)
            self._server_us.append(server_us)
            for name, us in stage_us.items():
                self._stage_us_sum[name] = self._stage_us_sum.get(name, 0.0) + us
            self._stage_count += 1

    def retract_out(self, server_us: int, stage_us: dict[str, int]) -> None:
        """Undo the last ``record_out`` of this stream (its RESULT could not be sent after all).  The server
        records before sending, so that nothing but the send's own return is left to do once the picture is on
        its way; only the stream's one sending thread records and retracts, so the last entries are its own."""
        with self._lock:
            self.frames_out -= 1
            if self._out_times:
                self._out_times.pop()
            if self._server_us and self._server_us[-1] == server_us:
                self._server_us.pop()
            for name, us in stage_us.items():
                self._stage_us_sum[name] = self._stage_us_sum.get(name, 0.0) - us
            self._stage_count -= 1

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
