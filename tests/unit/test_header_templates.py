"""Header templates: byte-for-byte the canonical header of FRAME and RESULT, and read back only from canonical bytes.

``encode_frame_header``/``encode_result_header`` must write exactly what ``encode_header`` writes for the whole
map, at every msgpack integer width, for every string length, stage count and plane layout.  ``match`` must give
the values back from such bytes and None from anything else: a wider integer form than needed, a value out of a
slot's range, a wrong type, a cut or extended header, any changed fixed byte, a repeated or extra key.
``KnownHeaders`` learns shapes only from canonical bytes and rebuilds messages equal to what ``parse_message``
makes of the same parts.  Non-canonical headers are written by hand here (``mp`` with ``Raw`` bytes), so the
test does not rely on the encoder it checks.
"""

from __future__ import annotations

import itertools
import random
import struct
from typing import Any

import msgpack
import numpy as np
import pytest
import zmq

from bridge.protocol.errors import ProtocolError
from bridge.protocol.frame_messages import CameraInfo, Frame, Result
from bridge.protocol.header_codec import decode_header, encode_header
from bridge.protocol.header_templates import (
    BOOL, SHORT_STR, U63, UINT, HeaderTemplate, KnownHeaders, encode_frame_header, encode_result_header,
    frame_template, frame_values, result_template, result_values,
)
from bridge.protocol.messages import parse_message, serialize_message
from bridge.protocol.planes import Plane, PlaneDescriptor

MAX_U63 = 2**63 - 1
MAX_U64 = 2**64 - 1
# every msgpack integer width boundary a non-negative integer can sit on
WIDTH_BOUNDARIES = [0, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, MAX_U63]
TIMECODES: dict[str, str | None] = {
    "absent": None,
    "empty": "",
    "smpte": "01:02:03:04",
    "31 bytes": "T" * 31,
    "32 bytes": "T" * 32,
    "non-ASCII 31 bytes": "é" * 15 + "x",  # 2-byte UTF-8 characters: 16 characters, 31 bytes
    "non-ASCII 32 bytes": "é" * 16,
    "emoji": "take \N{CLAPPER BOARD} 3",
}
SHORT_TIMECODES = {name: tc for name, tc in TIMECODES.items() if tc is None or len(tc.encode()) < 32}
CAMERA = CameraInfo([float(i) for i in range(16)], [500.0, 500.0, 320.5, 240.25], 0.1, 250.0)


# ---------------------------------------------------------------------------------------------- hand-made msgpack
class Raw(bytes):
    """Bytes written into a hand-made header exactly as they are (a non-canonical form, a bad value)."""


class Pairs(list):
    """A map given as (key, value) pairs, so a key can be repeated."""


def mp(value: Any) -> bytes:
    """msgpack of ``value`` (maps in the given key order), with ``Raw`` parts spliced in as they are."""
    if isinstance(value, Raw):
        return bytes(value)
    if isinstance(value, dict):
        value = Pairs(value.items())
    if isinstance(value, Pairs):
        n = len(value)
        head = bytes((0x80 | n,)) if n < 16 else b"\xde" + n.to_bytes(2, "big")
        return head + b"".join(mp(k) + mp(v) for k, v in value)
    if isinstance(value, list):
        n = len(value)
        head = bytes((0x90 | n,)) if n < 16 else b"\xdc" + n.to_bytes(2, "big")
        return head + b"".join(mp(v) for v in value)
    return msgpack.packb(value, use_bin_type=True)


def int_forms(v: int) -> dict[str, bytes]:
    """Every msgpack form that decodes to the integer ``v``, by name."""
    forms: dict[str, bytes] = {}
    if 0 <= v < 0x80 or -32 <= v < 0:
        forms["fixint"] = struct.pack("b", v) if v < 0 else bytes((v,))
    for tag, fmt, lo, hi in ((0xCC, ">B", 0, 0xFF), (0xCD, ">H", 0, 0xFFFF), (0xCE, ">I", 0, 0xFFFFFFFF),
                             (0xCF, ">Q", 0, MAX_U64), (0xD0, ">b", -2**7, 2**7 - 1), (0xD1, ">h", -2**15, 2**15 - 1),
                             (0xD2, ">i", -2**31, 2**31 - 1), (0xD3, ">q", -2**63, 2**63 - 1)):
        if lo <= v <= hi:
            forms[f"0x{tag:02x}"] = bytes((tag,)) + struct.pack(fmt, v)
    return forms


def non_canonical_int_forms(v: int) -> dict[str, bytes]:
    canonical = msgpack.packb(v)
    return {name: raw for name, raw in int_forms(v).items() if raw != canonical}


def str_forms(s: str) -> dict[str, bytes]:
    data = s.encode()
    forms = {"str8": b"\xd9" + bytes((len(data),)) + data, "str16": b"\xda" + len(data).to_bytes(2, "big") + data,
             "str32": b"\xdb" + len(data).to_bytes(4, "big") + data}
    if len(data) < 32:
        forms["fixstr"] = bytes((0xA0 | len(data),)) + data
    return forms


