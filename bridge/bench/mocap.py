"""``bench mocap``: parse costs, relay latency, and markerless pose time.

* ``mvn_parse_us`` / ``vmc_parse_us``: ``mocap.parse_benchmark`` (each beside a bare-unpack baseline).
* ``relay_latency_ms_p50/p99``: a bridge server in its own process and four engine processes in one
  session, each driving one performer at 120 Hz and receiving the three others; latency is from the
  sender's capture time (``t_ns``, wall clock) to the receiving engine having parsed the MOCAP.
* ``webcam_pose_ms``: the markerless pose estimator per 640x480 frame, when its benchmark is present.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from typing import Any

import numpy as np

from bridge.bench.server_process import BenchServerProcess

ENGINES = 4
RATE_HZ = 120.0


def _engine_process(endpoint: str, number: int, duration_s: float, start_at: float, out: Any) -> None:
    from bridge.client import BridgeClient
    from bridge.protocol.messages import Mocap, StreamDeclaration
    from mocap import quaternion as quat
    from mocap.pose_wire import pose_to_wire
    from mocap.skeleton import t_pose

    client = BridgeClient(endpoint, engine=f"bench-engine-{number}", session="bench")
    client.connect([StreamDeclaration(0, "main", 16, 16, pipeline="passthrough")], capabilities=["mocap"])
    latencies_ms: list[float] = []
    period = 1.0 / RATE_HZ
    while time.time() < start_at:
        time.sleep(0.001)
    next_send = time.monotonic()
    stop = next_send + duration_s
    i = 0
    while time.monotonic() < stop:
        now = time.monotonic()
        if now >= next_send:
            pose = t_pose(f"performer-{number}", time.time_ns(), source="bench")
            pose.bone_rotations["LeftUpperArm"] = quat.from_axis_angle(np.array([0.0, 0.0, 1.0]), 0.01 * i)
            fields, payload = pose_to_wire(pose)
            client.send(Mocap(fields=fields, parts=[payload]), block=False)
            i += 1
            next_send += period
        msg = client.recv(timeout_s=max(0.0, next_send - time.monotonic()))
        while msg is not None:
            if isinstance(msg, Mocap):
                latencies_ms.append((time.time_ns() - msg.fields["t_ns"]) / 1e6)
            msg = client.recv(timeout_s=0)
    client.close()
    out.put((number, i, latencies_ms))


def measure_relay_latency(duration_s: float = 5.0) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    with BenchServerProcess() as endpoints:
        start_at = time.time() + 3.0  # all engines connected before anyone sends
        procs = [ctx.Process(target=_engine_process, args=(endpoints["bridge"], n, duration_s, start_at, queue))
                 for n in range(ENGINES)]
        for p in procs:
            p.start()
        results = [queue.get(timeout=duration_s + 60) for _ in procs]
        for p in procs:
            p.join(10)
    latencies = np.concatenate([np.asarray(r[2]) for r in results]) if results else np.zeros(0)
    sent = sum(r[1] for r in results)
    warm = latencies[len(latencies) // 20:] if latencies.size else latencies  # skip connection warm-up
    return {
        "relay_latency_ms_p50": round(float(np.percentile(warm, 50)), 3) if warm.size else -1.0,
        "relay_latency_ms_p99": round(float(np.percentile(warm, 99)), 3) if warm.size else -1.0,
        "relay_poses_sent": int(sent),
        "relay_poses_received": int(latencies.size),
        "relay_expected_received": int(sent * (ENGINES - 1)),
    }


def run_mocap_bench(duration_s: float = 5.0) -> dict[str, Any]:
    from mocap.parse_benchmark import measure_parse_costs

    out: dict[str, Any] = dict(measure_parse_costs())
    out.update(measure_relay_latency(duration_s))
    try:
        from mocap.markerless.benchmark import measure_webcam_pose_ms  # the markerless estimator's own benchmark
    except ImportError:
        out["webcam_pose_ms"] = None
    else:
        out.update(measure_webcam_pose_ms())
    return out
