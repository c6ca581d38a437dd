"""Protocol v1 messages: round trips, zero-copy planes, validation and the errors it names."""

from __future__ import annotations

import struct

import msgpack
import numpy as np
import pytest

from bridge.protocol import (
    Bye,
    CameraInfo,
    Control,
    ControlAck,
    Error,
    ErrorCode,
    Frame,
    Heartbeat,
    Hello,
    Mocap,
    Plane,
    PlaneDescriptor,
    ProtocolError,
    Result,
    Stats,
    StreamDeclaration,
    StreamGrant,
    StreamStats,
    Welcome,
    decode_header,
    encode_header,
    parse_message,
    serialize_message,
)
from bridge.protocol.header_codec import MAX_HEADER_BYTES, MAX_STRING_CHARS

MAX_U63 = 2**63 - 1


def wire(msg) -> list[bytes]:
    """The parts as another process would receive them (fresh bytes objects)."""
    return [bytes(memoryview(p)) for p in serialize_message(msg)]


def round_trip(msg):
    parts = wire(msg)
    back = parse_message(parts)
    assert type(back) is type(msg)
    assert wire(back) == parts, "re-encoding a parsed message must give the same bytes"
    return back


def reject(parts, code: ErrorCode) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        parse_message(parts)
    assert info.value.code == code, info.value.message
    return info.value


def header_parts(header: dict, *planes: bytes) -> list[bytes]:
    return [msgpack.packb(header, use_bin_type=True), *planes]


def frame_header(**changes) -> dict:
    header = {"v": 1, "kind": "FRAME", "stream": 0, "index": 1, "t_capture_ns": 5,
              "planes": [{"kind": "color", "format": "RGBA8", "width": 2, "height": 2, "stride": 8}]}
    header.update(changes)
    return header


COLOR_2x2 = bytes(range(16))


def hello_header(**changes) -> dict:
    header = {"v": 1, "kind": "HELLO", "engine": "e",
              "streams": [{"id": 0, "name": "s", "width": 8, "height": 8, "color_format": "RGBA8"}]}
    header.update(changes)
    return header


def stream(i: int, **kw) -> StreamDeclaration:
    return StreamDeclaration(id=i, name=f"s{i}", width=kw.pop("width", 64), height=kw.pop("height", 32), **kw)


# --------------------------------------------------------------------------- round trips


def test_hello_round_trip_with_edge_values():
    streams = [
        stream(0, width=1, height=1, color_format="RGB8", fps=0.001),
        stream(65535, width=16384, height=16384, color_format="BGRA8", depth_format="F16", mask=True, fps=1000.0,
               pipeline="p" * MAX_STRING_CHARS),
    ] + [stream(i, depth_format="F32", pipeline="stylize") for i in range(1, 15)]
    assert len(streams) == 16
    msg = Hello(engine="", streams=streams, client="ü" * MAX_STRING_CHARS, session="take 1",
                capabilities=["depth", "mask"], heartbeat_ms=10)
    assert round_trip(msg) == msg
    msg.heartbeat_ms = 600000
    msg.streams = []
    assert round_trip(msg) == msg


def test_hello_defaults_fill_optional_fields():
    back = parse_message(header_parts(hello_header()))
    assert (back.client, back.session, back.capabilities, back.heartbeat_ms) == ("unknown", "default", [], 1000)
    s = back.streams[0]
    assert (s.depth_format, s.mask, s.fps, s.pipeline) == (None, False, 30.0, None)
    # defaults that senders always write come back explicitly; absent optionals stay absent
    wire_stream = back.to_header()["streams"][0]
    assert wire_stream["mask"] is False and wire_stream["fps"] == 30.0
    assert "depth_format" not in wire_stream and "pipeline" not in wire_stream


def test_welcome_round_trip():
    msg = Welcome(
        server="machinima-bridge/0.1.0", engine_id="engine-7", session="s",
        streams=[StreamGrant(0, "stylize", ["depth_prep", "style", "cadence"], 1920, 1080, "RGBA8"),
                 StreamGrant(65535, "passthrough", [], 1, 1, "BGRA8")],
        heartbeat_ms=1, timeout_ms=2**31, max_frame_bytes=2**40,
    )
    assert round_trip(msg) == msg