def test_the_hand_made_encoder_agrees_with_msgpack():
    header = {"v": 1, "kind": "FRAME", "stream": 3, "index": 70000, "planes": [{"kind": "color", "w": 1.5}],
              "stage_us": {f"s{i}": i for i in range(20)}, "held": True, "tc": "x" * 40}
    assert mp(header) == encode_header(header)
    for v in [*WIDTH_BOUNDARIES, MAX_U64, -1, -32, -33, -128, -129, -2**63]:
        for name, raw in int_forms(v).items():
            assert msgpack.unpackb(raw) == v, (v, name)
        assert msgpack.packb(v) in int_forms(v).values()
    for s in ("", "01:02:03:04", "é" * 16):
        for name, raw in str_forms(s).items():
            assert msgpack.unpackb(raw, raw=False) == s, name


# ---------------------------------------------------------------------------------------------- messages
def desc(kind: str, fmt: str, width: int, height: int, stride: int) -> PlaneDescriptor:
    d = PlaneDescriptor(kind, fmt, width, height, stride)
    d.validate()
    return d


def planes_of(*descriptors: PlaneDescriptor) -> list[Plane]:
    """Planes with deterministic bytes of exactly each descriptor's length."""
    out = []
    for n, d in enumerate(descriptors):
        data = bytes((n * 31 + i * 7) & 0xFF for i in range(d.byte_length))
        out.append(Plane(d, data))
    return out


PLANE_SETS: dict[str, list[PlaneDescriptor]] = {
    "RGBA8": [desc("color", "RGBA8", 4, 3, 16)],
    "RGB8 padded": [desc("color", "RGB8", 5, 3, 16)],
    "BGRA8 padded": [desc("color", "BGRA8", 4, 3, 24)],
    "RGBA8 + F16 depth": [desc("color", "RGBA8", 4, 3, 16), desc("depth", "F16", 4, 3, 8)],
    "RGB8 + F32 padded depth + mask": [desc("color", "RGB8", 4, 3, 12), desc("depth", "F32", 4, 3, 20),
                                       desc("mask", "U8", 4, 3, 4)],
    "BGRA8 + mask padded": [desc("color", "BGRA8", 4, 3, 16), desc("mask", "U8", 4, 3, 8)],
    "1920x1080 RGBA8 (uint16 sides)": [desc("color", "RGBA8", 1920, 1080, 1920 * 4)],
    "16384x1 RGBA8 (uint32 stride)": [desc("color", "RGBA8", 16384, 1, 16384 * 4)],
}
SMALL_PLANE_SETS = {k: v for k, v in PLANE_SETS.items() if sum(d.byte_length for d in v) < 4096}


def lazy_planes(descriptors: list[PlaneDescriptor]) -> list[Plane]:
    """Planes for the encode-only checks (the header depends on the descriptors alone)."""
    return [Plane(d, b"") for d in descriptors]


def rotated(k: int, shift: int) -> int:
    return WIDTH_BOUNDARIES[(k + shift) % len(WIDTH_BOUNDARIES)]


def systematic_frames() -> list[tuple[str, Frame]]:
    frames: list[tuple[str, Frame]] = []
    base = PLANE_SETS["RGBA8"]
    for index, t in itertools.product(WIDTH_BOUNDARIES, WIDTH_BOUNDARIES):  # every width in both slots
        frames.append((f"index={index} t={t}", Frame(5, index, t, lazy_planes(base))))
    for (tc_name, tc), (set_name, descriptors) in itertools.product(TIMECODES.items(), PLANE_SETS.items()):
        for k in range(len(WIDTH_BOUNDARIES)):
            frames.append((f"{tc_name}/{set_name}/{k}",
                           Frame(k * 7, rotated(k, 0), rotated(k, 3), lazy_planes(descriptors), timecode=tc)))
    for stream in (0, 127, 128, 255, 256, 65535):  # the stream id sits in a fixed run at every width too
        frames.append((f"stream={stream}", Frame(stream, 9, 10, lazy_planes(base), timecode="01:02:03:04")))
    return frames


STAGE_SETS: dict[str, list[str]] = {
    "no stages": [],
    "one stage": ["stylize"],
    "three stages": ["depth_estimate", "stylize", "cadence"],
    "15 stages (fixmap)": [f"stage_{i:02d}" for i in range(15)],
    "16 stages (map16)": [f"stage_{i:02d}" for i in range(16)],
    "20 stages (map16)": [f"stage_{i:02d}" for i in range(20)],
    "non-ASCII stage name": ["stilisé", "深度"],
}


