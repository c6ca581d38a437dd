"""A small, strict OSC 1.0 codec for the VMC hot path (decode bundles, encode messages/bundles).

VMC frames are bundles of ~60-120 short messages at 60-120 Hz per performer, so the relay
decodes and encodes thousands of messages a second. python-osc's generic parser and builder
cost 15-25 microseconds per message; this codec handles exactly the OSC 1.0 wire format in a
few microseconds per message and is checked against python-osc and liblo (``oscsend`` /
``oscdump``) in the tests.

Decoding returns `OscMessage` (address, type tags, arguments) and reports malformed input with
`OscDecodeError` naming the byte offset and the cause. Supported argument types: ``i f s b h
d t c r m T F N I`` (OSC 1.0 plus the common 1.1 extensions); arrays ``[ ]`` are rejected.
Encoding takes explicit type tags, so a float never goes out as ``i`` by accident.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

BUNDLE_TAG = b"#bundle\x00"
IMMEDIATELY = 1  # OSC time tag meaning "now"

_I32 = struct.Struct(">i")
_U32 = struct.Struct(">I")
_F32 = struct.Struct(">f")
_I64 = struct.Struct(">q")
_F64 = struct.Struct(">d")
_U64 = struct.Struct(">Q")
_MAX_BUNDLE_DEPTH = 8


class OscDecodeError(ValueError):
    """Bytes that are not valid OSC; the message names the offset and the cause."""


@dataclass(frozen=True)
class OscMessage:
    address: str
    type_tags: str  # without the leading comma
    args: tuple[Any, ...]


def _read_padded_string(data: bytes, offset: int, end: int, what: str) -> tuple[str, int]:
    nul = data.find(b"\x00", offset, end)
    if nul < 0:
        raise OscDecodeError(f"{what} at byte {offset} has no terminating NUL")
    try:
        text = data[offset:nul].decode("utf-8")
    except UnicodeDecodeError as error:
        raise OscDecodeError(f"{what} at byte {offset} is not UTF-8 ({error})") from None
    next_offset = offset + ((nul - offset + 4) & ~3)
    if next_offset > end:
        raise OscDecodeError(f"{what} at byte {offset} is not padded to a multiple of 4 bytes")
    return text, next_offset


_FIXED_FORMATS = {"i": "i", "f": "f", "h": "q", "d": "d", "t": "Q", "r": "I"}
_PLAN_CACHE: dict[str, tuple[tuple[str, struct.Struct | None], ...]] = {}


def _plan(tags: str, address: str) -> tuple[tuple[str, struct.Struct | None], ...]:
    """Split type tags into steps: runs of fixed-size tags become one precompiled Struct."""
    plan = _PLAN_CACHE.get(tags)
    if plan is not None:
        return plan
    steps: list[tuple[str, struct.Struct | None]] = []
    run = ""
    for tag in tags:
        if tag in _FIXED_FORMATS:
            run += _FIXED_FORMATS[tag]
            continue
        if run:
            steps.append(("fixed", struct.Struct(">" + run)))
            run = ""
        if tag in "sSbcmTFNI":
            steps.append((tag, None))
        else:
            raise OscDecodeError(f"{address}: unsupported OSC type tag {tag!r}")
    if run:
        steps.append(("fixed", struct.Struct(">" + run)))
    plan = tuple(steps)
    if len(_PLAN_CACHE) < 1024:
        _PLAN_CACHE[tags] = plan
    return plan


_TEXT_CACHE: dict[bytes, str] = {}


def _decode_text(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise OscDecodeError(f"{what} is not UTF-8 ({error})") from None


def _remember(raw: bytes, text: str) -> None:
    if len(_TEXT_CACHE) < 4096:
        _TEXT_CACHE[raw] = text


def decode_message(data: bytes, start: int = 0, end: int | None = None) -> OscMessage:
    """Decode one OSC message occupying ``data[start:end]``."""
    if end is None:
        end = len(data)
    size = end - start
    if size < 4 or size % 4:
        raise OscDecodeError(f"OSC message at byte {start} has size {size}, not a positive multiple of 4")
    if data[start] != 0x2F:  # '/'
        raise OscDecodeError(f"OSC message at byte {start} does not start with '/' (got {data[start:start + 1]!r})")
    # Address and type tags repeat from message to message: decode each distinct one once.
    nul = data.find(b"\x00", start, end)
    if nul < 0:
        raise OscDecodeError(f"address at byte {start} has no terminating NUL")
    raw_address = data[start:nul]
    address = _TEXT_CACHE.get(raw_address)
    if address is None:
        address = _decode_text(raw_address, f"address at byte {start}")
        _remember(raw_address, address)
    offset = start + ((nul - start + 4) & ~3)
    if offset > end:
        raise OscDecodeError(f"address at byte {start} is not padded to a multiple of 4 bytes")
    if offset >= end:
        return OscMessage(address, "", ())  # OSC 1.0 allows a missing type tag string
    if data[offset] != 0x2C:  # ','
        raise OscDecodeError(f"{address}: type tag string at byte {offset} does not start with ','")
    nul = data.find(b"\x00", offset, end)
    if nul < 0:
        raise OscDecodeError(f"{address}: type tags at byte {offset} have no terminating NUL")
    raw_tags = data[offset + 1 : nul]
    tags = _TEXT_CACHE.get(raw_tags)
    if tags is None:
        tags = _decode_text(raw_tags, f"{address}: type tags at byte {offset}")
        _remember(raw_tags, tags)
    offset += (nul - offset + 4) & ~3
    if offset > end:
        raise OscDecodeError(f"{address}: type tags are not padded to a multiple of 4 bytes")
    args: list[Any] = []
    for step, codec in _plan(tags, address):
        if codec is not None:
            if offset + codec.size > end:
                raise OscDecodeError(f"{address}: arguments {tags!r} run past the end of the message")
            args.extend(codec.unpack_from(data, offset))
            offset += codec.size
        elif step == "s" or step == "S":
            value, offset = _read_padded_string(data, offset, end, f"{address}: string argument")
            args.append(value)
        elif step == "b":
            if offset + 4 > end:
                raise OscDecodeError(f"{address}: blob size runs past the end of the message")
            (length,) = _I32.unpack_from(data, offset)
            offset += 4
            if length < 0 or offset + length > end:
                raise OscDecodeError(f"{address}: blob of {length} bytes runs past the end of the message")
            args.append(bytes(data[offset : offset + length]))
            offset += (length + 3) & ~3
        elif step == "c" or step == "m":
            if offset + 4 > end:
                raise OscDecodeError(f"{address}: '{step}' argument runs past the end of the message")
            args.append(chr(_U32.unpack_from(data, offset)[0]) if step == "c" else bytes(data[offset : offset + 4]))
            offset += 4
        elif step == "T":
            args.append(True)
        elif step == "F":
            args.append(False)
        elif step == "N":
            args.append(None)
        else:  # "I"
            args.append(float("inf"))
    if offset != end:
        raise OscDecodeError(f"{address}: {end - offset} bytes after the last argument")
    return OscMessage(address, tags, tuple(args))


def decode_packet(data: bytes) -> list[OscMessage]:
    """Every message of an OSC packet (a message or a bundle, nested bundles flattened in order)."""
    messages: list[OscMessage] = []
    _decode_into(bytes(data), 0, len(data), messages, 0)
    return messages


def _decode_into(data: bytes, start: int, end: int, out: list[OscMessage], depth: int) -> None:
    if data.startswith(BUNDLE_TAG, start):
        if depth >= _MAX_BUNDLE_DEPTH:
            raise OscDecodeError(f"bundles nested deeper than {_MAX_BUNDLE_DEPTH} at byte {start}")
        offset = start + 16  # tag + time tag
        if offset > end:
            raise OscDecodeError(f"bundle at byte {start} is shorter than its 16-byte header")
        while offset < end:
            if offset + 4 > end:
                raise OscDecodeError(f"bundle element size at byte {offset} runs past the end")
            (length,) = _I32.unpack_from(data, offset)
            offset += 4
            if length <= 0 or length % 4 or offset + length > end:
                raise OscDecodeError(
                    f"bundle element at byte {offset} claims {length} bytes, {end - offset} remain "
                    "(must be a positive multiple of 4 that fits)"
                )
            _decode_into(data, offset, offset + length, out, depth + 1)
            offset += length
    else:
        out.append(decode_message(data, start, end))


def _pad_string(text: str) -> bytes:
    raw = text.encode("utf-8")
    if b"\x00" in raw:
        raise ValueError(f"OSC strings cannot contain NUL: {text!r}")
    return raw + b"\x00" * (4 - len(raw) % 4)


_STRING_CACHE: dict[str, bytes] = {}


def _cached_pad(text: str) -> bytes:
    encoded = _STRING_CACHE.get(text)
    if encoded is None:
        encoded = _pad_string(text)
        if len(_STRING_CACHE) < 4096:
            _STRING_CACHE[text] = encoded
    return encoded


def encode_message(address: str, type_tags: str, args: Sequence[Any]) -> bytes:
    """Encode one message with explicit type tags (``i f s b h d T F N``); checks the arg count."""
    data_tags = [tag for tag in type_tags if tag not in "TFNI"]
    if len(data_tags) != len(args):
        raise ValueError(f"{address}: type tags {type_tags!r} need {len(data_tags)} arguments, got {len(args)}")
    parts = [_cached_pad(address), _cached_pad("," + type_tags)]
    values = iter(args)
    for tag in type_tags:
        if tag in "TFNI":
            continue
        value = next(values)
        if tag == "f":
            parts.append(_F32.pack(float(value)))
        elif tag == "i":
            parts.append(_I32.pack(int(value)))
        elif tag == "s":
            parts.append(_cached_pad(str(value)))
        elif tag == "b":
            blob = bytes(value)
            parts.append(_I32.pack(len(blob)) + blob + b"\x00" * (-len(blob) % 4))
        elif tag == "h":
            parts.append(_I64.pack(int(value)))
        elif tag == "d":
            parts.append(_F64.pack(float(value)))
        else:
            raise ValueError(f"{address}: cannot encode OSC type tag {tag!r}")
    return b"".join(parts)


def encode_bundle(elements: Sequence[bytes], time_tag: int = IMMEDIATELY) -> bytes:
    """Wrap encoded messages (or bundles) in one bundle."""
    parts = [BUNDLE_TAG, _U64.pack(time_tag)]
    for element in elements:
        parts.append(_I32.pack(len(element)))
        parts.append(element)
    return b"".join(parts)


def pack_bundles(messages: Sequence[bytes], max_packet_bytes: int, time_tag: int = IMMEDIATELY) -> list[bytes]:
    """Group encoded messages, in order, into as few bundles as fit in ``max_packet_bytes`` each."""
    bundles: list[bytes] = []
    current: list[bytes] = []
    size = 16
    for message in messages:
        element_size = 4 + len(message)
        if 16 + element_size > max_packet_bytes:
            raise ValueError(f"one OSC message of {len(message)} bytes cannot fit a {max_packet_bytes}-byte bundle")
        if current and size + element_size > max_packet_bytes:
            bundles.append(encode_bundle(current, time_tag))
            current, size = [], 16
        current.append(message)
        size += element_size
    if current:
        bundles.append(encode_bundle(current, time_tag))
    return bundles