def test_frame_round_trip_with_all_planes_and_camera():
    color = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    depth = np.array([[0.5, 1.0, 2.0], [np.inf, 65504.0, 0.0]], dtype="<f2")
    mask = np.array([[0, 255, 128], [1, 2, 3]], dtype=np.uint8)
    camera = CameraInfo([float(i) for i in range(16)], [1000.0, 1000.0, 959.5, 539.5], 0.01, 1e6)
    msg = Frame(stream=65535, index=MAX_U63, t_capture_ns=MAX_U63, timecode="23:59:59:29",
                planes=[Plane.from_array("color", "RGBA8", color), Plane.from_array("depth", "F16", depth),
                        Plane.from_array("mask", "U8", mask)], camera=camera)
    back = round_trip(msg)
    assert back == msg
    assert np.array_equal(back.plane("color").array(), color)
    assert np.array_equal(back.plane("depth").array(), depth)
    assert np.array_equal(back.plane("mask").array(), mask)
    assert back.camera == camera


def test_frame_round_trip_minimal():
    msg = Frame(stream=0, index=0, t_capture_ns=0,
                planes=[Plane.from_array("color", "RGB8", np.zeros((1, 1, 3), np.uint8))])
    back = round_trip(msg)
    assert back == msg
    assert "timecode" not in back.to_header() and "camera" not in back.to_header()


def test_result_round_trip():
    color = np.full((4, 2, 4), 7, dtype=np.uint8)
    msg = Result(stream=3, index=10, t_capture_ns=123, planes=[Plane.from_array("color", "BGRA8", color)],
                 stage_us={"style": 0, "cadence": 2**40}, server_us=0, dropped=2**32, held=True)
    assert round_trip(msg) == msg
    empty = Result(stream=3, index=11, t_capture_ns=124, planes=[])
    assert round_trip(empty) == empty


@pytest.mark.parametrize("glide", [None, 0.0, 250.5, 600000.0])
def test_control_round_trip(glide):
    msg = Control(request_id=MAX_U63, stream=65535, stage="style",
                  params={"f": -0.5, "i": -(2**63), "u": 2**64 - 1, "b": False, "s": "", "a": [1.0, 2, -3.5],
                          "empty": []},
                  glide_ms=glide)
    back = round_trip(msg)
    assert back == msg
    assert back.params["i"] == -(2**63) and type(back.params["a"][1]) is int  # ints stay ints


def test_control_ack_round_trip():
    ok = ControlAck(request_id=0, ok=True, applied={"strength": 0.75, "tint": [1.0, 0.5, 0.0]})
    assert round_trip(ok) == ok
    rejected = ControlAck(request_id=9, ok=False, code=int(ErrorCode.UNKNOWN_STAGE), reason="no stage 'x'")
    back = round_trip(rejected)
    assert back == rejected
    assert back.to_header()["applied"] == {}


def test_stats_round_trip():
    request = Stats()
    assert round_trip(request) == request
    assert request.to_header() == {"v": 1, "kind": "STATS"}
    report = Stats(t_ns=MAX_U63, streams=[
        StreamStats(0, "main", 10, 9, 1, 29.97, 28.0, 20.5, 33.0, {"style": 8.5, "cadence": 0.0}),
        StreamStats(1, "b", 0, 0, 0, 0.0, 0.0, 0.0, 0.0),
    ])
    assert round_trip(report) == report


def test_error_round_trip_and_from_exception():
    exc = ProtocolError(ErrorCode.PLANE_MISMATCH, "bad plane", kind="FRAME", stream=2, index=MAX_U63)
    msg = Error.from_exception(exc)
    assert (msg.code, msg.name, msg.ref_kind, msg.stream, msg.index) == (7, "PLANE_MISMATCH", "FRAME", 2, MAX_U63)
    assert round_trip(msg) == msg
    bare = Error(code=16, name="TIMEOUT", message="")
    assert round_trip(bare) == bare
    assert set(bare.to_header()) == {"v", "kind", "code", "name", "message"}


@pytest.mark.parametrize("t_ns", [0, 1, MAX_U63])
def test_heartbeat_round_trip(t_ns):
    assert round_trip(Heartbeat(t_ns)) == Heartbeat(t_ns)