def systematic_results() -> list[tuple[str, Result]]:
    results: list[tuple[str, Result]] = []
    base = PLANE_SETS["RGBA8"]
    for index, t in itertools.product(WIDTH_BOUNDARIES, WIDTH_BOUNDARIES):
        results.append((f"index={index} t={t}", Result(2, index, t, lazy_planes(base), {"stylize": 5}, 6, 0, False)))
    uint_values = [*WIDTH_BOUNDARIES, MAX_U64]  # server_us, dropped and stage times have no upper bound
    for (stages_name, names), (set_name, descriptors), held in itertools.product(
            STAGE_SETS.items(), PLANE_SETS.items(), (False, True)):
        for k in range(len(uint_values)):
            n = len(uint_values)
            stage_us = {name: uint_values[(k + j) % n] for j, name in enumerate(names)}
            results.append((f"{stages_name}/{set_name}/held={held}/{k}",
                            Result(k, rotated(k, 1), rotated(k, 4), lazy_planes(descriptors), stage_us,
                                   uint_values[(k + 2) % n], uint_values[(k + 5) % n], held)))
    return results


def negative_stage_results() -> list[tuple[str, Result]]:
    """A stage that reports a negative time (a clock step): the full parser accepts it, so it is sent."""
    base = PLANE_SETS["RGBA8"]
    return [(f"stage_us={v}", Result(1, 3, 4, lazy_planes(base), {"a": 1, "b": v, "c": 2}, 5, 0, False))
            for v in (-1, -32, -33, -128, -129, -32768, -32769, -2**31, -2**31 - 1, -2**63)]


FRAMES = systematic_frames()
RESULTS = systematic_results()


# ---------------------------------------------------------------------------------------------- encode equality
def test_encode_frame_header_is_encode_header_byte_for_byte():
    assert len(FRAMES) > 500
    for label, frame in FRAMES:
        expected = encode_header(frame.to_header())
        assert encode_frame_header(frame) == expected, label
        assert encode_frame_header(frame) == expected, f"{label} (template from the cache)"
        template = frame_template(frame)
        assert template is not None
        assert template.encode(frame_values(frame)) == expected, label


def test_encode_result_header_is_encode_header_byte_for_byte():
    assert len(RESULTS) > 1000
    for label, result in [*RESULTS, *negative_stage_results()]:
        expected = encode_header(result.to_header())
        assert encode_result_header(result) == expected, label
        assert encode_result_header(result) == expected, f"{label} (template from the cache)"
        assert result_template(result).encode(result_values(result)) == expected, label


def test_a_frame_with_a_camera_has_no_template_and_is_still_encoded_canonically():
    for set_name, descriptors in PLANE_SETS.items():
        for tc in TIMECODES.values():
            frame = Frame(4, 70000, 2**40, lazy_planes(descriptors), timecode=tc, camera=CAMERA)
            assert frame_template(frame) is None
            assert encode_frame_header(frame) == encode_header(frame.to_header()), set_name
            # the same shape without a camera right after: its own template, not the camera frame's bytes
            plain = Frame(4, 70000, 2**40, lazy_planes(descriptors), timecode=tc)
            assert encode_frame_header(plain) == encode_header(plain.to_header())
            assert b"camera" not in encode_frame_header(plain)


def test_serialize_message_writes_the_canonical_header_for_both_picture_kinds():
    frame = Frame(1, 300, 2**33, planes_of(*PLANE_SETS["RGB8 + F32 padded depth + mask"]), timecode="00:00:01:02")
    result = Result(1, 300, 2**33, planes_of(*PLANE_SETS["RGBA8"]), {"stylize": 70000}, 65536, 3, True)
    for msg in (frame, result):
        parts = serialize_message(msg)
        assert parts[0] == encode_header(msg.to_header())
        assert [bytes(memoryview(p)) for p in parts[1:]] == [bytes(p.data) for p in msg.planes]


def test_an_equal_but_float_plane_width_does_not_change_the_bytes_of_later_frames():
    """A width of 6.0 is not the layout of width 6 (descriptors compare field types too), so it never keys the
    cached template of the integer layout: each frame is encoded as ``encode_header`` encodes it (6.0 as a
    float64, 6 as 6), whichever comes first."""
    float_desc = PlaneDescriptor("color", "RGBA8", 6.0, 5, 24)  # type: ignore[arg-type]
    int_desc = PlaneDescriptor("color", "RGBA8", 6, 5, 24)
    assert float_desc != int_desc
    assert PlaneDescriptor("color", "RGBA8", 6, 5, 24) == int_desc
    assert hash(PlaneDescriptor("color", "RGBA8", 6, 5, 24)) == hash(int_desc)
    stream = 54321  # a shape no other test encodes
    float_frame = Frame(stream, 1, 2, [Plane(float_desc, b"")])
    int_frame = Frame(stream, 1, 2, [Plane(int_desc, b"")])
    assert encode_frame_header(float_frame) == encode_header(float_frame.to_header())
    good = encode_frame_header(int_frame)
    assert good == encode_header(int_frame.to_header()), "a correct frame was encoded with the float width"
    parse_message([good, bytes(120)])  # and the server would accept it


