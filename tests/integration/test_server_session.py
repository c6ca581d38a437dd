"""A real BridgeServer and real engines over ZeroMQ: HELLO/WELCOME, FRAME/RESULT, STATS, HEARTBEAT, BYE."""

from __future__ import annotations

import time

import numpy as np
import pytest

from bridge.protocol.errors import ErrorCode
from bridge.protocol.messages import Bye, Heartbeat, Result, Stats, Welcome
from bridge_harness import (
    color_of, decl, drain, expect_error, expect_result, frame_header, mean_abs_diff, pack, picture, plane_desc,
    rgb_of, roundtrip,
)

pytestmark = pytest.mark.timeout(60)


def test_welcome_grants_every_stream_its_pipeline_and_announces_the_limits(make_server, make_client):
    server = make_server(heartbeat_ms=200, timeout_ms=3000, max_frame_bytes=5_000_000, default_pipeline="passthrough")
    client = make_client(server, session="take-07")
    welcome = client.connect([
        decl(0, "main", 64, 48, "RGBA8", pipeline="default"),
        decl(300, "overlay", 32, 24, "BGRA8", pipeline="aged_archive"),
        decl(5, "plain", 16, 16, "RGB8", pipeline=None),  # no pipeline: the server's default
    ])
    assert isinstance(welcome, Welcome)
    assert welcome.session == "take-07"
    assert welcome.engine_id and welcome.server.startswith("machinima-bridge")
    assert (welcome.heartbeat_ms, welcome.timeout_ms, welcome.max_frame_bytes) == (200, 3000, 5_000_000)
    grants = {g.id: g for g in welcome.streams}
    assert sorted(grants) == [0, 5, 300]
    assert (grants[0].pipeline, grants[0].stages) == ("default", ["stylize"])
    assert (grants[300].pipeline, grants[300].stages) == ("aged_archive", ["cadence", "film_look"])
    assert (grants[5].pipeline, grants[5].stages) == ("passthrough", ["passthrough"])
    assert (grants[0].width, grants[0].height, grants[0].color_format) == (64, 48, "RGBA8")
    assert (grants[300].width, grants[300].height, grants[300].color_format) == (32, 24, "BGRA8")
    assert (grants[5].width, grants[5].height, grants[5].color_format) == (16, 16, "RGB8")


@pytest.mark.parametrize("fmt", ["RGBA8", "BGRA8", "RGB8"])
def test_passthrough_returns_the_exact_bytes_with_index_and_capture_time(server, make_client, fmt):
    client = make_client(server)
    client.connect([decl(3, "cam", 64, 48, fmt)])
    channels = 3 if fmt == "RGB8" else 4
    for index, seed in ((7, 1), (8, 2)):
        image = picture(48, 64, channels, seed=seed)
        t_capture = 1_700_000_000_123_456_789 + index
        result = roundtrip(client, 3, index, image, color_format=fmt, t_capture_ns=t_capture)
        assert (result.stream, result.index, result.t_capture_ns) == (3, index, t_capture)
        assert len(result.planes) == 1
        d = result.planes[0].descriptor
        assert (d.kind, d.format, d.width, d.height) == ("color", fmt, 64, 48)
        out = color_of(result)
        assert out.shape == image.shape
        assert np.array_equal(out, image)  # every byte, alpha included
        assert set(result.stage_us) == {"passthrough"}
        assert result.server_us > 0
        assert result.dropped == 0 and result.held is False