def test_bye_round_trip():
    assert round_trip(Bye()) == Bye()
    assert round_trip(Bye("fermé ✓")) == Bye("fermé ✓")
    assert parse_message(header_parts({"v": 1, "kind": "BYE"})) == Bye("")


def test_mocap_carries_fields_and_parts_through():
    msg = Mocap(fields={"rig": "actor-1", "joints": [1.0, 2.0]}, parts=[b"\x00\x01", b"abc"])
    parts = wire(msg)
    assert len(parts) == 3
    back = parse_message(parts)
    assert back.fields == msg.fields and [bytes(p) for p in back.parts] == msg.parts
    assert wire(back) == parts


# --------------------------------------------------------------------------- canonical encoding


def test_encoding_is_canonical():
    data = encode_header({"v": 1, "kind": "X", "i": 300, "neg": -1, "f": 1.0, "s": "a" * 40, "b": True})
    assert data == (b"\x87\xa1v\x01\xa4kind\xa1X"
                    b"\xa1i\xcd\x01\x2c"  # 300: uint16, smallest form
                    b"\xa3neg\xff"  # -1: negative fixint
                    b"\xa1f\xcb" + struct.pack(">d", 1.0) +  # float64 even when float32 would do
                    b"\xa1s\xd9\x28" + b"a" * 40 +  # str8
                    b"\xa1b\xc3")


def test_receivers_accept_non_canonical_numbers_and_senders_canonicalise():
    header = hello_header(heartbeat_ms=500)
    header["streams"][0]["fps"] = 24  # integer for a float field
    parts = header_parts(header)
    back = parse_message(parts)
    assert back.streams[0].fps == 24.0 and type(back.streams[0].fps) is float
    assert b"\xa3fps\xcb" + struct.pack(">d", 24.0) in wire(back)[0]

    as_float32 = msgpack.packb({"v": 1, "kind": "CONTROL", "request_id": 1, "stream": 0, "stage": "s",
                                "params": {}, "glide_ms": 0.5}, use_single_float=True)
    assert b"\xca" in as_float32
    control = parse_message([as_float32])
    assert control.glide_ms == 0.5
    assert b"\xca" not in wire(control)[0] and b"\xcb" in wire(control)[0]

    wide_int = b"\x83\xa1v\xcc\x01\xa4kind\xa9HEARTBEAT\xa4t_ns\xcf" + (5).to_bytes(8, "big")
    assert parse_message([wide_int]) == Heartbeat(5)
    assert wire(Heartbeat(5))[0] == b"\x83\xa1v\x01\xa4kind\xa9HEARTBEAT\xa4t_ns\x05"


# --------------------------------------------------------------------------- planes: zero copy, stride, depth


def test_plane_array_shares_memory_with_the_received_buffer():
    buffer = bytearray(COLOR_2x2)
    frame = parse_message([msgpack.packb(frame_header()), buffer])
    array = frame.plane("color").array()
    assert np.shares_memory(array, np.frombuffer(buffer, dtype=np.uint8))
    buffer[0] = 200
    assert array[0, 0, 0] == 200


def test_plane_array_shares_memory_with_zmq_frames():
    zmq = pytest.importorskip("zmq")
    ctx = zmq.Context()
    a = ctx.socket(zmq.PAIR)
    b = ctx.socket(zmq.PAIR)
    try:
        a.bind("inproc://protocol-zero-copy")
        b.connect("inproc://protocol-zero-copy")
        depth = np.linspace(0.0, 10.0, 64 * 32, dtype="<f4").reshape(32, 64)
        color = np.zeros((32, 64, 4), np.uint8)
        sent = Frame(stream=0, index=1, t_capture_ns=2,
                     planes=[Plane.from_array("color", "RGBA8", color), Plane.from_array("depth", "F32", depth)])
        a.send_multipart(serialize_message(sent), copy=False)
        assert b.poll(5000), "nothing arrived"
        received = b.recv_multipart(copy=False)
        frame = parse_message(received)
        got = frame.plane("depth").array()
        assert np.shares_memory(got, np.frombuffer(received[2].buffer, dtype=np.uint8))
        assert np.array_equal(got, depth)
    finally:
        a.close(0)
        b.close(0)
        ctx.term()