def test_an_equal_but_float_plane_width_does_not_change_the_bytes_of_later_results():
    float_desc = PlaneDescriptor("color", "RGBA8", 7.0, 5, 28)  # type: ignore[arg-type]
    int_desc = PlaneDescriptor("color", "RGBA8", 7, 5, 28)
    float_result = Result(54321, 1, 2, [Plane(float_desc, b"")], {"x": 1}, 2, 0, False)
    int_result = Result(54321, 1, 2, [Plane(int_desc, b"")], {"x": 1}, 2, 0, False)
    assert encode_result_header(float_result) == encode_header(float_result.to_header())
    assert encode_result_header(int_result) == encode_header(int_result.to_header())


def test_a_bool_stream_id_never_takes_the_template_of_the_equal_integer():
    """True == 1 and hashes alike: stream True must be encoded as msgpack true, as ``encode_header`` does."""
    desc = PlaneDescriptor("color", "RGBA8", 7, 5, 28)
    for make in (lambda s: Frame(s, 1, 2, [Plane(desc, b"")]),
                 lambda s: Result(s, 1, 2, [Plane(desc, b"")], {"x": 1}, 2, 0, False)):
        encode = encode_frame_header if isinstance(make(1), Frame) else encode_result_header
        assert encode(make(1)) == encode_header(make(1).to_header())
        assert encode(make(True)) == encode_header(make(True).to_header())
        assert encode(make(1)) == encode_header(make(1).to_header())


def test_a_stage_named_by_a_number_falls_back_to_the_full_encoder():
    desc = PlaneDescriptor("color", "RGBA8", 7, 5, 28)
    for stage_us in ({1: 5}, {True: 5}, {1: 5}):
        result = Result(4321, 1, 2, [Plane(desc, b"")], stage_us, 2, 0, False)
        assert encode_result_header(result) == encode_header(result.to_header())


# ---------------------------------------------------------------------------------------------- match
def test_frame_template_reads_back_every_value_it_writes():
    for label, frame in FRAMES:
        if frame.timecode is not None and len(frame.timecode.encode()) >= 32:
            continue  # see test_frame_template_reads_back_every_timecode
        template = frame_template(frame)
        values = frame_values(frame)
        assert template.match(template.encode(values)) == values, label


@pytest.mark.parametrize("name", list(TIMECODES))
def test_frame_template_reads_back_every_timecode(name):
    frame = Frame(1, 2, 3, lazy_planes(PLANE_SETS["RGBA8"]), timecode=TIMECODES[name])
    template = frame_template(frame)
    raw = encode_header(frame.to_header())
    assert template.match(raw) == frame_values(frame)
    assert decode_header(raw).get("timecode") == TIMECODES[name]


def test_result_template_reads_back_every_value_it_writes():
    for label, result in RESULTS:
        template = result_template(result)
        values = result_values(result)
        assert template.match(template.encode(values)) == values, label


def test_result_template_does_not_read_a_negative_stage_time():
    for label, result in negative_stage_results():
        raw = encode_result_header(result)
        assert result_template(result).match(raw) is None, label
        parse_message([raw, bytes(48)])  # the full parse (the fall-back) accepts it


def _frame_and_template(timecode: str | None = "01:02:03:04") -> tuple[Frame, HeaderTemplate, bytes]:
    frame = Frame(9, 5, 300, planes_of(*PLANE_SETS["RGBA8 + F16 depth"]), timecode=timecode)
    template = frame_template(frame)
    assert template is not None
    return frame, template, encode_header(frame.to_header())


def _result_and_template() -> tuple[Result, HeaderTemplate, bytes]:
    result = Result(9, 5, 300, planes_of(*PLANE_SETS["RGBA8"]), {"stylize": 200, "cadence": 70000}, 1000, 2, True)
    return result, result_template(result), encode_header(result.to_header())


def _slot_fields(header: dict[str, Any]) -> list[tuple[str, ...]]:
    """Paths of the integer slots of a FRAME or RESULT header."""
    paths = [("index",), ("t_capture_ns",)]
    if header["kind"] == "RESULT":
        paths += [("stage_us", name) for name in header["stage_us"]] + [("server_us",), ("dropped",)]
    return paths


