"""The lean FRAME/RESULT parse paths accept and refuse exactly what the full FieldReader paths do.

Every field of a good header (and of its plane descriptors) is removed, set to nil, given each wrong type
and out-of-range values; parts are added, removed and cut.  For every variant, ``parse_message`` (lean path
first) and the checked path alone must agree: both give equal messages, or both raise the same error code.
The same holds for a receiver that first tries the header shapes it learned (``KnownHeaders.match``) and parses
fully when that gives None, also on hand-made headers the canonical encoder never writes (wider integer forms,
cut or extended bytes).
"""

from __future__ import annotations

import copy
import itertools
import time

import numpy as np
import pytest

from bridge.protocol.errors import ProtocolError
from bridge.protocol.frame_messages import Frame, Result
from bridge.protocol.header_codec import FieldReader, decode_header, encode_header
from bridge.protocol.header_templates import KnownHeaders
from bridge.protocol.messages import parse_message, serialize_message
from bridge.protocol.planes import Plane

COLOR = np.arange(4 * 3 * 4, dtype=np.uint8).reshape(3, 4, 4)
DEPTH = np.linspace(0.5, 9.0, 12, dtype=np.float32).reshape(3, 4)
MASK = (np.arange(12, dtype=np.uint8) * 20).reshape(3, 4)

_REPLACEMENTS = [None, "7", 7.0, True, -1, 2**63, [], {}, 65536, 0]


def _planes():
    return [Plane.from_array("color", "RGBA8", COLOR), Plane.from_array("depth", "F32", DEPTH),
            Plane.from_array("mask", "U8", MASK)]


def _frame_parts():
    frame = Frame(3, 41, time.monotonic_ns(), _planes(), timecode="01:00:00:07")
    return [bytes(p) for p in serialize_message(frame)]


def _result_parts():
    result = Result(3, 41, 1234, _planes()[:1], {"stylize": 900, "cadence": 3}, 1200, 2, True)
    return [bytes(p) for p in serialize_message(result)]


def _outcome(parse, parts):
    try:
        message = parse(parts)
    except ProtocolError as exc:
        return ("error", int(exc.code))
    return ("ok", message.to_header(), [bytes(memoryview(p.data)) for p in message.planes])


def _checked(parts):
    header = decode_header(parts[0])
    cls = {"FRAME": Frame, "RESULT": Result}[header["kind"]]
    return cls._from_header_checked(FieldReader(header, header["kind"], header["kind"]), parts[1:])


def _variants(parts):
    header = decode_header(parts[0])
    body = parts[1:]
    yield "as sent", parts
    for key in [k for k in header if k not in ("v", "kind")]:
        changed = {k: v for k, v in header.items() if k != key}
        yield f"without {key}", [encode_header(changed), *body]
        for value in _REPLACEMENTS:
            yield f"{key}={value!r}", [encode_header({**header, key: value}), *body]
    for i, plane in enumerate(header["planes"]):
        for key in plane:
            for value in [None, "U8", "F16", 3, 0, 16385, 4.0, True, -4, *(["color", "mask"] if key == "kind" else [])]:
                changed = copy.deepcopy(header)
                changed["planes"][i][key] = value
                yield f"planes[{i}].{key}={value!r}", [encode_header(changed), *body]
        changed = copy.deepcopy(header)
        changed["planes"][i]["extra"] = 1
        yield f"planes[{i}] with an extra key", [encode_header(changed), *body]
        changed = copy.deepcopy(header)
        changed["planes"][i] = [plane["kind"]]
        yield f"planes[{i}] not a map", [encode_header(changed), *body]
    yield "extra top-level key", [encode_header({**header, "x_future": [1, 2]}), *body]
    yield "camera present", [encode_header({**header, "camera": {"world_from_camera": [0.0] * 16,
                                                                  "intrinsics_px": [1.0, 1.0, 1.5, 1.0],
                                                                  "near_m": 0.1, "far_m": 100.0}}), *body]
    yield "one part missing", parts[:-1]
    yield "one part too many", [*parts, parts[1]]
    yield "last part one byte short", [*parts[:-1], parts[-1][:-1]]
    yield "first plane one byte long", [parts[0], parts[1] + b"\x00", *parts[2:]]
    yield "no planes", [encode_header({**header, "planes": []})]
    yield "five planes", [encode_header({**header, "planes": header["planes"] * 2})[:], *body, *body[:2]]