def test_serialize_does_not_copy_plane_arrays():
    color = np.zeros((2, 2, 4), np.uint8)
    parts = serialize_message(Frame(stream=0, index=0, t_capture_ns=0,
                                    planes=[Plane.from_array("color", "RGBA8", color)]))
    assert np.shares_memory(np.frombuffer(parts[1], dtype=np.uint8), color)
    # a non-contiguous array is packed once into a new buffer
    strided = np.zeros((2, 4, 4), np.uint8)[:, ::2]
    plane = Plane.from_array("color", "RGBA8", strided)
    assert not np.shares_memory(np.frombuffer(plane.data, dtype=np.uint8), strided)
    assert plane.descriptor.stride == 8


def test_padded_stride_view():
    width, height, stride = 3, 2, 16  # 12 pixel bytes + 4 padding bytes per row
    buffer = bytearray(b"\xee" * stride * height)
    for y in range(height):
        buffer[y * stride:y * stride + 12] = bytes(range(y * 12, y * 12 + 12))
    header = frame_header(planes=[{"kind": "color", "format": "RGBA8", "width": width, "height": height,
                                   "stride": stride}])
    frame = parse_message([msgpack.packb(header), buffer])
    view = frame.plane("color").array()
    assert view.shape == (2, 3, 4) and view.strides == (16, 4, 1)
    assert view[1, 0].tolist() == [12, 13, 14, 15]
    assert 0xEE not in view
    assert np.shares_memory(view, np.frombuffer(buffer, dtype=np.uint8))
    view[1, 2, 3] = 99
    assert buffer[16 + 11] == 99 and buffer[16 + 12] == 0xEE


@pytest.mark.parametrize("fmt,dtype,code", [("F16", "<f2", "e"), ("F32", "<f4", "f")])
def test_depth_planes_are_little_endian_floats(fmt, dtype, code):
    values = [0.25, 1.5, 3.0, 1000.0, 0.0, float("inf")]
    data = struct.pack("<6" + code, *values)
    header = frame_header(planes=[
        {"kind": "color", "format": "RGBA8", "width": 3, "height": 2, "stride": 12},
        {"kind": "depth", "format": fmt, "width": 3, "height": 2, "stride": 3 * np.dtype(dtype).itemsize},
    ])
    frame = parse_message([msgpack.packb(header), bytes(24), data])
    depth = frame.plane("depth").array()
    assert depth.dtype == np.dtype(dtype)
    assert depth.tolist() == [values[:3], values[3:]]


def test_padded_float_depth_view():
    data = struct.pack("<2f", 1.0, 2.0) + b"\x00" * 8 + struct.pack("<2f", 3.0, 4.0) + b"\x00" * 8
    desc = PlaneDescriptor("depth", "F32", 2, 2, 16)
    desc.validate()
    view = desc.view(data)
    assert view.strides == (16, 4) and view.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_plane_descriptor_rules():
    with pytest.raises(ProtocolError) as info:
        PlaneDescriptor("depth", "F32", 2, 2, 10).validate("planes[1]")
    assert info.value.code == ErrorCode.PLANE_MISMATCH and "planes[1].stride 10" in info.value.message
    with pytest.raises(ProtocolError) as info:
        PlaneDescriptor("color", "RGBA8", 2, 2, 16).view(bytes(31))
    assert info.value.code == ErrorCode.PLANE_MISMATCH
    with pytest.raises(ValueError):
        Plane.from_array("depth", "F16", np.zeros((2, 2), np.float32))
    PlaneDescriptor("mask", "U8", 16384, 1, 16384).validate()
    for width in (0, 16385):
        with pytest.raises(ProtocolError) as info:
            PlaneDescriptor("mask", "U8", width, 1, 16385).validate()
        assert info.value.code == ErrorCode.LIMIT_EXCEEDED


# --------------------------------------------------------------------------- errors name the field