def test_padded_stride_rgb8_plane_sent_as_raw_parts_is_read_by_its_stride(server, make_client):
    client = make_client(server)
    client.connect([decl(0, "cam", 64, 48, "RGB8", pipeline="passthrough"),
                    decl(1, "sty", 64, 48, "RGB8", pipeline="default")])
    image = picture(48, 64, 3, seed=4)
    stride = 64 * 3 + 13 * 3  # 13 pixels of padding per row
    padded = np.full((48, stride), 0xAB, np.uint8)  # garbage in the padding
    padded[:, : 64 * 3] = image.reshape(48, -1)
    planes = [plane_desc("color", "RGB8", 64, 48, stride)]

    client.send_raw([pack(frame_header(0, 1, planes, t_capture_ns=5)), padded.tobytes()])
    result = expect_result(client, 0, 1)
    assert np.array_equal(color_of(result), image)
    assert result.planes[0].descriptor.stride >= 64 * 3

    # the stylize stage must read the same picture from the padded plane as from a packed one
    client.send_raw([pack(frame_header(1, 1, planes, t_capture_ns=5)), padded.tobytes()])
    from_padded = color_of(expect_result(client, 1, 1))
    from_packed = color_of(roundtrip(client, 1, 2, image, color_format="RGB8"))
    assert from_padded.shape == (48, 64, 3)
    assert mean_abs_diff(from_padded, image) > 10  # really stylized
    assert np.abs(from_padded.astype(int) - from_packed.astype(int)).max() <= 2


def test_results_come_in_increasing_index_order_and_the_last_frame_is_answered(make_server, make_client):
    server = make_server(send_hwm=1000)  # no RESULT is lost to a full send queue here
    client = make_client(server, send_hwm=1000)
    client.connect([decl()])
    image = picture()
    sent = list(range(3, 3 + 2 * 60, 2))  # increasing, not contiguous
    for index in sent:
        assert client.send_frame(0, index, image, block=True)
    results = [m for m in drain(client, quiet_s=0.5) if isinstance(m, Result)]
    indices = [r.index for r in results]
    assert indices, "no RESULTs at all"
    assert all(a < b for a, b in zip(indices, indices[1:])), indices
    assert set(indices) <= set(sent)
    assert indices[-1] == sent[-1]
    assert len(results) + sum(r.dropped for r in results) == len(sent)  # every frame answered or counted


def test_default_pipeline_result_is_stylized_in_the_declared_format(server, make_client):
    client = make_client(server)
    client.connect([decl(0, "cam", 64, 64, "BGRA8", pipeline="default")])
    image = picture(64, 64, 4, seed=9)
    result = roundtrip(client, 0, 0, image, color_format="BGRA8")
    d = result.planes[0].descriptor
    assert (d.format, d.width, d.height) == ("BGRA8", 64, 64)
    out = color_of(result)
    assert mean_abs_diff(rgb_of(out, "BGRA8"), rgb_of(image, "BGRA8")) > 10
    assert np.all(out[..., 3] == 255)  # a stage replaced the picture: alpha 255
    assert set(result.stage_us) == {"stylize"} and result.stage_us["stylize"] > 0
    assert result.server_us >= result.stage_us["stylize"]


def test_stats_report_counts_grow_with_the_frames_of_this_engine(server, make_client):
    client = make_client(server)
    client.connect([decl(4, "cam")])
    image = picture()
    for i in range(5):
        roundtrip(client, 4, i, image)
    first = client.stats(timeout_s=5)
    assert isinstance(first, Stats) and first.streams is not None and first.t_ns is not None
    (s1,) = first.streams
    assert (s1.id, s1.name, s1.frames_in, s1.frames_out, s1.dropped) == (4, "cam", 5, 5, 0)
    assert s1.latency_ms_p50 > 0 and s1.latency_ms_p95 >= s1.latency_ms_p50
    assert "passthrough" in s1.stage_ms

    for i in range(5, 12):
        roundtrip(client, 4, i, image)
    (s2,) = client.stats(timeout_s=5).streams
    assert (s2.frames_in, s2.frames_out) == (12, 12)
    assert s2.fps_in > 0 and s2.fps_out > 0


def test_heartbeat_is_answered_before_and_after_hello(server, make_client, make_raw):
    raw = make_raw(server)
    raw.send({"v": 1, "kind": "HEARTBEAT", "t_ns": 42})
    reply = raw.recv(5)
    assert isinstance(reply, Heartbeat) and reply.t_ns > 0

    client = make_client(server)
    client.connect([decl()])
    reply = client.heartbeat(timeout_s=5)
    assert isinstance(reply, Heartbeat) and reply.t_ns >= 0