@pytest.mark.parametrize("make", [_frame_parts, _result_parts], ids=["FRAME", "RESULT"])
def test_lean_and_checked_paths_agree_on_every_variant(make):
    checked = 0
    for label, parts in _variants(make()):
        lean, full = _outcome(parse_message, parts), _outcome(_checked, parts)
        assert lean == full, f"{label}: lean {lean[:2]} vs checked {full[:2]}"
        checked += 1
    assert checked > 140


def test_a_cached_layout_is_not_found_for_a_float_or_bool_that_equals_it():
    parts = _frame_parts()
    parse_message(parts)  # caches the three layouts
    header = decode_header(parts[0])
    for value in (4.0, True):
        changed = copy.deepcopy(header)
        changed["planes"][0]["width"] = value
        with pytest.raises(ProtocolError) as info:
            parse_message([encode_header(changed), *parts[1:]])
        assert "planes[0].width must be int" in info.value.message


def _frame_parts_without_timecode():
    frame = Frame(3, 41, time.monotonic_ns(), _planes())
    return [bytes(p) for p in serialize_message(frame)]


def _result_parts_without_stages():
    result = Result(3, 41, 1234, _planes()[:1], {}, 1200, 0, False)
    return [bytes(p) for p in serialize_message(result)]


def _known_or_full(known: KnownHeaders):
    """What a receiver does: the known shape's match first, the full parse when it gives None."""
    def parse(parts):
        message = known.match(parts[0], parts[1:]) if parts else None
        return parse_message(parts) if message is None else message
    return parse


def _with_raw_field(header, key, raw):
    """The header with ``key``'s value written as the given bytes (a form ``encode_header`` never writes)."""
    return bytes((0x80 | len(header),)) + b"".join(
        encode_header(k) + (raw if k == key else encode_header(v)) for k, v in header.items())


def _byte_variants(parts):
    """Headers the canonical encoder never makes: wider integer forms, a str8 timecode, cut or extended bytes."""
    header = decode_header(parts[0])
    body = parts[1:]
    assert _with_raw_field(header, "index", encode_header(header["index"])) == parts[0]
    for key in ("index", "t_capture_ns", "server_us", "dropped"):
        if key in header:
            for form in (b"\xcd\x00\x05", b"\xce\x00\x00\x00\x05", b"\xcf" + (5).to_bytes(8, "big"),
                         b"\xd0\x05", b"\xd3" + (2**40).to_bytes(8, "big"), b"\xcf" + (2**63).to_bytes(8, "big"),
                         b"\xcb" + bytes(8)):
                yield f"{key} as {form.hex()}", [_with_raw_field(header, key, form), *body]
    if "timecode" in header:
        data = header["timecode"].encode()
        yield "timecode as str8", [_with_raw_field(header, "timecode", b"\xd9" + bytes((len(data),)) + data), *body]
    if "held" in header:
        yield "held as 1", [_with_raw_field(header, "held", b"\x01"), *body]
    for n in range(len(parts[0])):
        yield f"header cut to {n} bytes", [parts[0][:n], *body]
    yield "a byte after the header", [parts[0] + b"\x00", *body]


@pytest.mark.parametrize("make", [_frame_parts, _frame_parts_without_timecode, _result_parts,
                                  _result_parts_without_stages],
                         ids=["FRAME with timecode", "FRAME without timecode", "RESULT", "RESULT without stages"])
def test_known_header_match_then_full_parse_agrees_with_the_checked_path_on_every_variant(make):
    parts = make()
    good = parse_message(parts)
    known = KnownHeaders(type(good))
    assert known.learn(good, parts[0]), "the good message's header is canonical: its shape is learned"
    assert known.match(parts[0], parts[1:]) is not None
    parse = _known_or_full(known)
    checked = matched = 0
    for label, variant in itertools.chain(_variants(parts), _byte_variants(parts)):
        fast, full = _outcome(parse, variant), _outcome(_checked, variant)
        assert fast == full, f"{label}: known-shape path {fast[:2]} vs checked {full[:2]}"
        checked += 1
        matched += variant and known.match(variant[0], variant[1:]) is not None
    assert checked > 200
    assert matched >= 1, "the good message itself goes through the known shape"