@pytest.mark.parametrize("header,text", [
    (frame_header(index=None), "FRAME.index is missing"),
    (frame_header(stream="0"), "FRAME.stream must be a"),
    (frame_header(stream=65536), "FRAME.stream = 65536 is outside 0..65535"),
    (frame_header(index=-1), "FRAME.index = -1 is outside"),
    (frame_header(timecode=5), "FRAME.timecode must be a string"),
    (frame_header(camera={"world_from_camera": [1.0] * 15, "intrinsics_px": [1.0] * 4, "near_m": 0.1,
                          "far_m": 10.0}), "FRAME.camera.world_from_camera must be an array of 16 numbers"),
    (frame_header(camera={"world_from_camera": [1.0] * 16, "intrinsics_px": [1.0] * 4, "near_m": 0.1}),
     "FRAME.camera.far_m is missing"),
    (hello_header(engine=None), "HELLO.engine is missing"),
    (hello_header(streams=[{"id": 0, "name": "s", "width": 0, "height": 8, "color_format": "RGBA8"}]),
     "streams[0].width = 0 is outside 1..16384"),
    (hello_header(streams=[{"id": 0, "name": "s", "width": 8, "height": 8, "color_format": "RGBA8",
                            "depth_format": "U8"}]), "streams[0].depth_format 'U8'"),
    (hello_header(streams=[{"id": 0, "name": "s", "width": 8, "height": 8, "color_format": "F32"}]),
     "streams[0].color_format 'F32'"),
    (hello_header(streams=[{"id": 0, "name": "s", "width": 8, "height": 8, "color_format": "RGBA8", "fps": 0}]),
     "streams[0].fps"),
    (hello_header(heartbeat_ms=9), "HELLO.heartbeat_ms = 9 is outside 10..600000"),
    ({"v": 1, "kind": "CONTROL", "stream": 0, "stage": "s", "params": {}}, "CONTROL.request_id is missing"),
    ({"v": 1, "kind": "HEARTBEAT"}, "HEARTBEAT.t_ns is missing"),
])
def test_bad_field_errors_name_the_field(header, text):
    header = {k: v for k, v in header.items() if v is not None}
    parts = header_parts(header, COLOR_2x2) if header["kind"] == "FRAME" else header_parts(header)
    error = reject(parts, ErrorCode.BAD_FIELD)
    assert text in error.message
    assert str(error).startswith("BAD_FIELD: ")
    assert error.kind == header["kind"]


def test_plane_errors_name_the_stream_and_index():
    header = frame_header(stream=4, index=77)
    error = reject(header_parts(header, COLOR_2x2[:15]), ErrorCode.PLANE_MISMATCH)
    assert (error.kind, error.stream, error.index) == ("FRAME", 4, 77)
    assert "planes[0] (color) has 15 bytes" in error.message
    reject(header_parts(header), ErrorCode.PLANE_MISMATCH)  # declared 1 plane, none followed
    reject(header_parts(header, COLOR_2x2, COLOR_2x2), ErrorCode.PLANE_MISMATCH)  # declared 1, two followed


def test_parse_needs_a_header():
    reject([], ErrorCode.MALFORMED_HEADER)
    reject([b""], ErrorCode.MALFORMED_HEADER)


@pytest.mark.parametrize("version,code", [(None, ErrorCode.MALFORMED_HEADER), (2, ErrorCode.BAD_VERSION),
                                          (0, ErrorCode.BAD_VERSION), (True, ErrorCode.BAD_VERSION),
                                          (1.0, ErrorCode.BAD_VERSION), ("1", ErrorCode.BAD_VERSION)])
def test_version_checks(version, code):
    header = {"v": version, "kind": "HEARTBEAT", "t_ns": 1}
    if version is None:
        del header["v"]
    reject(header_parts(header), code)


def test_kind_checks():
    reject(header_parts({"v": 1, "t_ns": 1}), ErrorCode.MALFORMED_HEADER)
    reject(header_parts({"v": 1, "kind": 3}), ErrorCode.MALFORMED_HEADER)
    error = reject(header_parts({"v": 1, "kind": "heartbeat", "t_ns": 1}), ErrorCode.UNKNOWN_KIND)
    assert "'heartbeat'" in error.message


@pytest.mark.parametrize("kind_header", [
    {"v": 1, "kind": "HEARTBEAT", "t_ns": 1}, {"v": 1, "kind": "STATS"}, {"v": 1, "kind": "BYE"},
])
def test_kinds_without_planes_reject_extra_parts(kind_header):
    reject(header_parts(kind_header, b"x"), ErrorCode.PLANE_MISMATCH)