def test_bye_frees_the_streams_and_a_new_hello_starts_over(server, make_client):
    client = make_client(server, engine="bye-engine")
    welcome = client.connect([decl()])
    roundtrip(client, 0, 0, picture())
    label = f"{welcome.engine_id} (bye-engine)"
    assert label in server.stats_snapshot()

    client.send(Bye(reason="done"))
    client.send_frame(0, 1, picture(), block=True)
    err = expect_error(client, ErrorCode.NOT_WELCOMED)
    assert err.ref_kind == "FRAME" and "HELLO" in err.message
    assert label not in server.stats_snapshot()

    client.connect([decl(2, "again")])
    assert roundtrip(client, 2, 0, picture()).index == 0


def test_second_hello_replaces_the_streams_of_the_first(server, make_client):
    client = make_client(server, engine="re-hello")
    client.connect([decl(0, "first")])
    roundtrip(client, 0, 0, picture())
    welcome = client.connect([decl(7, "second", 32, 24)])
    assert [g.id for g in welcome.streams] == [7]

    client.send_frame(0, 1, picture(), block=True)
    err = expect_error(client, ErrorCode.UNKNOWN_STREAM)
    assert (err.stream, err.index) == (0, 1)
    assert "stream 0" in err.message and "7" in err.message

    small = picture(24, 32, 4, seed=3)
    assert np.array_equal(color_of(roundtrip(client, 7, 0, small)), small)  # index order starts over
    snapshot = server.stats_snapshot()
    ours = [streams for label, streams in snapshot.items() if label.endswith("(re-hello)")]
    assert len(ours) == 1 and [s.id for s in ours[0]] == [7]


def test_two_engines_with_the_same_stream_id_only_get_their_own_results(make_server, make_client):
    server = make_server(send_hwm=1000)
    a = make_client(server, engine="engine-a")
    b = make_client(server, engine="engine-b")
    a.connect([decl(0, "main")])
    b.connect([decl(0, "main")])
    pictures_a = {i: picture(seed=100 + i) for i in range(10)}
    pictures_b = {i: picture(seed=200 + i) for i in range(10)}
    for i in range(10):
        assert a.send_frame(0, i, pictures_a[i], block=True)
        assert b.send_frame(0, i, pictures_b[i], block=True)
        time.sleep(0.002)
    got_a = [m for m in drain(a, quiet_s=0.4) if isinstance(m, Result)]
    got_b = [m for m in drain(b, quiet_s=0.4) if isinstance(m, Result)]
    assert got_a and got_b
    for results, own in ((got_a, pictures_a), (got_b, pictures_b)):
        for r in results:
            assert np.array_equal(color_of(r), own[r.index]), f"RESULT {r.index} carries another engine's picture"
        assert len(results) + sum(r.dropped for r in results) == 10


def test_after_a_replacing_welcome_only_results_of_the_new_declaration_arrive(server, make_client):
    client = make_client(server, engine="switcher")
    welcome = client.connect([decl(0, "big", 960, 540, pipeline="default")])
    assert client.control(0, "stylize", {"process_long_side_px": 960}).ok  # a slow frame: several 100 ms
    label = f"{welcome.engine_id} (switcher)"
    assert client.send_frame(0, 100, picture(540, 960, 4), block=True)
    # wait until the server has the frame (the idle stylize stage takes it at once), without reading the socket
    deadline = time.monotonic() + 5
    while server.stats_snapshot()[label][0].frames_in < 1:
        assert time.monotonic() < deadline
        time.sleep(0.002)
    client.connect([decl(0, "small", 64, 48)])  # replaces the session; connect() discards what came before
    small = picture(seed=6)
    assert client.send_frame(0, 0, small, block=True)
    results = [m for m in drain(client, quiet_s=1.0, limit_s=8) if isinstance(m, Result)]
    assert [(r.index, r.planes[0].descriptor.width, r.planes[0].descriptor.height) for r in results] == [(0, 64, 48)]
