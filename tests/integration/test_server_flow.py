"""Flow control over a real server: latest frame wins, slow and vanished engines, stage overlap, shutdown."""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from bridge.protocol.errors import ErrorCode
from bridge.protocol.messages import Bye, Heartbeat, Result, Stats, Welcome
from bridge_harness import (
    color_of, decl, drain, expect_error, frame_header, picture, plane_desc, recv_until, roundtrip,
)

pytestmark = pytest.mark.timeout(60)


def _label(welcome: Welcome, engine: str) -> str:
    return f"{welcome.engine_id} ({engine})"


def _wait_for(predicate, timeout_s: float, step_s: float = 0.02) -> float | None:
    """Seconds until ``predicate()`` held, or None if it never did within ``timeout_s``."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if predicate():
            return time.monotonic() - t0
        time.sleep(step_s)
    return None


# ---------------------------------------------------------------- latest frame wins


def test_latest_frame_wins_when_the_engine_sends_faster_than_the_pipeline(server, make_client):
    client = make_client(server, engine="fast-sender", send_hwm=1000)
    client.connect([decl(0, "main", 640, 360, pipeline="default")])
    image = picture(360, 640, 4, seed=5)
    results: list[Result] = []
    arrivals: list[float] = []
    sent = 0
    t_end = time.monotonic() + 1.2
    while time.monotonic() < t_end:
        assert client.send_frame(0, sent, image, block=True)
        sent += 1
        deadline = time.monotonic() + 0.008
        while (left := deadline - time.monotonic()) > 0:
            msg = client.recv(left)
            if isinstance(msg, Result):
                results.append(msg)
                arrivals.append(time.monotonic())
            else:
                assert msg is None, msg
    t_last_send = time.monotonic()
    for msg in drain(client, quiet_s=1.0):
        assert isinstance(msg, Result), msg
        results.append(msg)
        arrivals.append(time.monotonic())

    indices = [r.index for r in results]
    assert all(a < b for a, b in zip(indices, indices[1:])), indices
    assert indices[-1] == sent - 1, "the newest frame must be the one answered last"
    assert sum(r.dropped for r in results) > 0
    assert len(results) < sent / 2, f"{len(results)} results for {sent} frames: nothing was dropped?"
    # every frame was either answered or counted as dropped in the next RESULT
    assert len(results) + sum(r.dropped for r in results) == sent
    # bounded: after the engine stops, at most the frame being processed and the one waiting come back
    late = [r for r, t in zip(results, arrivals) if t > t_last_send]
    assert len(late) <= 2, [r.index for r in late]
    # no queue: a frame waits at most for the one ahead of it
    for prev, cur in zip(results, results[1:]):
        waited_us = cur.server_us - cur.stage_us["stylize"]
        assert waited_us <= prev.stage_us["stylize"] + 100_000, (prev.stage_us, cur.server_us, cur.stage_us)

    (stats,) = client.stats(timeout_s=5).streams
    assert stats.frames_in == sent and stats.frames_out == len(results)
    assert stats.frames_in > stats.frames_out
    assert stats.dropped == sent - len(results)


# ---------------------------------------------------------------- slow and stalled engines


def _stall(raw, width: int, height: int, count: int, pace_s: float = 0.002) -> None:
    image = picture(height, width, 4, seed=8).tobytes()
    for index in range(count):
        raw.send(frame_header(0, index, [plane_desc("color", "RGBA8", width, height)]), image)
        time.sleep(pace_s)


def _hello_raw(raw, engine: str, width: int, height: int, pipeline: str = "passthrough") -> None:
    raw.send({"v": 1, "kind": "HELLO", "engine": engine,
              "streams": [decl(0, "stalled", width, height, pipeline=pipeline).to_wire()]})
    assert isinstance(raw.recv(10), Welcome)


def _recv_stats(raw) -> Stats:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        msg = raw.recv(1)
        if isinstance(msg, Stats):
            return msg
    raise AssertionError("no STATS report")


def test_stalled_engine_does_not_block_another_engine(server, make_client, make_raw):
    staller = make_raw(server, rcvhwm=1)
    _hello_raw(staller, "staller", 320, 240)
    good = make_client(server, engine="good")
    good.connect([decl(0, "main")])
    image = picture(seed=21)

    stall_thread = threading.Thread(target=_stall, args=(staller, 320, 240, 400), daemon=True)
    stall_thread.start()
    sent: dict[int, float] = {}
    latencies: list[float] = []
    index = 0
    t_end = time.monotonic() + 1.0
    while time.monotonic() < t_end:
        assert good.send_frame(0, index, image, block=True)
        sent[index] = time.monotonic()
        index += 1
        deadline = time.monotonic() + 0.005
        while (left := deadline - time.monotonic()) > 0:
            msg = good.recv(left)
            if isinstance(msg, Result):
                assert np.array_equal(color_of(msg), image)
                latencies.append(time.monotonic() - sent[msg.index])
            else:
                assert msg is None, msg
    stall_thread.join(10)
    for msg in drain(good, quiet_s=0.3):
        assert isinstance(msg, Result)
        latencies.append(time.monotonic() - sent[msg.index])
    assert not stall_thread.is_alive()
    assert len(latencies) >= 0.8 * len(sent), f"{len(latencies)} of {len(sent)} frames answered"
    assert statistics.median(latencies) < 0.1 and max(latencies) < 1.0, latencies
    # the stalled engine really was stalled: the server could not deliver most of its results
    (stats,) = next(v for k, v in server.stats_snapshot().items() if k.endswith("(staller)"))
    assert stats.frames_in == 400 and stats.dropped > 100


def test_results_lost_to_a_stalled_engine_are_reported_in_its_next_result(make_server, make_raw):
    server = make_server(send_hwm=1)
    staller = make_raw(server, rcvhwm=1)
    _hello_raw(staller, "staller", 320, 240)
    _stall(staller, 320, 240, 300)
    time.sleep(0.3)
    received = []
    while (msg := staller.recv(0.5)) is not None:
        assert isinstance(msg, Result), msg
        received.append(msg)
    staller.send(frame_header(0, 300, [plane_desc("color", "RGBA8", 320, 240)]), picture(240, 320, 4).tobytes())
    last = staller.recv(5)
    assert isinstance(last, Result) and last.index == 300
    received.append(last)
    assert len(received) < 100  # most results were lost to the full queue
    assert len(received) + sum(r.dropped for r in received) == 301


def test_stats_of_a_stalled_engine_count_each_frame_once(make_server, make_raw):
    server = make_server(send_hwm=1)
    staller = make_raw(server, rcvhwm=1)
    _hello_raw(staller, "staller", 320, 240)
    _stall(staller, 320, 240, 300)
    time.sleep(0.3)
    received = 0
    while (msg := staller.recv(0.5)) is not None:
        received += isinstance(msg, Result)
    staller.send({"v": 1, "kind": "STATS"})
    (stats,) = _recv_stats(staller).streams
    assert stats.frames_in == 300
    assert stats.frames_out == received
    assert stats.frames_out + stats.dropped == stats.frames_in


# ---------------------------------------------------------------- silence, heartbeats, vanishing


def test_silent_engines_are_expired_but_heartbeating_engines_are_kept(make_server, make_client):
    server = make_server(heartbeat_ms=50, timeout_ms=300)
    vanisher = make_client(server, engine="vanisher")
    silent = make_client(server, engine="silent")
    beater = make_client(server, engine="beater")
    labels = {}
    for name, client in (("vanisher", vanisher), ("silent", silent), ("beater", beater)):
        welcome = client.connect([decl(0, name)])
        assert (welcome.heartbeat_ms, welcome.timeout_ms) == (50, 300)
        roundtrip(client, 0, 0, picture())
        labels[name] = _label(welcome, name)
    assert set(labels.values()) <= set(server.stats_snapshot())

    vanisher.close(bye=False)  # gone without a word
    t_closed = time.monotonic()
    beats = 0
    gone_after = None
    while time.monotonic() - t_closed < 1.2:  # four timeouts
        beater.heartbeat()
        beats += 1
        time.sleep(0.04)
        if gone_after is None and labels["vanisher"] not in server.stats_snapshot():
            gone_after = time.monotonic() - t_closed
    assert gone_after is not None, "an engine that vanished was never freed"
    assert 0.2 <= gone_after <= 1.0, gone_after

    snapshot = server.stats_snapshot()
    assert labels["silent"] not in snapshot and labels["beater"] in snapshot
    replies = drain(beater, quiet_s=0.2)
    assert not [m for m in replies if isinstance(m, Bye)]
    assert sum(isinstance(m, Heartbeat) for m in replies) >= beats - 2
    assert np.array_equal(color_of(roundtrip(beater, 0, 1, picture(seed=3))), picture(seed=3))

    bye, _ = recv_until(silent, lambda m: isinstance(m, Bye), what="BYE after the timeout")
    assert bye.reason.startswith("timeout")
    silent.send_frame(0, 1, picture(), block=True)
    expect_error(silent, ErrorCode.NOT_WELCOMED)
    silent.connect([decl(0, "silent")])  # a new HELLO starts a new session
    assert roundtrip(silent, 0, 2, picture()).index == 2


def test_engine_that_vanishes_mid_stream_is_freed_without_waiting_for_the_timeout(make_server, make_client):
    server = make_server(timeout_ms=20_000)
    client = make_client(server, engine="leaver")
    welcome = client.connect([decl(0, "main", 640, 360, pipeline="default")])
    assert client.control(0, "stylize", {"process_long_side_px": 640}).ok  # a slow frame: ~100+ ms
    label = _label(welcome, "leaver")
    roundtrip(client, 0, 0, picture(360, 640, 4))
    client.send_frame(0, 1, picture(360, 640, 4), block=True)
    time.sleep(0.03)  # frame 1 has arrived and is being stylized
    client.close(bye=False)  # gone without a word: frame 1's RESULT has nowhere to go
    assert _wait_for(lambda: label not in server.stats_snapshot(), 5.0) is not None


# ---------------------------------------------------------------- stages overlap


OVERLAP_PIPELINE = """
name = "overlap"
description = "two stages of comparable cost, each on one core"

