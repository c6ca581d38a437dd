"""Known header shapes over a real server and real ZeroMQ sockets.

Once a FRAME shape has been accepted, the server reads later frames of that shape from their header bytes
(``EngineSession.match_known_frame``) and the client reads RESULTs the same way (``BridgeClient._known_results``).
These tests check that the shortcut changes nothing an engine can see: a wrong part is still refused naming the
plane, hand-encoded (non-canonical) headers are still accepted, several streams, timecodes, padded strides and
camera frames interleave with known-shape frames and every picture comes back byte for byte, and every RESULT
the client returns equals what ``parse_message`` makes of the same parts.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from bridge.client import BridgeClient
from bridge.engine_session import EngineSession
from bridge.protocol.errors import ErrorCode
from bridge.protocol.header_codec import decode_header, encode_header
from bridge.protocol.messages import CameraInfo, Error, Frame, Result, parse_message, serialize_message
from bridge.protocol.planes import Plane, PlaneDescriptor
from bridge_harness import WAIT_S, color_of, decl, drain, expect_error, expect_result, frame_header, picture, plane_desc

pytestmark = pytest.mark.timeout(60)

IMAGE = picture(48, 64, 4, seed=21)
IMAGE_BYTES = IMAGE.tobytes()
COLOR = plane_desc("color", "RGBA8", 64, 48)
CAMERA = CameraInfo([1.0, 0, 0, 0.5, 0, 1.0, 0, 1.5, 0, 0, 1.0, -3.0, 0, 0, 0, 1.0], [60.0, 60.0, 32.0, 24.0],
                    0.05, 200.0)


def session_of(server: Any, engine: str) -> EngineSession:
    """The server's session of the engine called ``engine`` (to see which frame shapes it has learned)."""
    sessions = [s for s in list(server._sessions.values()) if s.hello.engine == engine]
    assert len(sessions) == 1, f"expected one session of {engine!r}, found {len(sessions)}"
    return sessions[0]


def hand_header(fields: dict[str, Any], raw: dict[str, bytes]) -> bytes:
    """A valid msgpack header with the values of ``raw``'s keys written as the given bytes (forms the canonical
    encoder never writes, e.g. a small index as uint32)."""
    out = bytes((0x80 | len(fields),)) + b"".join(
        encode_header(k) + (raw[k] if k in raw else encode_header(v)) for k, v in fields.items())
    assert out != encode_header(decode_header(out)), "the hand-made header must not be the canonical one"
    return out


def send_known_frames(client: BridgeClient, indices: range, image: np.ndarray = IMAGE, stream: int = 0) -> None:
    for index in indices:
        assert client.send_frame(stream, index, image, block=True)
        result = expect_result(client, stream, index)
        assert np.array_equal(color_of(result), image)


def assert_no_reply(client: BridgeClient) -> None:
    extra = [m for m in drain(client, quiet_s=0.1) if isinstance(m, (Error, Result))]
    assert not extra, f"exactly one answer expected, then also got {extra}"


def test_a_wrong_part_after_the_shape_is_known_is_refused_naming_the_plane(server, make_client):
    client = make_client(server, engine="short-part")
    client.connect([decl(0, "main")])
    send_known_frames(client, range(1, 6))
    session = session_of(server, "short-part")
    assert len(session.known_frames) == 1, "five canonical frames of one shape: the shape is known"
    n = len(IMAGE_BYTES)
    header = serialize_message(Frame(0, 6, 1234, [Plane.from_array("color", "RGBA8", IMAGE)]))[0]
    assert session.known_frames.match(bytes(header), [IMAGE_BYTES]) is not None, "this header has the known shape"

    client.send_raw([header, IMAGE_BYTES[:-1]])
    err = expect_error(client, ErrorCode.PLANE_MISMATCH)
    assert (err.ref_kind, err.stream, err.index) == ("FRAME", 0, 6)
    for words in ("planes[0]", "color", f"has {n - 1} bytes", f"needs {n}"):
        assert words in err.message, f"{err.message!r} does not say {words!r}"
    assert_no_reply(client)
    send_known_frames(client, range(7, 8))

    for index, body, words in ((8, [IMAGE_BYTES + b"\x00"], (f"has {n + 1} bytes", "color")),
                               (9, [], ("1 planes", "0 binary parts")),
                               (10, [IMAGE_BYTES, IMAGE_BYTES], ("1 planes", "2 binary parts"))):
        header = serialize_message(Frame(0, index, 1234, [Plane.from_array("color", "RGBA8", IMAGE)]))[0]
        client.send_raw([header, *body])
        err = expect_error(client, ErrorCode.PLANE_MISMATCH)
        assert (err.ref_kind, err.stream, err.index) == ("FRAME", 0, index)
        for word in words:
            assert word in err.message, f"{err.message!r} does not say {word!r}"
        assert_no_reply(client)
        send_known_frames(client, range(index + 100, index + 101))
    assert len(session.known_frames) == 1