# --------------------------------------------------------------------------- limits


def _heartbeat_of_size(size: int) -> bytes:
    base = len(msgpack.packb({"v": 1, "kind": "HEARTBEAT", "t_ns": 1, "pad": ""}))
    for pad in range(size - base - 4, size - base + 1):  # str header grows from 1 to 3 to 5 bytes
        data = msgpack.packb({"v": 1, "kind": "HEARTBEAT", "t_ns": 1, "pad": "x" * pad})
        if len(data) == size:
            return data
    raise AssertionError(size)


def test_header_size_limit():
    at_limit = _heartbeat_of_size(MAX_HEADER_BYTES)
    assert len(at_limit) == MAX_HEADER_BYTES == 65536
    assert parse_message([at_limit]) == Heartbeat(1)
    error = reject([at_limit + b"\x00"], ErrorCode.MALFORMED_HEADER)
    assert "65536" in error.message
    error = reject([_heartbeat_of_size(MAX_HEADER_BYTES + 1)], ErrorCode.MALFORMED_HEADER)
    assert "above the 65536-byte limit" in error.message


def test_string_length_limit_counts_characters():
    assert MAX_STRING_CHARS == 1024
    assert parse_message(header_parts({"v": 1, "kind": "BYE", "reason": "é" * 1024})).reason == "é" * 1024
    error = reject(header_parts({"v": 1, "kind": "BYE", "reason": "a" * 1025}), ErrorCode.BAD_FIELD)
    assert "BYE.reason is longer than 1024 characters" in error.message
    reject(header_parts(hello_header(capabilities=["c" * 1025])), ErrorCode.BAD_FIELD)
    reject(header_parts(hello_header(capabilities=["ok", 5])), ErrorCode.BAD_FIELD)


def test_stream_limits():
    streams = [{"id": i, "name": "s", "width": 8, "height": 8, "color_format": "RGBA8"} for i in range(17)]
    assert len(parse_message(header_parts(hello_header(streams=streams[:16]))).streams) == 16
    reject(header_parts(hello_header(streams=streams)), ErrorCode.LIMIT_EXCEEDED)
    dup = [streams[0], dict(streams[1], id=0)]
    assert "twice" in reject(header_parts(hello_header(streams=dup)), ErrorCode.BAD_FIELD).message
    too_big = [{"id": 65536, "name": "s", "width": 8, "height": 8, "color_format": "RGBA8"}]
    reject(header_parts(hello_header(streams=too_big)), ErrorCode.BAD_FIELD)


def test_plane_count_limit():
    plane = {"kind": "mask", "format": "U8", "width": 1, "height": 1, "stride": 1}
    reject(header_parts(frame_header(planes=[plane] * 5), *[b"\x00"] * 5), ErrorCode.LIMIT_EXCEEDED)
    reject(header_parts(frame_header(planes=[plane] * 2), b"\x00", b"\x00"), ErrorCode.PLANE_MISMATCH)


# --------------------------------------------------------------------------- forward compatibility


def test_unknown_keys_are_ignored_at_every_level():
    header = hello_header(future={"nested": [1, 2.5, None, b"\x00"]}, zzz=None)
    header["streams"][0]["hdr"] = True
    hello = parse_message(header_parts(header))
    assert hello.streams[0].id == 0
    out = hello.to_header()
    assert "future" not in out and "zzz" not in out and "hdr" not in out["streams"][0]

    plane = {"kind": "color", "format": "RGBA8", "width": 2, "height": 2, "stride": 8, "colorspace": "srgb"}
    camera = {"world_from_camera": [0.0] * 16, "intrinsics_px": [1, 1, 0, 0], "near_m": 1, "far_m": 2,
              "sensor_mm": 36.0}
    frame = parse_message(header_parts(frame_header(planes=[plane], camera=camera, motion_vectors=False),
                                       COLOR_2x2))
    assert frame.camera.intrinsics_px == [1.0, 1.0, 0.0, 0.0]
    assert frame.camera.near_m == 1.0 and type(frame.camera.near_m) is float
    assert "colorspace" not in frame.to_header()["planes"][0]
    assert "motion_vectors" not in frame.to_header()


