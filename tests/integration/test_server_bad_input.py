"""Malformed and refused input: every case gets the right ERROR (or rejected CONTROL_ACK), and the server keeps
serving both the engine that misbehaved and a well-behaved engine beside it."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import msgpack
import numpy as np
import pytest

from bridge.client import BridgeClient, BridgeClientError
from bridge.protocol.errors import ErrorCode
from bridge.protocol.messages import ControlAck, Error, Result
from bridge_harness import (
    ack_of, color_of, decl, drain, expect_error, frame_header, mean_abs_diff, pack, picture, plane_desc, recv_until,
    roundtrip,
)

pytestmark = pytest.mark.timeout(60)

MAX_FRAME_BYTES = 100_000
COLOR = plane_desc("color", "RGBA8", 64, 48)
IMAGE = picture(48, 64, 4, seed=11)
IMAGE_BYTES = IMAGE.tobytes()


@dataclass
class Pair:
    server: Any
    bad: BridgeClient
    good: BridgeClient
    indices: Any

    def next_index(self) -> int:
        return next(self.indices)

    def assert_both_served(self, bad_stream: int = 0) -> None:
        """The misbehaving engine and the good one both still get exact RESULTs."""
        for client, stream in ((self.bad, bad_stream), (self.good, 0)):
            index = self.next_index()
            result = roundtrip(client, stream, index, IMAGE)
            assert np.array_equal(color_of(result), IMAGE)


@pytest.fixture
def pair(make_server, make_client) -> Pair:
    server = make_server(max_frame_bytes=MAX_FRAME_BYTES)
    bad = make_client(server, engine="bad-engine", send_hwm=1000)
    good = make_client(server, engine="good-engine")
    bad.connect([decl(0, "main"), decl(1, "big", 200, 150)])
    good.connect([decl(0, "main")])
    p = Pair(server, bad, good, itertools.count(1000))
    p.assert_both_served()
    return p


def _hb(**extra: Any) -> dict[str, Any]:
    return {"v": 1, "kind": "HEARTBEAT", "t_ns": 5, **extra}


# (parts, expected code, words the message must contain, expected (ref_kind, stream, index) or None to skip)
RAW_CASES: dict[str, tuple[Callable[[], list[Any]], ErrorCode, tuple[str, ...], tuple | None]] = {
    "not msgpack": (lambda: [b"\xc1\xc1 this is not msgpack"], ErrorCode.MALFORMED_HEADER, ("msgpack",), None),
    "empty header": (lambda: [b""], ErrorCode.MALFORMED_HEADER, ("empty",), None),
    "truncated msgpack": (lambda: [pack(_hb())[:-3]], ErrorCode.MALFORMED_HEADER, ("msgpack",), None),
    "msgpack array, not a map": (lambda: [msgpack.packb([1, "FRAME", 3])], ErrorCode.MALFORMED_HEADER,
                                 ("map", "list"), None),
    "bytes after the map": (lambda: [pack(_hb()) + b"\x00"], ErrorCode.MALFORMED_HEADER, ("after",), None),
    "integer map key": (lambda: [msgpack.packb({"v": 1, "kind": "HEARTBEAT", "t_ns": 5, 7: 1})],
                        ErrorCode.MALFORMED_HEADER, ("key",), None),
    "no version": (lambda: [pack({"kind": "HEARTBEAT", "t_ns": 5})], ErrorCode.MALFORMED_HEADER, ("'v'",), None),
    "version 2": (lambda: [pack({**_hb(), "v": 2})], ErrorCode.BAD_VERSION, ("2",), None),
    "version as a string": (lambda: [pack({**_hb(), "v": "1"})], ErrorCode.BAD_VERSION, ("integer",), None),
    "unknown kind": (lambda: [pack({"v": 1, "kind": "TELEPORT"})], ErrorCode.UNKNOWN_KIND, ("TELEPORT",), None),
    "FRAME without index": (
        lambda: [pack({"v": 1, "kind": "FRAME", "stream": 0, "t_capture_ns": 1, "planes": [COLOR]}), IMAGE_BYTES],
        ErrorCode.BAD_FIELD, ("FRAME.index", "missing"), ("FRAME", None, None)),
    "FRAME index as a float": (
        lambda: [pack(frame_header(0, 3.0, [COLOR])), IMAGE_BYTES], ErrorCode.BAD_FIELD, ("index", "integer"), None),
    "nil timecode": (
        lambda: [pack(frame_header(0, 3, [COLOR], timecode=None)), IMAGE_BYTES], ErrorCode.BAD_FIELD,
        ("timecode",), None),
    "FRAME for an undeclared stream": (
        lambda: [pack(frame_header(9, 77, [COLOR])), IMAGE_BYTES], ErrorCode.UNKNOWN_STREAM,
        ("stream 9",), ("FRAME", 9, 77)),
    "plane one byte short": (
        lambda: [pack(frame_header(0, 78, [COLOR])), IMAGE_BYTES[:-1]], ErrorCode.PLANE_MISMATCH,
        (str(len(IMAGE_BYTES) - 1), str(len(IMAGE_BYTES))), ("FRAME", 0, 78)),
    "plane part missing": (
        lambda: [pack(frame_header(0, 79, [COLOR]))], ErrorCode.PLANE_MISMATCH, ("1 planes", "0 binary parts"),
        ("FRAME", 0, 79)),
    "plane narrower than declared": (
        lambda: [pack(frame_header(0, 80, [plane_desc("color", "RGBA8", 32, 48)])), IMAGE[:, :32].tobytes()],
        ErrorCode.PLANE_MISMATCH, ("32x48", "64x48"), ("FRAME", 0, 80)),
    "colour format differs from the declaration": (
        lambda: [pack(frame_header(0, 81, [plane_desc("color", "BGRA8", 64, 48)])), IMAGE_BYTES],
        ErrorCode.PLANE_MISMATCH, ("BGRA8", "RGBA8"), ("FRAME", 0, 81)),
    "depth plane on a stream without depth": (
        lambda: [pack(frame_header(0, 82, [COLOR, plane_desc("depth", "F32", 64, 48)])), IMAGE_BYTES,
                 np.ones((48, 64), "<f4").tobytes()],
        ErrorCode.PLANE_MISMATCH, ("depth",), ("FRAME", 0, 82)),
    "mask plane on a stream without mask": (
        lambda: [pack(frame_header(0, 83, [COLOR, plane_desc("mask", "U8", 64, 48)])), IMAGE_BYTES,
                 np.full((48, 64), 255, np.uint8).tobytes()],
        ErrorCode.PLANE_MISMATCH, ("mask",), ("FRAME", 0, 83)),
    "no colour plane": (
        lambda: [pack(frame_header(0, 84, [plane_desc("mask", "U8", 64, 48)])), np.zeros((48, 64), np.uint8).tobytes()],
        ErrorCode.PLANE_MISMATCH, ("color",), ("FRAME", 0, 84)),
    "colour plane repeated": (
        lambda: [pack(frame_header(0, 85, [COLOR, COLOR])), IMAGE_BYTES, IMAGE_BYTES],
        ErrorCode.PLANE_MISMATCH, ("repeats",), ("FRAME", 0, 85)),
    "five planes": (
        lambda: [pack(frame_header(0, 86, [COLOR] * 5))] + [IMAGE_BYTES] * 5,
        ErrorCode.LIMIT_EXCEEDED, ("planes", "5"), None),
    "parts after a HEARTBEAT": (lambda: [pack(_hb()), b"junk"], ErrorCode.PLANE_MISMATCH, ("HEARTBEAT",), None),
    "message above max_frame_bytes": (
        lambda: [pack(frame_header(1, 87, [plane_desc("color", "RGBA8", 200, 150)])),
                 np.zeros(200 * 150 * 4, np.uint8).tobytes()],
        ErrorCode.FRAME_TOO_LARGE, (str(MAX_FRAME_BYTES),), ("FRAME", 1, 87)),
    "HELLO with a duplicate stream id": (
        lambda: [pack({"v": 1, "kind": "HELLO", "engine": "x",
                       "streams": [decl(3).to_wire(), decl(3, "other").to_wire()]})],
        ErrorCode.BAD_FIELD, ("twice",), ("HELLO", None, None)),
    "WELCOME sent by an engine": (
        lambda: [pack({"v": 1, "kind": "WELCOME", "server": "s", "engine_id": "e", "session": "x", "streams": [],
                       "heartbeat_ms": 1000, "timeout_ms": 5000, "max_frame_bytes": 100})],
        ErrorCode.UNSUPPORTED, ("WELCOME",), ("WELCOME", None, None)),
    "CONTROL_ACK sent by an engine": (
        lambda: [pack({"v": 1, "kind": "CONTROL_ACK", "request_id": 1, "ok": True, "applied": {}})],
        ErrorCode.UNSUPPORTED, ("CONTROL_ACK",), ("CONTROL_ACK", None, None)),
    "RESULT sent by an engine": (
        lambda: [pack({"v": 1, "kind": "RESULT", "stream": 0, "index": 1, "t_capture_ns": 1, "planes": [COLOR],
                       "stage_us": {}, "server_us": 1, "dropped": 0, "held": False}), IMAGE_BYTES],
        ErrorCode.UNSUPPORTED, ("RESULT",), ("RESULT", None, None)),
    "CONTROL param that is a map": (
        lambda: [pack({"v": 1, "kind": "CONTROL", "request_id": 1, "stream": 0, "stage": "passthrough",
                       "params": {"x": {"nested": 1}}})],
        ErrorCode.BAD_PARAM_VALUE, ("params.x",), ("CONTROL", None, None)),
}


@pytest.mark.parametrize("case", list(RAW_CASES))
def test_bad_message_gets_the_right_error_and_both_engines_keep_being_served(pair, case):
    build, code, words, where = RAW_CASES[case]
    pair.bad.send_raw(build())
    err = expect_error(pair.bad, code)
    for word in words:
        assert word in err.message, f"{err.message!r} does not name {word!r}"
    if where is not None:
        assert (err.ref_kind, err.stream, err.index) == where
    assert not [m for m in drain(pair.bad, quiet_s=0.05) if isinstance(m, (Error, Result))]  # exactly one answer
    if case.startswith("HELLO"):
        # whether a refused replacement HELLO keeps the old session is not pinned here (protocol 7.2 vs 7.8)
        pair.bad.connect([decl(0, "main"), decl(1, "big", 200, 150)])
    pair.assert_both_served()


def test_error_message_from_an_engine_is_not_answered(pair):
    pair.bad.send_raw([pack({"v": 1, "kind": "ERROR", "code": 1, "name": "MALFORMED_HEADER", "message": "oops"})])
    assert drain(pair.bad, quiet_s=0.2) == []
    pair.assert_both_served()


def test_plane_descriptor_errors_name_the_frame_they_are_about(pair):
    pair.bad.send_raw([pack(frame_header(0, 90, [plane_desc("color", "RGBA8", 64, 48, stride=100)])), b"\x00" * 4800])
    err = expect_error(pair.bad, ErrorCode.PLANE_MISMATCH)
    assert "stride" in err.message
    assert (err.ref_kind, err.stream, err.index) == ("FRAME", 0, 90)


def test_oversized_message_of_another_kind_is_not_reported_as_a_frame(pair):
    pair.bad.send_raw([pack(_hb()), b"\x00" * (MAX_FRAME_BYTES + 1)])
    err = expect_error(pair.bad, ErrorCode.FRAME_TOO_LARGE)
    assert err.ref_kind == "HEARTBEAT"


def test_frame_before_hello_is_not_welcomed_then_hello_works(pair, make_raw):
    raw = make_raw(pair.server)
    raw.send(frame_header(0, 1, [COLOR]), IMAGE_BYTES)
    err = raw.recv(5)
    assert isinstance(err, Error) and err.code == ErrorCode.NOT_WELCOMED and err.name == "NOT_WELCOMED"
    assert err.ref_kind == "FRAME" and "HELLO" in err.message
    for kind, extra in (("CONTROL", {"request_id": 1, "stream": 0, "stage": "passthrough", "params": {}}),
                        ("STATS", {})):
        raw.send({"v": 1, "kind": kind, **extra})
        err = raw.recv(5)
        assert isinstance(err, Error) and err.code == ErrorCode.NOT_WELCOMED and err.ref_kind == kind
    raw.send({"v": 1, "kind": "HELLO", "engine": "late", "streams": [decl().to_wire()]})
    assert type(raw.recv(5)).__name__ == "Welcome"
    raw.send(frame_header(0, 2, [COLOR]), IMAGE_BYTES)
    result = raw.recv(5)
    assert isinstance(result, Result) and result.index == 2 and np.array_equal(color_of(result), IMAGE)
    pair.assert_both_served()


def test_hello_asking_for_an_unknown_pipeline_is_refused_and_keeps_the_previous_session(pair):
    with pytest.raises(BridgeClientError) as info:
        pair.bad.connect([decl(0, "main"), decl(4, "odd", pipeline="no-such-look")])
    err = info.value.error
    assert err is not None and err.code == ErrorCode.BAD_FIELD and err.name == "BAD_FIELD"
    assert "no-such-look" in err.message and "stream 4" in err.message and "passthrough" in err.message
    assert (err.ref_kind, err.stream) == ("HELLO", 4)
    # protocol 7.2: a HELLO refused at once leaves the previous session as it was
    pair.assert_both_served()


def test_control_before_welcome_and_for_unknown_stream(pair):
    ack = ack_of(pair.bad, 42, "passthrough", {})
    assert ack.ok is False and ack.code == ErrorCode.UNKNOWN_STREAM and "42" in (ack.reason or "")
    assert ack.applied == {}
    pair.assert_both_served()


# ---------------------------------------------------------------- CONTROL rejected with CONTROL_ACK


@pytest.fixture
def styled(pair) -> Pair:
    pair.bad.connect([decl(0, "main"), decl(2, "sty", 64, 48, pipeline="default")])
    return pair


def _stylized_amount(pair: Pair) -> float:
    result = roundtrip(pair.bad, 2, pair.next_index(), IMAGE)
    return mean_abs_diff(color_of(result)[..., :3], IMAGE[..., :3])


def _rejected(ack: ControlAck, code: ErrorCode, *words: str) -> None:
    assert isinstance(ack, ControlAck) and ack.ok is False, ack
    assert ack.code == int(code), f"expected {code.name}, got {ack}"
    assert ack.applied == {}
    for word in words:
        assert word in (ack.reason or ""), f"{ack.reason!r} does not name {word!r}"


def test_control_for_an_unknown_stage_is_rejected(styled):
    _rejected(ack_of(styled.bad, 2, "film_look", {"grain": 0.5}), ErrorCode.UNKNOWN_STAGE, "film_look", "stylize")
    styled.assert_both_served()


def test_control_with_an_unknown_parameter_is_rejected(styled):
    _rejected(ack_of(styled.bad, 2, "stylize", {"sharpness": 0.5}), ErrorCode.UNKNOWN_PARAM, "sharpness", "strength")
    styled.assert_both_served()


def test_out_of_range_value_is_rejected_and_the_old_value_kept(styled):
    assert _stylized_amount(styled) > 10
    ok = ack_of(styled.bad, 2, "stylize", {"strength": 0.0})
    assert ok.ok and ok.applied == {"strength": 0.0}
    assert _stylized_amount(styled) == 0.0  # strength 0: the engine's picture exactly
    _rejected(ack_of(styled.bad, 2, "stylize", {"strength": 3.0}), ErrorCode.BAD_PARAM_VALUE, "strength", "3.0")
    _rejected(ack_of(styled.bad, 2, "stylize", {"strength": "high"}), ErrorCode.BAD_PARAM_VALUE, "strength")
    assert _stylized_amount(styled) == 0.0  # still 0: the rejected values changed nothing
    styled.assert_both_served()


def test_update_is_all_or_nothing(styled):
    _rejected(ack_of(styled.bad, 2, "stylize", {"strength": 0.0, "no_such": 1}), ErrorCode.UNKNOWN_PARAM, "no_such")
    _rejected(ack_of(styled.bad, 2, "stylize", {"strength": 0.0, "process_long_side_px": 1}),
              ErrorCode.BAD_PARAM_VALUE, "process_long_side_px")
    assert _stylized_amount(styled) > 10  # strength 0.0 was not applied


def test_setup_only_parameter_is_rejected_live(styled):
    _rejected(ack_of(styled.bad, 2, "stylize", {"threads": 1}), ErrorCode.BAD_PARAM_VALUE, "threads", "pipeline")
    _rejected(ack_of(styled.bad, 2, "stylize", {"providers": "cpu"}), ErrorCode.BAD_PARAM_VALUE, "providers")
    assert _stylized_amount(styled) > 10
    styled.assert_both_served()


# ---------------------------------------------------------------- pipelines that fail


def test_pipeline_that_cannot_start_is_refused_with_pipeline_failed(pair):
    with pytest.raises(BridgeClientError) as info:
        pair.bad.connect([decl(0, "main"), decl(6, "actor", 64, 48, pipeline="uncanny")])  # uncanny needs a mask
    err = info.value.error
    assert err is not None and err.code == ErrorCode.PIPELINE_FAILED and err.name == "PIPELINE_FAILED"
    assert "composite" in err.message and "mask" in err.message and "uncanny" in err.message
    assert (err.ref_kind, err.stream) == ("HELLO", 6)
    pair.good.send_frame(0, pair.next_index(), IMAGE, block=True)
    assert isinstance(recv_until(pair.good, lambda m: isinstance(m, Result))[0], Result)
    pair.bad.connect([decl(0, "main"), decl(6, "actor", 64, 48, pipeline="uncanny", mask=True)])
    pair.assert_both_served()


def test_uncanny_paints_the_actor_through_the_mask_and_a_frame_without_mask_comes_back_untouched(pair):
    pair.bad.connect([decl(0, "main"), decl(6, "actor", 64, 48, pipeline="uncanny", mask=True)])
    mask = np.zeros((48, 64), np.uint8)
    mask[18:30, 26:38] = 255  # feather_px 3 softens the edge by a few pixels
    t0 = 10_000_000_000
    # capture times 1 s apart, so the 8 fps cadence gives every frame a new picture
    assert pair.bad.send_frame(6, 1, IMAGE, mask=mask, t_capture_ns=t0, block=True)
    result, seen = recv_until(pair.bad, lambda m: isinstance(m, Result) and m.stream == 6)
    assert not [m for m in seen if isinstance(m, Error)], seen
    assert result.index == 1 and result.held is False
    assert set(result.stage_us) == {"cadence", "stylize", "composite"}
    out = color_of(result)
    assert np.array_equal(out[0:5, :, :3], IMAGE[0:5, :, :3])  # the set far from the actor is untouched
    assert np.array_equal(out[:, 0:12, :3], IMAGE[:, 0:12, :3])
    assert mean_abs_diff(out[20:28, 28:36, :3], IMAGE[20:28, 28:36, :3]) > 10  # the actor is painted
    # a FRAME may leave its declared mask out (protocol 7.3): no actor, the engine's picture comes back
    assert pair.bad.send_frame(6, 2, IMAGE, t_capture_ns=t0 + 1_000_000_000, block=True)
    result, seen = recv_until(pair.bad, lambda m: isinstance(m, Result) and m.stream == 6)
    assert not [m for m in seen if isinstance(m, Error)], seen
    assert result.index == 2 and result.held is False
    assert np.array_equal(color_of(result)[..., :3], IMAGE[..., :3])
    pair.assert_both_served()


# ---------------------------------------------------------------- a flood


def test_flood_of_garbage_does_not_stop_another_engines_stream(pair, make_raw):
    flooder = make_raw(pair.server, rcvhwm=10_000)
    flooder.send({"v": 1, "kind": "HELLO", "engine": "flooder", "streams": [decl().to_wire()]})
    assert type(flooder.recv(5)).__name__ == "Welcome"

    good = pair.good
    sent: dict[int, float] = {}
    got: dict[int, float] = {}
    errors: list[Error] = []
    stop = threading.Event()
    first_index = pair.next_index()

    def stream_good() -> None:
        index = first_index
        while not stop.is_set():
            if good.send_frame(0, index, IMAGE, block=True):
                sent[index] = time.monotonic()
            index += 1
            deadline = time.monotonic() + 0.005
            while (left := deadline - time.monotonic()) > 0:
                msg = good.recv(left)
                if isinstance(msg, Result):
                    got[msg.index] = time.monotonic()
                elif isinstance(msg, Error):
                    errors.append(msg)

    garbage = [
        [b"\xc1 not msgpack"],
        [pack({"v": 7, "kind": "FRAME"})],
        [pack({"v": 1, "kind": "NOPE"})],
        [pack(frame_header(0, 1, [COLOR])), IMAGE_BYTES[:-5]],
        [pack(frame_header(5, 1, [COLOR])), IMAGE_BYTES],
        [pack({"v": 1, "kind": "CONTROL_ACK", "request_id": 1, "ok": True, "applied": {}})],
        [pack(_hb()), b"\x00" * (MAX_FRAME_BYTES + 1)],
    ]
    thread = threading.Thread(target=stream_good, daemon=True)
    thread.start()
    try:
        time.sleep(0.2)
        flood_start = time.monotonic()
        for i in range(500):
            flooder.sock.send_multipart(garbage[i % len(garbage)], copy=True)
        flood_sent = time.monotonic()
        answers = []
        while len(answers) < 500 and (msg := flooder.recv(0.5)) is not None:
            answers.append(msg)
        flood_end = time.monotonic()
        time.sleep(0.3)
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    assert not errors, errors
    # errors to an engine that does not read are dropped once its queue is full (never blocking the server)
    assert len(answers) >= 50 and all(isinstance(m, Error) for m in answers)
    assert {m.code for m in answers} <= {1, 2, 3, 6, 7, 8, 14}
    answered = [i for i in sent if i in got]
    assert len(answered) >= 0.9 * len(sent), f"{len(answered)} of {len(sent)} good frames answered"
    latencies = [got[i] - sent[i] for i in answered]
    assert max(latencies) < 0.5, f"good engine's frames waited up to {max(latencies):.3f} s"
    during = [t for t in got.values() if flood_start <= t <= flood_end]
    after = [t for t in got.values() if t > flood_end]
    if flood_end - flood_start > 0.05:
        assert during, "the good engine got nothing while the flood was handled"
    assert len(after) >= 10, "the good engine's stream did not go on after the flood"
    assert flood_sent >= flood_start
    # the flooder itself is still served
    flooder.send(frame_header(0, 10_000, [COLOR]), IMAGE_BYTES)
    result = flooder.recv(5)
    assert isinstance(result, Result) and result.index == 10_000