[[stage]]
type = "film_look"
[stage.params]
codec = "mpeg2"
quality = 12
grain = 0.35
fade = 0.5
chroma_bleed_px = 3.0
vignette = 0.4

[[stage]]
type = "stylize"
[stage.params]
threads = 1
process_long_side_px = 96
"""


def test_stages_of_a_pipeline_overlap(make_server, make_client, tmp_path: Path):
    path = tmp_path / "overlap.toml"
    path.write_text(OVERLAP_PIPELINE)
    server = make_server(pipelines={"overlap": str(path)})
    client = make_client(server, send_hwm=1000)
    welcome = client.connect([decl(0, "main", 640, 360, pipeline="overlap")])
    assert welcome.streams[0].stages == ["film_look", "stylize"]
    image = picture(360, 640, 4, seed=2)
    arrivals: list[tuple[float, Result]] = []
    index = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < 1.6:  # the engine offers more frames than the pipeline can take
        assert client.send_frame(0, index, image, block=True)
        index += 1
        deadline = time.monotonic() + 0.006
        while (left := deadline - time.monotonic()) > 0:
            msg = client.recv(left)
            if isinstance(msg, Result):
                arrivals.append((time.monotonic(), msg))
    steady = [(t, r) for t, r in arrivals if t - t0 > 0.4]
    assert len(steady) >= 20, f"only {len(steady)} results in the steady state"
    assert sum(r.dropped for _, r in arrivals) > 0, "the pipeline was not saturated"
    rate = (len(steady) - 1) / (steady[-1][0] - steady[0][0])
    stage_sum_s = statistics.mean(r.stage_us["film_look"] + r.stage_us["stylize"] for _, r in steady) / 1e6
    # one after the other, the stages could deliver at most 1/sum frames a second; overlapped, more
    assert rate * stage_sum_s > 1.25, f"{rate:.1f} results/s with {stage_sum_s * 1e3:.1f} ms of stage work each"


# ---------------------------------------------------------------- shutdown


def test_stop_while_engines_stream_says_bye_to_each_and_returns_quickly(make_server, make_client):
    server = make_server()
    engines = {"stylizing": ("default", 64, 64), "passing": ("passthrough", 64, 48)}
    clients = {name: make_client(server, engine=name) for name in engines}
    for name, (pipeline, w, h) in engines.items():
        clients[name].connect([decl(0, name, w, h, pipeline=pipeline)])
    byes: dict[str, str] = {}
    counts: dict[str, int] = {}
    started = threading.Barrier(len(engines) + 1)

    def stream(name: str) -> None:
        client = clients[name]
        _, w, h = engines[name]
        image = picture(h, w, 4)
        n = got = 0
        started.wait()
        t_end = time.monotonic() + 10
        while time.monotonic() < t_end:
            client.send_frame(0, n, image)
            n += 1
            msg = client.recv(0.005)
            got += isinstance(msg, Result)
            if isinstance(msg, Bye):
                byes[name] = msg.reason
                break
        counts[name] = got

    threads = [threading.Thread(target=stream, args=(name,), daemon=True) for name in engines]
    for t in threads:
        t.start()
    started.wait()
    time.sleep(0.5)
    t_stop = time.monotonic()
    server.stop(timeout_s=10)
    stop_s = time.monotonic() - t_stop
    for t in threads:
        t.join(12)
    assert stop_s < 3.0
    assert all(counts[name] > 5 for name in engines), counts  # they really were streaming
    assert byes == {name: "server shutting down" for name in engines}


def test_stop_waits_for_the_stage_threads_of_sessions_that_just_ended(make_server, make_client):
    server = make_server()
    client = make_client(server, engine="quitter")
    welcome = client.connect([decl(0, "main", 960, 540, pipeline="default")])
    assert client.control(0, "stylize", {"process_long_side_px": 960}).ok  # a slow frame: several 100 ms
    label = _label(welcome, "quitter")
    client.send_frame(0, 0, picture(540, 960, 4), block=True)
    # the server has the frame (and the idle stylize stage takes it at once)
    assert _wait_for(lambda: server.stats_snapshot()[label][0].frames_in == 1, 5.0, step_s=0.002) is not None
    client.close(bye=True)
    assert _wait_for(lambda: label not in server.stats_snapshot(), 5.0) is not None
    server.stop(timeout_s=10)
    alive = [t.name for t in threading.enumerate()
             if t.name.startswith(f"{welcome.engine_id}-") or t.name == "teardown"]
    assert alive == [], f"still running after stop(): {alive}"
