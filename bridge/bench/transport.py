"""``bench transport``: the bridge's full round trip against a raw pyzmq round trip of the same bytes.

Bridge: client DEALER -> server ROUTER -> header parse and plane checks ->
mailbox -> passthrough stage thread -> RESULT -> ROUTER -> client, which
parses it.  Raw: the same FRAME bytes sent DEALER -> ROUTER and echoed back
by a thread, nothing parsed.  As in production the server runs in its own
process (the engine is another program); the raw echo runs in that same
process, and the round trips are interleaved (raw, bridge, threaded, then
the same rotated by one each iteration, so that no kind always follows
another) so drifts in machine load hit all equally.  Both paths release a
reply as soon as it is read.  The ratio of medians is the bridge's overhead.  ``passthrough`` does no work, so the bridge runs it on the
receiving thread; the ``threaded`` figures send the same frames through a
one-stage pipeline that runs on its own thread (``cadence`` passing every
frame), which is what every real pipeline pays: one thread hand-off each way.

Warm-up: engines stream continuously, so what counts is the steady state.
The first round trips of a size pay one-time costs on both paths (the C
allocator's first multi-megabyte buffers come from fresh pages until its
thresholds adapt, TCP windows grow, caches fill), and they fade over about a
second; each size is therefore warmed up for ``warmup_s`` (at least
``warmup`` round trips of each kind, interleaved like the measurement)
before ``iterations`` are measured.  Run to run, on an otherwise idle 2-core
machine, a size's ratio still varies by about ±0.05 (1280x720 the most).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import zmq

from bridge.bench.server_process import THREADED_PIPELINE, BenchServerProcess
from bridge.client import BridgeClient
from bridge.protocol.messages import Frame, Result, StreamDeclaration, serialize_message
from bridge.protocol.planes import Plane

DEFAULT_SIZES = ((256, 256), (512, 512), (1280, 720), (1920, 1080))


@dataclass
class TransportResult:
    width: int
    height: int
    bridge_rtt_ms_p50: float
    raw_rtt_ms_p50: float
    ratio: float
    bridge_rtt_ms_p99: float
    raw_rtt_ms_p99: float
    iterations: int
    threaded_rtt_ms_p50: float  # the same through a one-stage pipeline on its own thread (cadence, every frame)
    threaded_ratio: float


def _iterations_for(width: int, height: int, budget_s: float) -> int:
    mib = width * height * 4 / 2**20
    per_iter_s = 0.0004 + 0.0025 * mib  # rough loopback cost of both round trips
    return int(max(30, min(1500, budget_s / per_iter_s)))


def run_transport_bench(sizes=DEFAULT_SIZES, budget_s_per_size: float = 4.0, warmup: int = 20,
                        warmup_s: float = 1.5) -> list[TransportResult]:
    with BenchServerProcess() as endpoints:
        return measure_round_trips(endpoints["bridge"], endpoints["raw"], sizes, budget_s_per_size, warmup, warmup_s)


def _raw_round_trip(raw: zmq.Socket, parts: list, nbytes: int, *, index: int) -> None:
    raw.send_multipart(parts, copy=False)
    echoed = raw.recv_multipart(copy=False)
    assert len(echoed[1]) == nbytes  # and released at once, as the bridge path releases its RESULT


def _bridge_round_trip(client: BridgeClient, color: np.ndarray, stream: int, *, index: int) -> None:
    client.send_frame(stream, index, color, block=True)
    while True:
        msg = client.recv(timeout_s=10.0)
        if msg is None:
            raise RuntimeError(f"no RESULT for frame {index} of stream {stream} within 10 s")
        if isinstance(msg, Result) and msg.index == index and msg.stream == stream:
            return


def measure_round_trips(bridge_endpoint: str, raw_endpoint: str, sizes, budget_s_per_size: float,
             warmup: int, warmup_s: float = 1.5) -> list[TransportResult]:
    ctx = zmq.Context()
    raw = ctx.socket(zmq.DEALER)
    raw.setsockopt(zmq.LINGER, 0)
    raw.connect(raw_endpoint)
    results = []
    try:
        for width, height in sizes:
            client = BridgeClient(bridge_endpoint, engine="bench-transport", context=ctx)
            client.connect([
                StreamDeclaration(0, "bench", width, height, pipeline="passthrough"),
                StreamDeclaration(1, "bench-threaded", width, height, pipeline=THREADED_PIPELINE),
            ])
            color = np.random.default_rng(0).integers(0, 255, (height, width, 4), dtype=np.uint8)
            raw_parts = serialize_message(Frame(0, 0, 0, [Plane.from_array("color", "RGBA8", color)]))
            n = _iterations_for(width, height, budget_s_per_size)
            raw_ms: list[float] = []
            bridge_ms: list[float] = []
            threaded_ms: list[float] = []
            warm_until = time.perf_counter() + warmup_s
            i = 0
            while i < warmup or time.perf_counter() < warm_until:  # warm-up: the same interleaved round trips
                _raw_round_trip(raw, raw_parts, color.nbytes, index=i)
                _bridge_round_trip(client, color, 0, index=i)
                _bridge_round_trip(client, color, 1, index=i)
                i += 1
            first = i
            times_ms = {"raw": raw_ms, "bridge": bridge_ms, "threaded": threaded_ms}
            trips = [("raw", _raw_round_trip, (raw, raw_parts, color.nbytes)),
                     ("bridge", _bridge_round_trip, (client, color, 0)),
                     ("threaded", _bridge_round_trip, (client, color, 1))]
            for i in range(first, first + n):
                shift = i % len(trips)  # each kind goes first, second and third in turn: none always follows another
                for name, trip, args in trips[shift:] + trips[:shift]:
                    t0 = time.perf_counter_ns()
                    trip(*args, index=i)
                    times_ms[name].append((time.perf_counter_ns() - t0) / 1e6)
            client.close()
            b50, r50, t50 = float(np.median(bridge_ms)), float(np.median(raw_ms)), float(np.median(threaded_ms))
            results.append(TransportResult(
                width=width, height=height, bridge_rtt_ms_p50=round(b50, 4), raw_rtt_ms_p50=round(r50, 4),
                ratio=round(b50 / r50, 3), bridge_rtt_ms_p99=round(float(np.percentile(bridge_ms, 99)), 4),
                raw_rtt_ms_p99=round(float(np.percentile(raw_ms, 99)), 4), iterations=n,
                threaded_rtt_ms_p50=round(t50, 4), threaded_ratio=round(t50 / r50, 3),
            ))
    finally:
        raw.close(0)
        ctx.term()
    return results