def _with(header: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    changed = dict(header)
    if len(path) == 1:
        changed[path[0]] = value
    else:
        changed[path[0]] = {**header[path[0]], path[1]: value}
    return changed


@pytest.mark.parametrize("kind", ["FRAME", "RESULT"])
def test_match_refuses_every_non_canonical_integer_form(kind):
    message, template, _ = _frame_and_template() if kind == "FRAME" else _result_and_template()
    header = message.to_header()
    tried = 0
    for path in _slot_fields(header):
        for v in [5, 127, 200, 300, 65535, 70000, 2**32 - 1, 2**32 + 5]:
            canonical = mp(_with(header, path, v))
            assert canonical == encode_header(_with(header, path, v))
            assert template.match(canonical) is not None, (path, v)
            for form, raw_int in non_canonical_int_forms(v).items():
                raw = mp(_with(header, path, Raw(raw_int)))
                assert decode_header(raw) == _with(header, path, v), "the hand-made header must be valid msgpack"
                assert template.match(raw) is None, f"{path} = {v} written as {form}"
                tried += 1
    assert tried > 50


@pytest.mark.parametrize("kind", ["FRAME", "RESULT"])
def test_match_refuses_values_a_slot_cannot_hold(kind):
    message, template, _ = _frame_and_template() if kind == "FRAME" else _result_and_template()
    header = message.to_header()
    bad_values: dict[str, bytes] = {
        "uint64 above 2**63-1": b"\xcf" + struct.pack(">Q", 2**63),
        "uint64 max": b"\xcf" + b"\xff" * 8,
        "negative fixint -1": b"\xff",
        "int8 -100": b"\xd0" + struct.pack(">b", -100),
        "int64 -2**63": b"\xd3" + struct.pack(">q", -2**63),
        "float64 5.0": b"\xcb" + struct.pack(">d", 5.0),
        "float32 5.0": b"\xca" + struct.pack(">f", 5.0),
        "true": b"\xc3",
        "nil": b"\xc0",
        "string": b"\xa15",
    }
    for path in _slot_fields(header):
        for name, raw_value in bad_values.items():
            if name.startswith("uint64") and path[0] in ("server_us", "dropped", "stage_us"):
                continue  # unbounded slots: checked below
            raw = mp(_with(header, path, Raw(raw_value)))
            assert template.match(raw) is None, f"{path} = {name}"
    if kind == "RESULT":  # server_us, dropped and stage times are unbounded: 2**63 and 2**64-1 are read
        for path in _slot_fields(header)[2:]:
            for v in (2**63, MAX_U64):
                values = template.match(mp(_with(header, path, v)))
                assert values is not None and v in values, (path, v)
        for name, raw_bool in {"fixint 1": b"\x01", "fixint 0": b"\x00", "nil": b"\xc0"}.items():
            assert template.match(mp({**header, "held": Raw(raw_bool)})) is None, f"held = {name}"


def test_match_refuses_a_non_canonical_or_invalid_timecode():
    frame, template, raw = _frame_and_template("01:02:03:04")
    header = frame.to_header()
    assert template.match(raw) == [5, 300, "01:02:03:04"]
    for form, raw_str in str_forms("01:02:03:04").items():
        if form == "fixstr":
            continue
        changed = mp({**header, "timecode": Raw(raw_str)})
        assert decode_header(changed)["timecode"] == "01:02:03:04"
        assert template.match(changed) is None, form
    for name, raw_value in {"bin": b"\xc4\x0b" + b"01:02:03:04", "nil": b"\xc0", "int": b"\x05",
                            "invalid UTF-8": b"\xa2\xc3\x28", "lone surrogate": b"\xa3\xed\xa0\x80"}.items():
        assert template.match(mp({**header, "timecode": Raw(raw_value)})) is None, name


@pytest.mark.parametrize("kind", ["FRAME", "FRAME without timecode", "RESULT"])
def test_match_refuses_every_truncation_and_a_trailing_byte(kind):
    if kind == "RESULT":
        _, template, raw = _result_and_template()
    else:
        _, template, raw = _frame_and_template(None if "without" in kind else "01:02:03:04")
    assert template.match(raw) is not None
    for n in range(len(raw)):
        assert template.match(raw[:n]) is None, f"cut to {n} of {len(raw)} bytes"
    for extra in (b"\x00", b"\xc0", b"\x80"):
        assert template.match(raw + extra) is None


def test_match_refuses_truncation_inside_a_last_integer_slot_of_every_width():
    """A template that ends with an integer slot (no fixed bytes after it): a cut-short wide integer must not be
    read as a smaller number."""
    template = HeaderTemplate.build([("v", 1), ("n", UINT)])
    bounded = HeaderTemplate.build([("v", 1), ("n", U63)])
    for v in [*WIDTH_BOUNDARIES, 0x10000FF, 0x1000000FF, MAX_U64]:
        raw = encode_header({"v": 1, "n": v})
        assert template.encode([v]) == raw
        assert template.match(raw) == [v]
        assert bounded.match(raw) == ([v] if v <= MAX_U63 else None)
        for n in range(len(raw)):
            assert template.match(raw[:n]) is None, (v, n)
            assert bounded.match(raw[:n]) is None, (v, n)


@pytest.mark.parametrize("kind", ["FRAME", "RESULT"])
def test_match_refuses_any_single_changed_byte_in_a_fixed_run(kind):
    _, template, raw = _frame_and_template() if kind == "FRAME" else _result_and_template()
    assert template.match(raw) is not None
    # the byte ranges of the fixed runs inside raw: walk the template the way match does
    fixed: list[int] = []
    i = 0
    for n, run in enumerate(template.runs):
        assert raw.startswith(run, i)
        fixed.extend(range(i, i + len(run)))
        i += len(run)
        if n < len(template.slots):
            i = template.slots[n].read(raw, i)[1]
    assert i == len(raw) and len(fixed) > 0.8 * len(raw)
    for pos in fixed:
        for flip in (0x01, 0x20, 0x80, 0xFF):
            changed = bytearray(raw)
            changed[pos] ^= flip
            assert template.match(bytes(changed)) is None, f"byte {pos} ^ {flip:#x}"


def test_match_refuses_repeated_keys_extra_keys_and_other_shapes():
    frame, template, raw = _frame_and_template()
    header = frame.to_header()
    items = list(header.items())
    assert mp(Pairs(items)) == raw
    # a repeated key: the index given twice (same value) in place of t_capture_ns, and at the end
    repeated = Pairs([(k, v) if k != "t_capture_ns" else ("index", v) for k, v in items])
    assert template.match(mp(repeated)) is None
    twice = Pairs([*items, ("index", 5)])
    assert template.match(mp(twice)) is None
    with pytest.raises(ProtocolError, match="repeats a key"):
        decode_header(mp(twice))
    # an extra key at the top and inside a plane descriptor
    assert template.match(mp({**header, "x_future": 1})) is None
    planes = [dict(p) for p in header["planes"]]
    planes[1]["extra"] = 0
    assert template.match(mp({**header, "planes": planes})) is None
    # a key missing, keys in another order
    assert template.match(mp({k: v for k, v in header.items() if k != "timecode"})) is None
    swapped = Pairs(items[:3] + [items[4], items[3]] + items[5:])
    assert template.match(mp(swapped)) is None
    # another stream, another plane descriptor, another kind, another version
    assert template.match(mp({**header, "stream": 10})) is None
    for key, value in (("width", 5), ("height", 4), ("stride", 32), ("format", "F32")):
        planes = [dict(p) for p in header["planes"]]
        planes[1][key] = value
        assert template.match(mp({**header, "planes": planes})) is None, key
    assert template.match(mp({**header, "planes": header["planes"][:1]})) is None
    assert template.match(mp({**header, "kind": "RESULT"})) is None
    assert template.match(mp({**header, "v": 2})) is None
    # the same shape without a timecode and with a camera are other templates
    assert template.match(mp({k: v for k, v in header.items() if k != "timecode"})) is None
    assert template.match(encode_header({**header, "camera": CAMERA.to_wire()})) is None


@pytest.mark.parametrize("kind", ["FRAME", "RESULT"])
def test_whatever_match_accepts_is_the_canonical_encoding_of_what_it_returns(kind):
    """Random byte edits (replace, insert, delete, around slots and fixed runs): a match, when there is one,
    re-encodes to exactly the bytes matched, and the full decoder reads the same values."""
    message, template, raw = _frame_and_template() if kind == "FRAME" else _result_and_template()
    rng = random.Random(20240611)
    matched = 0
    for _ in range(4000):
        changed = bytearray(raw)
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(changed) + 1)
            op = rng.random()
            if op < 0.5 and pos < len(changed):
                changed[pos] = rng.choice([0x00, 0x05, 0x7F, 0x80, 0xCC, 0xCD, 0xCE, 0xCF, 0xD0, 0xA3,
                                           0xC3, rng.randrange(256)])
            elif op < 0.8:
                changed[pos:pos] = bytes((rng.randrange(256),))
            elif pos < len(changed):
                del changed[pos]
        values = template.match(bytes(changed))
        if values is None:
            continue
        matched += 1
        assert template.encode(values) == bytes(changed)
        decoded = decode_header(bytes(changed))
        assert decoded["index"] == values[0] and decoded["t_capture_ns"] == values[1]
    assert matched > 10, "the edits should also produce other valid values of the same shape"


