"""``bench mocap``: parse costs, relay latency, and markerless pose time.

* ``mvn_parse_us`` / ``vmc_parse_us``: ``mocap.parse_benchmark`` (each beside a bare-unpack baseline).
* ``relay_latency_ms_p50/p99`` (the issue's target: p99 under 2 ms on loopback with 4 performers at
  120 Hz and 4 engines): a bridge server in its own process, as in production, and ONE engine-side
  process holding four engine connections (four DEALER sockets, four HELLOs, four engines of one
  session, each with the ``mocap`` capability).  Engine k sends performer k's pose at 120 Hz; the
  four schedules are staggered by a quarter period, as independent sources would be.  Every engine
  receives the three other performers; latency is from the pose's capture time (``t_ns``, wall
  clock, stamped before the pose is built and encoded) to the receiving engine having parsed the
  MOCAP (``time.time_ns()`` right after ``parse_message``).  Two processes on this 2-core machine:
  what is measured is the relay (receive, check, fan out, send) and the loopback sockets, not the
  operating system's scheduling of five busy Python processes.
* ``relay_latency_ms_p50/p99_process_per_engine``: the same load with each engine in its own
  process (a server and four engine processes), as four separate game machines would be; on a
  2-core machine its tail is mostly the scheduler switching between five processes.  The engine
  loops wait in whole milliseconds rounded up (never spinning on a 0 ms poll).
* ``relay_server_cpu_us_per_pose`` (and ``..._process_per_engine``): CPU time of the server process
  (user + system, all its threads) during the run divided by the poses it received; every pose is
  checked once and sent to three engines.  Robust to other load on the machine, unlike latency.
* ``relay_check_us_full`` / ``relay_check_us_known_layout``: the server's door check of one received
  pose (21 bones), in full and with the performer's layout remembered (``MocapWireChecker``), side by
  side in one run, with their ratio ``relay_check_speedup``.
* ``relay_poses_sent/received/expected_received``: counts of the one-process run (received should be
  3 x sent, less the newest-wins replacements of a slow reader).
* ``webcam_pose_ms``: the markerless pose estimator per 640x480 frame, when its benchmark is present.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import zmq

from bridge.bench.server_process import BenchServerProcess

ENGINES = 4
RATE_HZ = 120.0
SESSION = "bench"
_START_DELAY_S = 3.0  # all engines connected before anyone sends
_WARM_UP_FRACTION = 0.05  # the first 5 % of the samples (connection warm-up) are not counted
_CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


class _MeasuredServerProcess(BenchServerProcess):
    """The benchmark server process, with its CPU time read from /proc (Linux)."""

    def cpu_s(self) -> float | None:
        child = getattr(self, "_child", None)  # BenchServerProcess keeps its subprocess.Popen here
        if child is None:
            return None
        try:
            with open(f"/proc/{child.pid}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS_PER_S  # utime + stime


def _pose_message(performer: str, i: int) -> Any:
    """A performer's MOCAP at frame ``i``, its capture time stamped now (before the pose is built and encoded)."""
    from bridge.protocol.messages import Mocap
    from mocap import quaternion as quat
    from mocap.pose_wire import pose_to_wire
    from mocap.skeleton import t_pose

    pose = t_pose(performer, time.time_ns(), source="bench")
    pose.bone_rotations["LeftUpperArm"] = quat.from_axis_angle(np.array([0.0, 0.0, 1.0]), 0.01 * i)
    fields, payload = pose_to_wire(pose)
    return Mocap(fields=fields, parts=[payload])


def _connect_engine(ctx: zmq.Context, endpoint: str, number: int, timeout_s: float = 30.0) -> zmq.Socket:
    """One engine: a DEALER socket that sent HELLO (with the ``mocap`` capability) and got its WELCOME."""
    from bridge.protocol.messages import Error, Hello, StreamDeclaration, Welcome, parse_message, serialize_message

    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.SNDHWM, 4)
    sock.setsockopt(zmq.RCVHWM, 64)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    hello = Hello(engine=f"bench-engine-{number}", client="bench mocap", session=SESSION, capabilities=["mocap"],
                  streams=[StreamDeclaration(0, "main", 16, 16, pipeline="passthrough")])
    sock.send_multipart(serialize_message(hello))
    deadline = time.monotonic() + timeout_s
    while (left_s := deadline - time.monotonic()) > 0:
        if not sock.poll(int(left_s * 1000) + 1, zmq.POLLIN):
            break
        reply = parse_message(sock.recv_multipart(copy=False))
        if isinstance(reply, Welcome):
            return sock
        if isinstance(reply, Error):
            sock.close(0)
            raise RuntimeError(f"bench engine {number}: HELLO refused: {reply.name}: {reply.message}")
    sock.close(0)
    raise RuntimeError(f"bench engine {number}: no WELCOME from {endpoint} within {timeout_s} s")