def test_a_non_canonical_header_is_accepted_before_and_after_the_shape_is_known(server, make_client):
    client = make_client(server, engine="hand-encoder")
    client.connect([decl(0, "main")])
    session = session_of(server, "hand-encoder")

    def send_hand_made(index: int, raw: dict[str, bytes], t_capture_ns: int = 5_000, **extra: Any) -> Result:
        fields = frame_header(0, index, [COLOR], t_capture_ns=t_capture_ns, **extra)
        client.send_raw([hand_header(fields, raw), IMAGE_BYTES])
        result = expect_result(client, 0, index)
        assert result.t_capture_ns == t_capture_ns
        assert bytes(result.plane("color").data) == IMAGE_BYTES
        return result

    send_hand_made(7, {"index": b"\xce\x00\x00\x00\x07"})
    send_hand_made(8, {"index": b"\xcd\x00\x08", "t_capture_ns": b"\xcf" + (5_000).to_bytes(8, "big")})
    assert len(session.known_frames) == 0, "a shape is learned only from canonical bytes"

    send_known_frames(client, range(9, 14))
    assert len(session.known_frames) == 1

    send_hand_made(20, {"index": b"\xcd\x00\x14"})
    send_hand_made(21, {"index": b"\xd0\x15"})  # int8 form
    send_hand_made(22, {"t_capture_ns": b"\xce\x00\x00\x00\x05"}, t_capture_ns=5)
    tc = "01:02:03:04".encode()
    send_hand_made(23, {"timecode": b"\xd9" + bytes((len(tc),)) + tc}, timecode="01:02:03:04")  # str8 form
    # the canonical values in another key order: also not the known shape's bytes, still a valid FRAME
    fields = frame_header(0, 24, [COLOR], t_capture_ns=77)
    reordered = {k: fields[k] for k in ("v", "kind", "planes", "t_capture_ns", "index", "stream")}
    client.send_raw([encode_header(reordered), IMAGE_BYTES])
    assert expect_result(client, 0, 24).t_capture_ns == 77
    send_known_frames(client, range(25, 28))
    assert len(session.known_frames) == 1


def _padded_rgb8(width: int, height: int, stride: int, seed: int) -> tuple[PlaneDescriptor, bytes]:
    """An RGB8 colour plane with padded rows; the padding bytes carry a pattern that must come back too."""
    rows = np.zeros((height, stride), np.uint8)
    rows[:, :width * 3] = picture(height, width, 3, seed=seed).reshape(height, width * 3)
    rows[:, width * 3:] = np.arange(stride - width * 3, dtype=np.uint8) + 200
    return PlaneDescriptor("color", "RGB8", width, height, stride), rows.tobytes()