def test_build_handles_generic_fields_and_rejects_a_bad_layout():
    fields = [("v", 1), ("name", "x" * 40), ("n", U63), ("flags", {"a": BOOL, "b": UINT}), ("list", [1, 2.5, None]),
              ("s", SHORT_STR), ("tail", {"fixed": 1})]
    template = HeaderTemplate.build(fields)
    assert len(template.slots) == 4 and len(template.runs) == 5
    values = [70000, True, 2**40, "tc"]
    expected = encode_header({"v": 1, "name": "x" * 40, "n": 70000, "flags": {"a": True, "b": 2**40},
                              "list": [1, 2.5, None], "s": "tc", "tail": {"fixed": 1}})
    assert template.encode(values) == expected
    assert template.match(expected) == values
    with pytest.raises(ValueError, match="one more run than slots"):
        HeaderTemplate([b"a", b"b"], [U63, UINT])


# ---------------------------------------------------------------------------------------------- KnownHeaders
def _parts(msg: Frame | Result) -> list[bytes]:
    return [bytes(memoryview(p)) for p in serialize_message(msg)]


def _same(a: Any, b: Any) -> None:
    assert type(a) is type(b)
    assert a.to_header() == b.to_header()
    assert [bytes(memoryview(p.data)) for p in a.planes] == [bytes(memoryview(p.data)) for p in b.planes]
    assert [p.descriptor for p in a.planes] == [p.descriptor for p in b.planes]