@dataclass
class _RelayRun:
    sent: int
    send_refused: int  # sends refused because an engine's queue to the server was full
    received: int  # poses the engines received (all of them, warm-up included)
    latencies_ms: np.ndarray  # after the warm-up
    server_cpu_s: float | None


def _cpu_delta_s(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


def _drive_engines_in_one_process(endpoint: str, duration_s: float,
                                  server_cpu_s: Callable[[], float | None] = lambda: None) -> _RelayRun:
    """Four engines on four sockets in this process: send on a staggered 120 Hz schedule, stamp on receipt.

    ``server_cpu_s`` is read when the first pose is due and after the last one: the server's CPU
    time over the sending window only (connecting and closing are not counted).
    """
    from bridge.protocol.messages import Bye, Mocap, parse_message, serialize_message

    ctx = zmq.Context()
    socks = [_connect_engine(ctx, endpoint, n) for n in range(ENGINES)]
    poller = zmq.Poller()
    for sock in socks:
        poller.register(sock, zmq.POLLIN)
    period_ns = int(1e9 / RATE_HZ)
    start_ns = time.monotonic_ns() + 200_000_000  # let the last WELCOME settle
    next_send_ns = [start_ns + k * period_ns // ENGINES for k in range(ENGINES)]
    stop_ns = start_ns + int(duration_s * 1e9)
    frames = [0] * ENGINES
    sent = refused = 0
    latencies_ms: list[float] = []
    time.sleep(max(0, start_ns - time.monotonic_ns()) / 1e9)
    cpu_before = server_cpu_s()
    try:
        while (now_ns := time.monotonic_ns()) < stop_ns:
            for k in range(ENGINES):
                if now_ns >= next_send_ns[k]:
                    try:
                        socks[k].send_multipart(serialize_message(_pose_message(f"performer-{k}", frames[k])),
                                                flags=zmq.NOBLOCK, copy=False)
                        sent += 1
                    except zmq.Again:
                        refused += 1
                    frames[k] += 1
                    next_send_ns[k] += period_ns
            wait_ms = math.ceil(max(0, min(next_send_ns) - time.monotonic_ns()) / 1e6)
            for sock, _ in poller.poll(wait_ms):
                while sock.poll(0, zmq.POLLIN):
                    msg = parse_message(sock.recv_multipart(copy=False))
                    if isinstance(msg, Mocap):
                        latencies_ms.append((time.time_ns() - msg.fields["t_ns"]) / 1e6)
        cpu_after = server_cpu_s()
    finally:
        for sock in socks:
            try:
                sock.send_multipart(serialize_message(Bye(reason="benchmark done")), flags=zmq.NOBLOCK)
            except zmq.ZMQError:
                pass
            sock.close(100)
        ctx.term()
    warm = np.asarray(latencies_ms[int(len(latencies_ms) * _WARM_UP_FRACTION):])
    return _RelayRun(sent, refused, len(latencies_ms), warm, _cpu_delta_s(cpu_before, cpu_after))


def _engine_process(endpoint: str, number: int, duration_s: float, start_at: float, out: Any) -> None:
    """One engine in its own process (the process-per-engine measurement)."""
    from bridge.client import BridgeClient
    from bridge.protocol.messages import Mocap, StreamDeclaration

    client = BridgeClient(endpoint, engine=f"bench-engine-{number}", session=SESSION)
    client.connect([StreamDeclaration(0, "main", 16, 16, pipeline="passthrough")], capabilities=["mocap"])
    latencies_ms: list[float] = []
    period = 1.0 / RATE_HZ
    while time.time() < start_at:
        time.sleep(0.001)
    next_send = time.monotonic()
    stop = next_send + duration_s
    i = sent = 0
    while time.monotonic() < stop:
        now = time.monotonic()
        if now >= next_send:
            sent += client.send(_pose_message(f"performer-{number}", i), block=False)
            i += 1
            next_send += period
        # wait whole milliseconds, rounded up (the client's poll takes integer ms: rounding down would spin
        # for the last millisecond of every period); a send up to 1 ms late does not change any latency
        wait_ms = math.ceil(max(0.0, next_send - time.monotonic()) * 1000)
        msg = client.recv(timeout_s=(wait_ms + 0.5) / 1000)
        while msg is not None:
            if isinstance(msg, Mocap):
                latencies_ms.append((time.time_ns() - msg.fields["t_ns"]) / 1e6)
            msg = client.recv(timeout_s=0)
    client.close()
    out.put((number, sent, i - sent, latencies_ms))


def _relay_run_one_process(duration_s: float) -> _RelayRun:
    server = _MeasuredServerProcess()
    with server as endpoints:
        return _drive_engines_in_one_process(endpoints["bridge"], duration_s, server.cpu_s)


def _relay_run_process_per_engine(duration_s: float) -> _RelayRun:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    server = _MeasuredServerProcess()
    with server as endpoints:
        start_at = time.time() + _START_DELAY_S
        procs = [ctx.Process(target=_engine_process, args=(endpoints["bridge"], n, duration_s, start_at, queue))
                 for n in range(ENGINES)]
        for p in procs:
            p.start()
        time.sleep(max(0.0, start_at - time.time()))
        cpu_before = server.cpu_s()
        results = [queue.get(timeout=duration_s + 60) for _ in procs]
        cpu_after = server.cpu_s()
        for p in procs:
            p.join(10)
    warm = [np.asarray(r[3][int(len(r[3]) * _WARM_UP_FRACTION):]) for r in results]
    return _RelayRun(sum(r[1] for r in results), sum(r[2] for r in results), sum(len(r[3]) for r in results),
                     np.concatenate(warm) if warm else np.zeros(0), _cpu_delta_s(cpu_before, cpu_after))


def _percentile_ms(latencies_ms: np.ndarray, q: float) -> float:
    return round(float(np.percentile(latencies_ms, q)), 3) if latencies_ms.size else -1.0


def _cpu_us_per_pose(run: _RelayRun) -> float | None:
    return None if run.server_cpu_s is None or not run.sent else round(run.server_cpu_s * 1e6 / run.sent, 1)


def measure_relay_latency(duration_s: float = 5.0, process_per_engine: bool = True) -> dict[str, Any]:
    """The relay figures (see the module docstring); ``process_per_engine=False`` skips the second run."""
    one = _relay_run_one_process(duration_s)
    out: dict[str, Any] = {
        "relay_latency_ms_p50": _percentile_ms(one.latencies_ms, 50),
        "relay_latency_ms_p99": _percentile_ms(one.latencies_ms, 99),
        "relay_server_cpu_us_per_pose": _cpu_us_per_pose(one),
        "relay_poses_sent": one.sent,
        "relay_poses_refused_by_full_queue": one.send_refused,
        "relay_poses_received": one.received,
        "relay_expected_received": one.sent * (ENGINES - 1),
    }
    if process_per_engine:
        per = _relay_run_process_per_engine(duration_s)
        out.update({
            "relay_latency_ms_p50_process_per_engine": _percentile_ms(per.latencies_ms, 50),
            "relay_latency_ms_p99_process_per_engine": _percentile_ms(per.latencies_ms, 99),
            "relay_server_cpu_us_per_pose_process_per_engine": _cpu_us_per_pose(per),
        })
    return out


def measure_wire_check_us(repeats: int = 3000) -> dict[str, float]:
    """The door check of one received pose: full, then with the layout remembered (best of 5 rounds each)."""
    from bridge.mocap_wire_check import MocapWireChecker, check_mocap_message
    from bridge.protocol.messages import parse_message, serialize_message

    msg = parse_message(serialize_message(_pose_message("performer-0", 1)))
    checker = MocapWireChecker()
    checker.check(msg)

    def best_us(check: Any) -> float:
        rounds = []
        for _ in range(5):
            start_ns = time.perf_counter_ns()
            for _ in range(repeats):
                check(msg)
            rounds.append((time.perf_counter_ns() - start_ns) / repeats / 1000)
        return min(rounds)

    full_us, known_us = best_us(check_mocap_message), best_us(checker.check)
    return {"relay_check_us_full": round(full_us, 2), "relay_check_us_known_layout": round(known_us, 2),
            "relay_check_speedup": round(full_us / known_us, 2)}


def run_mocap_bench(duration_s: float = 5.0) -> dict[str, Any]:
    from mocap.parse_benchmark import measure_parse_costs

    out: dict[str, Any] = dict(measure_parse_costs())
    out.update(measure_relay_latency(duration_s))
    out.update(measure_wire_check_us())
    try:
        from mocap.markerless.benchmark import measure_webcam_pose_ms  # the markerless estimator's own benchmark
    except ImportError:
        out["webcam_pose_ms"] = None
    else:
        out.update(measure_webcam_pose_ms())
    return out
