"""The lean FRAME/RESULT parse paths accept and refuse exactly what the full FieldReader paths do.

Every field of a good header (and of its plane descriptors) is removed, set to nil, given each wrong type
and out-of-range values; parts are added, removed and cut.  For every variant, ``parse_message`` (lean path
first) and the checked path alone must agree: both give equal messages, or both raise the same error code.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import pytest

from bridge.protocol.errors import ProtocolError
from bridge.protocol.frame_messages import Frame, Result
from bridge.protocol.header_codec import FieldReader, decode_header, encode_header
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