def _frame(index: int = 5, t: int = 300, timecode: str | None = None, stream: int = 9,
           plane_set: str = "RGBA8 + F16 depth") -> Frame:
    return Frame(stream, index, t, planes_of(*PLANE_SETS[plane_set]), timecode=timecode)


def _result(index: int = 5, stages: tuple[str, ...] = ("stylize", "cadence"), plane_set: str = "RGBA8") -> Result:
    return Result(9, index, 300, planes_of(*PLANE_SETS[plane_set]), {s: 10 * i for i, s in enumerate(stages)},
                  1000, 2, index % 2 == 0)


def test_known_headers_rebuild_messages_equal_to_the_full_parse():
    for plane_set in SMALL_PLANE_SETS:
        for tc_name, tc in SHORT_TIMECODES.items():
            known = KnownHeaders(Frame)
            first = _frame(timecode=tc, plane_set=plane_set)
            parts = _parts(first)
            assert known.learn(parse_message(parts), parts[0]), (plane_set, tc_name)
            assert len(known) == 1
            for index, t in zip(WIDTH_BOUNDARIES, reversed(WIDTH_BOUNDARIES)):
                later = _parts(_frame(index, t, tc, plane_set=plane_set))
                matched = known.match(later[0], later[1:])
                assert matched is not None, (plane_set, tc_name, index)
                _same(matched, parse_message(later))
        for stages in STAGE_SETS.values():
            known = KnownHeaders(Result)
            parts = _parts(_result(stages=tuple(stages), plane_set=plane_set))
            assert known.learn(parse_message(parts), parts[0])
            for k in range(len(WIDTH_BOUNDARIES)):
                r = Result(9, rotated(k, 0), rotated(k, 1), planes_of(*PLANE_SETS[plane_set]),
                           {s: rotated(k, j) for j, s in enumerate(stages)}, rotated(k, 5), rotated(k, 7), k % 2 == 1)
                later = _parts(r)
                matched = known.match(later[0], later[1:])
                assert matched is not None, (plane_set, stages, k)
                _same(matched, parse_message(later))


def test_known_headers_match_parts_of_every_buffer_type_by_their_byte_count():
    depth = np.linspace(0.5, 4.0, 12, dtype=np.float32).reshape(3, 4)
    frame = Frame(2, 1, 2, [Plane.from_array("color", "RGBA8", np.arange(48, dtype=np.uint8).reshape(3, 4, 4)),
                            Plane.from_array("depth", "F32", depth)])
    parts = _parts(frame)
    known = KnownHeaders(Frame)
    assert known.learn(parse_message(parts), parts[0])
    typed_views = [memoryview(np.frombuffer(parts[1], np.uint8)), memoryview(depth)]  # the depth view has format 'f'
    assert len(typed_views[1]) != typed_views[1].nbytes
    for body in (parts[1:], [bytearray(p) for p in parts[1:]], [zmq.Frame(p) for p in parts[1:]], typed_views):
        matched = known.match(parts[0], body)
        assert matched is not None, type(body[0]).__name__
        _same(matched, parse_message([parts[0], *body]))
    short_view = memoryview(np.frombuffer(parts[2], np.float32)[:-1])
    assert known.match(parts[0], [parts[1], short_view]) is None


def test_known_headers_refuse_wrong_parts_and_leave_them_to_the_full_parse():
    known = KnownHeaders(Frame)
    parts = _parts(_frame())
    assert known.learn(parse_message(parts), parts[0])
    header, color, depth = parts
    assert known.match(header, [color, depth]) is not None
    for label, body in {"no parts": [], "one part missing": [color], "one part too many": [color, depth, depth],
                        "colour one byte short": [color[:-1], depth], "colour one byte long": [color + b"\0", depth],
                        "depth one byte short": [color, depth[:-1]], "depth one byte long": [color, depth + b"\0"],
                        "parts swapped": [depth, color]}.items():
        assert known.match(header, body) is None, label
        with pytest.raises(ProtocolError) as info:
            parse_message([header, *body])
        assert "PLANE_MISMATCH" == info.value.code.name, label