def test_streams_timecodes_and_padded_strides_interleaved_all_come_back_unchanged(server, make_client):
    client = make_client(server, engine="interleaver")
    client.connect([decl(0, "main"), decl(1, "side", 32, 24, "BGRA8", depth_format="F16", mask=True),
                    decl(2, "padded", 30, 20, "RGB8")])
    side = picture(24, 32, 4, seed=3)
    depth = np.linspace(0.25, 60.0, 24 * 32, dtype=np.float16).reshape(24, 32)
    mask = (np.arange(24 * 32) % 251).astype(np.uint8).reshape(24, 32)
    padded_desc, padded_bytes = _padded_rgb8(30, 20, 96, seed=4)
    for i in range(30):
        stream = i % 3
        index = 1000 + i
        timecode = f"00:00:{i // 25:02d}:{i % 25:02d}" if i % 4 in (1, 2) else None
        t_capture_ns = 10**12 + i * 33_333_333
        if stream == 0:
            sent, sent_desc = IMAGE_BYTES, PlaneDescriptor("color", "RGBA8", 64, 48, 256)
            assert client.send_frame(0, index, IMAGE, timecode=timecode, t_capture_ns=t_capture_ns, block=True)
        elif stream == 1:
            sent, sent_desc = side.tobytes(), PlaneDescriptor("color", "BGRA8", 32, 24, 128)
            assert client.send_frame(1, index, side, color_format="BGRA8", depth=depth, mask=mask,
                                     timecode=timecode, t_capture_ns=t_capture_ns, block=True)
        else:
            sent, sent_desc = padded_bytes, padded_desc
            frame = Frame(2, index, t_capture_ns, [Plane(padded_desc, padded_bytes)], timecode=timecode)
            client.send_raw(serialize_message(frame))
        result = expect_result(client, stream, index)
        assert (result.stream, result.index, result.t_capture_ns) == (stream, index, t_capture_ns), i
        assert [p.descriptor for p in result.planes] == [sent_desc], i
        assert bytes(memoryview(result.planes[0].data)) == sent, f"frame {i}: the picture changed on the way"
    assert len(session_of(server, "interleaver").known_frames) >= 2


def test_a_frame_with_a_camera_between_known_shape_frames_is_accepted(server, make_client):
    client = make_client(server, engine="camera-engine")
    client.connect([decl(0, "main")])
    send_known_frames(client, range(1, 5))
    session = session_of(server, "camera-engine")
    assert len(session.known_frames) == 1
    other = picture(48, 64, 4, seed=99)
    for index in range(5, 15):
        with_camera = index % 3 == 0
        image = other if with_camera else IMAGE
        assert client.send_frame(0, index, image, camera=CAMERA if with_camera else None,
                                 timecode="00:00:00:01" if index % 5 == 0 else None, block=True)
        result = expect_result(client, 0, index)
        assert np.array_equal(color_of(result), image), index
    assert len(session.known_frames) >= 1
    raw = serialize_message(Frame(0, 15, 1, [Plane.from_array("color", "RGBA8", IMAGE)]))[0]
    assert session.known_frames.match(bytes(raw), [IMAGE_BYTES]) is not None, "the camera-less shape is still known"


def test_every_result_the_client_reads_equals_the_full_parse_of_its_parts(server, make_client, monkeypatch):
    import bridge.client

    received: list[list[Any]] = []
    real_recv_parts = bridge.client.recv_parts

    def recording_recv_parts(sock: Any, flags: int = 0) -> list[Any]:
        parts = real_recv_parts(sock, flags)
        received.append(parts)
        return parts

    monkeypatch.setattr(bridge.client, "recv_parts", recording_recv_parts)
    client = make_client(server, engine="result-reader")
    client.connect([decl(0, "main"), decl(1, "small", 16, 8, "RGB8")])
    small = picture(8, 16, 3, seed=5)
    results = 0
    for i in range(40):
        stream = i % 2
        image = IMAGE if stream == 0 else small
        assert client.send_frame(stream, i, image, color_format="RGBA8" if stream == 0 else "RGB8", block=True)
        deadline = time.monotonic() + WAIT_S
        while True:
            assert time.monotonic() < deadline, f"no RESULT {stream}:{i} within {WAIT_S} s"
            before = len(received)
            msg = client.recv(0.5)
            if msg is None:
                continue
            assert len(received) == before + 1, "each message the client returns was read from the socket now"
            parts = received[-1]
            if not isinstance(msg, Result):
                assert not isinstance(msg, Error), msg
                continue
            full = parse_message(parts)
            assert isinstance(full, Result)
            assert msg.to_header() == full.to_header(), i
            assert [p.descriptor for p in msg.planes] == [p.descriptor for p in full.planes]
            assert [bytes(memoryview(p.data)) for p in msg.planes] == [bytes(memoryview(p.data)) for p in full.planes]
            assert bytes(parts[0]) == encode_header(full.to_header()), "the server sends canonical RESULT headers"
            results += 1
            if msg.index == i:
                assert np.array_equal(color_of(msg), image)
                break
        if i == 0:
            assert len(client._known_results) == 1, "the first RESULT's shape is learned"
        if i >= 1:  # both streams' RESULT shapes seen: every later RESULT takes the known-shape path
            assert client._known_results.match(bytes(parts[0]), parts[1:]) is not None, i
    assert results >= 40
    assert len(client._known_results) == 2
