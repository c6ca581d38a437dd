"""The header part: a msgpack map, encoded canonically, read with checks that name each field.

Canonical encoding (so every implementation re-encodes golden vectors byte for byte):
keys are strings in the order the protocol document lists them, integers take
the smallest msgpack form, floats are always float64, strings use the smallest
str form, optional fields are left out rather than sent as nil.
"""

from __future__ import annotations

from typing import Any

import msgpack

from bridge.protocol.errors import ErrorCode, ProtocolError

PROTOCOL_VERSION = 1
MAX_HEADER_BYTES = 65536
MAX_STRING_CHARS = 1024


def encode_header(fields: dict[str, Any]) -> bytes:
    return msgpack.packb(fields, use_bin_type=True, use_single_float=False, strict_types=False)


def _map_from_pairs(pairs: list[tuple[Any, Any]]) -> dict[str, Any]:
    """Build one decoded map; every key must be a msgpack str and appear once (any depth)."""
    value = dict(pairs)
    if len(value) != len(pairs):
        raise ValueError("a map repeats a key")
    for key in value:
        if type(key) is not str:
            raise ValueError(f"map key {key!r} is not a string")
    return value


def decode_header(data: Any) -> dict[str, Any]:
    """Decode part 0 into a map; raises MALFORMED_HEADER or BAD_VERSION naming the cause."""
    mv = memoryview(data)
    if mv.nbytes == 0:
        raise ProtocolError(ErrorCode.MALFORMED_HEADER, "header part is empty")
    if mv.nbytes > MAX_HEADER_BYTES:
        raise ProtocolError(
            ErrorCode.MALFORMED_HEADER, f"header part is {mv.nbytes} bytes, above the {MAX_HEADER_BYTES}-byte limit"
        )
    try:
        value = msgpack.unpackb(
            mv,
            raw=False,
            strict_map_key=True,
            object_pairs_hook=_map_from_pairs,
            max_str_len=MAX_HEADER_BYTES,
            max_bin_len=MAX_HEADER_BYTES,
            max_array_len=4096,
            max_map_len=4096,
        )
    except msgpack.ExtraData:
        raise ProtocolError(ErrorCode.MALFORMED_HEADER, "header part has bytes after the msgpack map") from None
    except (ValueError, msgpack.UnpackException, UnicodeDecodeError) as exc:
        detail = str(exc) or type(exc).__name__
        raise ProtocolError(ErrorCode.MALFORMED_HEADER, f"header part is not valid msgpack ({detail})") from None
    if not isinstance(value, dict):
        raise ProtocolError(
            ErrorCode.MALFORMED_HEADER, f"header must be a msgpack map, got {type(value).__name__}"
        )
    if "v" not in value:
        raise ProtocolError(ErrorCode.MALFORMED_HEADER, "header has no protocol version field 'v'")
    version = value["v"]
    if not isinstance(version, int) or isinstance(version, bool):
        raise ProtocolError(ErrorCode.BAD_VERSION, f"'v' must be an integer, got {type(version).__name__}")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(
            ErrorCode.BAD_VERSION, f"protocol version {version} is not supported (this peer speaks {PROTOCOL_VERSION})"
        )
    kind = value.get("kind")
    if not isinstance(kind, str):
        raise ProtocolError(ErrorCode.MALFORMED_HEADER, "header has no string field 'kind'")
    return value


_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "a boolean", list: "an array", dict: "a map"}


class FieldReader:
    """Reads typed fields of one map, naming ``where.field`` in every error."""

    def __init__(self, value: Any, where: str, kind: str | None = None) -> None:
        if not isinstance(value, dict):
            raise ProtocolError(ErrorCode.BAD_FIELD, f"{where} must be a map, got {type(value).__name__}", kind=kind)
        self.value = value
        self.where = where
        self.kind = kind

    def _fail(self, message: str) -> ProtocolError:
        return ProtocolError(ErrorCode.BAD_FIELD, message, kind=self.kind)

    def _get(self, name: str, typ: type, required: bool, default: Any) -> Any:
        if name not in self.value:
            if required:
                raise self._fail(f"{self.where}.{name} is missing")
            return default
        item = self.value[name]
        ok = isinstance(item, typ) and not (typ is not bool and isinstance(item, bool))
        if typ is float and isinstance(item, int) and not isinstance(item, bool):
            item, ok = float(item), True
        if not ok:
            raise self._fail(f"{self.where}.{name} must be {_TYPE_NAMES[typ]}, got {type(item).__name__}")
        if typ is str and len(item) > MAX_STRING_CHARS:
            raise self._fail(f"{self.where}.{name} is longer than {MAX_STRING_CHARS} characters")
        return item

    def int(self, name: str, *, required: bool = True, default: Any = None, lo: int | None = None,
            hi: int | None = None) -> Any:
        item = self._get(name, int, required, default)
        if item is not None and ((lo is not None and item < lo) or (hi is not None and item > hi)):
            raise self._fail(f"{self.where}.{name} = {item} is outside {lo}..{hi}")
        return item

    def float(self, name: str, *, required: bool = True, default: Any = None) -> Any:
        return self._get(name, float, required, default)

    def str(self, name: str, *, required: bool = True, default: Any = None) -> Any:
        return self._get(name, str, required, default)

    def bool(self, name: str, *, required: bool = True, default: Any = None) -> Any:
        return self._get(name, bool, required, default)

    def list(self, name: str, *, required: bool = True, default: Any = None, max_len: int = 4096) -> Any:
        item = self._get(name, list, required, default)
        if item is not None and len(item) > max_len:
            raise ProtocolError(
                ErrorCode.LIMIT_EXCEEDED, f"{self.where}.{name} has {len(item)} entries, above {max_len}", kind=self.kind
            )
        return item

    def map(self, name: str, *, required: bool = True, default: Any = None) -> Any:
        return self._get(name, dict, required, default)

    def floats(self, name: str, count: int, *, required: bool = True) -> Any:
        items = self.list(name, required=required)
        if items is None:
            return None
        if len(items) != count or not all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in items
        ):
            raise self._fail(f"{self.where}.{name} must be an array of {count} numbers")
        return [float(x) for x in items]

    def sub(self, name: str, *, required: bool = True) -> FieldReader | None:
        item = self.map(name, required=required)
        return None if item is None else FieldReader(item, f"{self.where}.{name}", self.kind)