def test_known_headers_learn_only_from_canonical_bytes():
    frame = _frame(index=5)
    header = frame.to_header()
    canonical = encode_header(header)
    non_canonical = mp({**header, "index": Raw(b"\xcd\x00\x05")})
    assert decode_header(non_canonical) == header  # valid, and parse_message accepts it
    parsed = parse_message([non_canonical, *_parts(frame)[1:]])
    known = KnownHeaders(Frame, max_refused=16)
    assert not known.learn(parsed, non_canonical)
    assert len(known) == 0
    assert known.match(canonical, _parts(frame)[1:]) is None  # nothing learned
    # header bytes of another message than the one given: not learned either (a refusal too)
    assert not known.learn(_frame(index=6), canonical)
    for _ in range(13):
        assert not known.learn(parsed, non_canonical)
    assert known.learn(frame, canonical), "after 15 refusals a canonical header is still learned (16 allowed)"
    assert len(known) == 1 and known.match(canonical, _parts(frame)[1:]) is not None


def test_known_headers_stop_trying_after_max_refused_refusals():
    frame = _frame(index=5)
    header = frame.to_header()
    non_canonical = mp({**header, "index": Raw(b"\xce\x00\x00\x00\x05")})
    known = KnownHeaders(Frame, max_refused=3)
    for _ in range(3):
        assert not known.learn(frame, non_canonical)
    assert not known.learn(frame, encode_header(header)), "after max_refused refusals nothing is learned"
    assert len(known) == 0
    # shapes learned before the refusals stay usable
    known = KnownHeaders(Frame, max_refused=2)
    other = _frame(index=7, timecode="00:00:00:01")
    assert known.learn(other, encode_header(other.to_header()))
    for _ in range(2):
        assert not known.learn(frame, non_canonical)
    later = _parts(_frame(index=8, timecode="00:00:00:02"))
    assert known.match(later[0], later[1:]) is not None


def test_frames_with_a_camera_do_not_use_up_the_refusals_of_a_canonical_sender():
    """An engine that sends a camera on its first frames sends canonical headers: those frames take the full
    path, but they are not the non-canonical sender ``max_refused`` is there for, so a camera-less shape that
    comes after them is still learned."""
    known = KnownHeaders(Frame, max_refused=4)
    with_camera = _frame(index=1)
    with_camera.camera = CAMERA
    raw = encode_header(with_camera.to_header())
    for _ in range(4):
        assert not known.learn(parse_message([raw, *_parts(with_camera)[1:]]), raw)
    plain = _frame(index=2)
    assert known.learn(plain, encode_header(plain.to_header()))


def test_a_learned_shape_is_one_that_matches():
    """Whatever ``learn`` accepts, ``match`` reads back: learning a shape that never matches would cost every
    later message a failed match and a re-learn, and push a useful shape out of the capacity."""
    for name, tc in TIMECODES.items():
        frame = _frame(timecode=tc)
        parts = _parts(frame)
        known = KnownHeaders(Frame)
        if known.learn(parse_message(parts), parts[0]):
            assert known.match(parts[0], parts[1:]) is not None, f"timecode {name}: learned but never matched"


def test_known_headers_of_one_kind_ignore_the_other():
    frame_parts, result_parts = _parts(_frame()), _parts(_result())
    frames, results = KnownHeaders(Frame), KnownHeaders(Result)
    assert not frames.learn(parse_message(result_parts), result_parts[0])
    assert not results.learn(parse_message(frame_parts), frame_parts[0])
    assert len(frames) == len(results) == 0
    assert frames.learn(parse_message(frame_parts), frame_parts[0])
    assert results.learn(parse_message(result_parts), result_parts[0])
    assert frames.match(result_parts[0], result_parts[1:]) is None
    assert results.match(frame_parts[0], frame_parts[1:]) is None
    assert isinstance(frames.match(frame_parts[0], frame_parts[1:]), Frame)
    assert isinstance(results.match(result_parts[0], result_parts[1:]), Result)


def test_known_headers_keep_the_newest_shapes_up_to_capacity():
    shapes = [_frame(stream=s) for s in (1, 2, 3)]
    parts = [_parts(f) for f in shapes]
    known = KnownHeaders(Frame, capacity=2)
    for p in parts:
        assert known.learn(parse_message(p), p[0])
    assert len(known) == 2
    assert known.match(parts[0][0], parts[0][1:]) is None, "the oldest shape was dropped"
    assert known.match(parts[1][0], parts[1][1:]).stream == 2
    assert known.match(parts[2][0], parts[2][1:]).stream == 3
    # learning a kept shape again does not add a copy; it makes that shape the newest
    assert known.learn(parse_message(parts[1]), parts[1][0])
    assert len(known) == 2
    assert known.learn(parse_message(parts[0]), parts[0][0])
    assert known.match(parts[1][0], parts[1][1:]) is not None  # shape 2 was re-learned after 3: 3 is dropped
    assert known.match(parts[2][0], parts[2][1:]) is None
    assert known.match(parts[0][0], parts[0][1:]).stream == 1
    # with and without a timecode are two shapes of one stream
    known = KnownHeaders(Frame, capacity=4)
    for tc in (None, "01:00:00:00"):
        p = _parts(_frame(timecode=tc))
        assert known.learn(parse_message(p), p[0])
    assert len(known) == 2