# --------------------------------------------------------------------------- header decoding rules


def test_map_keys_must_be_unique_strings_at_every_depth():
    heartbeat = msgpack.packb({"v": 1, "kind": "HEARTBEAT", "t_ns": 1})
    nested_bin_key = b"\x84" + heartbeat[1:] + b"\xa1x\x81\xc4\x01k\x01"
    assert "not a string" in reject([nested_bin_key], ErrorCode.MALFORMED_HEADER).message
    nested_int_key = b"\x84" + heartbeat[1:] + b"\xa1x\x91\x81\x01\x02"
    reject([nested_int_key], ErrorCode.MALFORMED_HEADER)
    nested_duplicate = b"\x84" + heartbeat[1:] + b"\xa1x\x82\xa1k\x01\xa1k\x02"
    assert "repeats a key" in reject([nested_duplicate], ErrorCode.MALFORMED_HEADER).message
    assert decode_header(b"\x84" + heartbeat[1:] + b"\xa1x\x82\xa1k\x01\xa1j\x02")["x"] == {"k": 1, "j": 2}


def test_nil_is_not_an_absent_optional_field():
    reject(header_parts(frame_header(timecode=None), COLOR_2x2), ErrorCode.BAD_FIELD)
    reject(header_parts({"v": 1, "kind": "STATS", "streams": None}), ErrorCode.BAD_FIELD)


def test_control_param_values():
    base = {"v": 1, "kind": "CONTROL", "request_id": 1, "stream": 0, "stage": "style"}
    for bad in ({"x": {"a": 1}}, {"x": [1.0, "a"]}, {"x": [[1.0]]}, {"x": None}, {"x": [True]}):
        error = reject(header_parts({**base, "params": bad}), ErrorCode.BAD_PARAM_VALUE)
        assert "params.x" in error.message
    reject(header_parts({**base, "params": {}, "glide_ms": -1.0}), ErrorCode.BAD_FIELD)
    reject(header_parts({**base, "params": {}, "glide_ms": 600000.5}), ErrorCode.BAD_FIELD)
    reject(header_parts({**base, "params": []}), ErrorCode.BAD_FIELD)
    assert parse_message(header_parts({**base, "params": {}, "glide_ms": 5})).glide_ms == 5.0


def test_server_maps_are_typed():
    result = {"v": 1, "kind": "RESULT", "stream": 0, "index": 0, "t_capture_ns": 0, "planes": []}
    reject(header_parts({**result, "stage_us": {"style": 1.5}}), ErrorCode.BAD_FIELD)
    reject(header_parts({**result, "stage_us": {"style": True}}), ErrorCode.BAD_FIELD)
    stats_stream = {"id": 0, "name": "s", "frames_in": 0, "frames_out": 0, "dropped": 0, "fps_in": 0.0,
                    "fps_out": 0.0, "latency_ms_p50": 0.0, "latency_ms_p95": 0.0}
    for bad in ("abc", "1.5", None, False):
        header = {"v": 1, "kind": "STATS", "streams": [{**stats_stream, "stage_ms": {"style": bad}}]}
        assert "stage_ms" in reject(header_parts(header), ErrorCode.BAD_FIELD).message
    grant = {"id": 0, "pipeline": "p", "stages": ["a", 1], "width": 1, "height": 1, "color_format": "RGBA8"}
    welcome = {"v": 1, "kind": "WELCOME", "server": "s", "engine_id": "e", "session": "x", "streams": [grant],
               "heartbeat_ms": 1, "timeout_ms": 1, "max_frame_bytes": 1}
    assert "stages" in reject(header_parts(welcome), ErrorCode.BAD_FIELD).message


def test_frame_and_result_do_not_require_a_specific_plane_set():
    """Which planes a stream must send is a session rule (HELLO), not a message-level one."""
    depth_only = frame_header(planes=[{"kind": "depth", "format": "F16", "width": 2, "height": 2, "stride": 4}])
    frame = parse_message(header_parts(depth_only, bytes(8)))
    assert frame.plane("color") is None and frame.plane("depth") is not None
