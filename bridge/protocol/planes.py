"""Image planes on the wire: what a plane descriptor says and how its bytes map to arrays.

A plane is one binary message part holding ``height`` rows of ``stride`` bytes;
each row starts with ``width`` pixels of ``format`` and may be padded up to
``stride``.  Multi-byte samples (float16/float32 depth) are little-endian.
Arrays are views on the received buffer: no copy is made in either direction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bridge.protocol.errors import ErrorCode, ProtocolError

MAX_SIDE_PX = 16384

# format name -> (channels, numpy dtype); dtypes are little-endian on the wire.
PIXEL_FORMATS: dict[str, tuple[int, np.dtype]] = {
    "RGBA8": (4, np.dtype(np.uint8)),
    "RGB8": (3, np.dtype(np.uint8)),
    "BGRA8": (4, np.dtype(np.uint8)),
    "F16": (1, np.dtype("<f2")),
    "F32": (1, np.dtype("<f4")),
    "U8": (1, np.dtype(np.uint8)),
}

# which formats each plane kind may carry
PLANE_KIND_FORMATS: dict[str, tuple[str, ...]] = {
    "color": ("RGBA8", "RGB8", "BGRA8"),
    "depth": ("F16", "F32"),
    "mask": ("U8",),
}


def bytes_per_pixel(fmt: str) -> int:
    channels, dtype = PIXEL_FORMATS[fmt]
    return channels * dtype.itemsize


_DESCRIPTOR_CACHE_SIZE = 256
_DESCRIPTOR_CACHE: dict[tuple[Any, ...], PlaneDescriptor] = {}
_ARRAY_DESCRIPTOR_CACHE: dict[tuple[Any, ...], PlaneDescriptor] = {}


@dataclass(frozen=True)
class PlaneDescriptor:
    """Shape and layout of one plane; serialised as a msgpack map in this key order."""

    kind: str
    format: str
    width: int
    height: int
    stride: int

    def __post_init__(self) -> None:
        # Descriptors key the layout and header-template caches on every frame: the key is worked out once.
        # It holds each field's type too: a width of 6.0 (or True for 1) is a different (invalid) layout that
        # must never find the cached encoding of the integer one.
        fields = (self.kind, self.format, self.width, self.height, self.stride)
        key = (*fields, *map(type, fields))
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "_hash", hash(key))

    def __hash__(self) -> int:
        return self._hash  # type: ignore[attr-defined]

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if type(other) is not PlaneDescriptor:
            return NotImplemented
        return self._key == other._key  # type: ignore[attr-defined]

    @property
    def row_bytes(self) -> int:
        return self.width * bytes_per_pixel(self.format)

    @property
    def byte_length(self) -> int:
        return self.stride * self.height

    def to_wire(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "stride": self.stride,
        }

    @classmethod
    def from_wire(cls, value: Any, where: str) -> PlaneDescriptor:
        if not isinstance(value, dict):
            raise ProtocolError(ErrorCode.BAD_FIELD, f"{where} must be a map, got {type(value).__name__}")
        fields = {}
        for name, typ in (("kind", str), ("format", str), ("width", int), ("height", int), ("stride", int)):
            if name not in value:
                raise ProtocolError(ErrorCode.BAD_FIELD, f"{where}.{name} is missing")
            item = value[name]
            if not isinstance(item, typ) or isinstance(item, bool):
                raise ProtocolError(
                    ErrorCode.BAD_FIELD, f"{where}.{name} must be {typ.__name__}, got {type(item).__name__}"
                )
            fields[name] = item
        desc = cls(**fields)
        desc.validate(where)
        return desc

    @classmethod
    def cached(cls, value: Any) -> PlaneDescriptor | None:
        """The descriptor a plane map describes when it has exactly the five fields with exact types and that
        layout was validated before (or validates now); None otherwise (``from_wire`` then says what is wrong).

        Streams send the same few layouts frame after frame, so validating each once saves every later frame
        the checks.  The cache is bounded (``_DESCRIPTOR_CACHE_SIZE``) and holds only valid layouts.
        """
        if type(value) is not dict or len(value) != 5:
            return None
        key = (value.get("kind"), value.get("format"), value.get("width"), value.get("height"), value.get("stride"))
        kind, fmt, width, height, stride = key
        # types first: 4.0 == 4 and True == 1 would find the cached layout of the integer
        if not (type(kind) is str and type(fmt) is str and type(width) is int and type(height) is int
                and type(stride) is int):
            return None
        desc = _DESCRIPTOR_CACHE.get(key)
        if desc is not None:
            return desc
        desc = cls(kind, fmt, width, height, stride)
        try:
            desc.validate()
        except ProtocolError:
            return None
        if len(_DESCRIPTOR_CACHE) >= _DESCRIPTOR_CACHE_SIZE:
            _DESCRIPTOR_CACHE.clear()
        _DESCRIPTOR_CACHE[key] = desc
        return desc

    def validate(self, where: str = "plane") -> None:
        if self.kind not in PLANE_KIND_FORMATS:
            raise ProtocolError(
                ErrorCode.PLANE_MISMATCH,
                f"{where}.kind {self.kind!r} is not one of {', '.join(PLANE_KIND_FORMATS)}",
            )
        allowed = PLANE_KIND_FORMATS[self.kind]
        if self.format not in allowed:
            raise ProtocolError(
                ErrorCode.PLANE_MISMATCH,
                f"{where}.format {self.format!r} is not allowed for a {self.kind} plane (allowed: {', '.join(allowed)})",
            )
        for name, side in (("width", self.width), ("height", self.height)):
            if not 1 <= side <= MAX_SIDE_PX:
                raise ProtocolError(ErrorCode.LIMIT_EXCEEDED, f"{where}.{name} {side} is outside 1..{MAX_SIDE_PX}")
        if self.stride < self.row_bytes:
            raise ProtocolError(
                ErrorCode.PLANE_MISMATCH,
                f"{where}.stride {self.stride} is smaller than width*bytes_per_pixel = {self.row_bytes}",
            )
        itemsize = PIXEL_FORMATS[self.format][1].itemsize
        if self.stride % itemsize:
            raise ProtocolError(
                ErrorCode.PLANE_MISMATCH, f"{where}.stride {self.stride} is not a multiple of {itemsize}"
            )

    def view(self, buffer: Any, where: str = "plane") -> np.ndarray:
        """A zero-copy array on ``buffer``: (H, W, C) for colour, (H, W) otherwise."""
        plan = self.__dict__.get("_view_plan") or self._view_plan_for(where)
        byte_length, dtype, shape, strides = plan
        mv = memoryview(buffer)
        if mv.nbytes != byte_length:
            raise ProtocolError(
                ErrorCode.PLANE_MISMATCH,
                f"{where} has {mv.nbytes} bytes but {self.width}x{self.height} {self.format} "
                f"with stride {self.stride} needs {byte_length}",
            )
        if mv.ndim != 1 or mv.format != "B":
            mv = mv.cast("B")
        if strides is None:
            return np.frombuffer(mv, dtype=dtype).reshape(shape)
        return np.ndarray(shape=shape, dtype=dtype, buffer=mv, strides=strides)

    def _view_plan_for(self, where: str) -> tuple[int, np.dtype, tuple[int, ...], tuple[int, ...] | None]:
        """How ``view`` lays an array over a buffer of this layout (worked out once per descriptor: views are
        made for every frame)."""
        channels, dtype = PIXEL_FORMATS[self.format]
        if self.stride % dtype.itemsize:
            raise ProtocolError(
                ErrorCode.PLANE_MISMATCH, f"{where}.stride {self.stride} is not a multiple of {dtype.itemsize}"
            )
        shape: tuple[int, ...] = (self.height, self.width, channels) if channels > 1 else (self.height, self.width)
        strides = None if self.stride == self.row_bytes else (
            (self.stride, channels * dtype.itemsize, dtype.itemsize)[: len(shape)])
        plan = (self.byte_length, dtype, shape, strides)
        object.__setattr__(self, "_view_plan", plan)
        return plan

    @classmethod
    def for_array(cls, kind: str, fmt: str, array: np.ndarray) -> PlaneDescriptor:
        """Describe ``array`` (which must be C-contiguous per row) as a plane of ``fmt`` (each layout is checked
        once: an engine sends the same few layouts every frame)."""
        key = (kind, fmt, array.shape, array.strides, array.dtype.str)
        desc = _ARRAY_DESCRIPTOR_CACHE.get(key)
        if desc is None:
            desc = cls._for_array_checked(kind, fmt, array)
            if len(_ARRAY_DESCRIPTOR_CACHE) >= _DESCRIPTOR_CACHE_SIZE:
                _ARRAY_DESCRIPTOR_CACHE.clear()
            _ARRAY_DESCRIPTOR_CACHE[key] = desc
        return desc

    @classmethod
    def _for_array_checked(cls, kind: str, fmt: str, array: np.ndarray) -> PlaneDescriptor:
        if fmt not in PIXEL_FORMATS:
            raise ValueError(f"unknown pixel format {fmt!r} (known: {', '.join(PIXEL_FORMATS)})")
        channels, dtype = PIXEL_FORMATS[fmt]
        if array.dtype != dtype:
            raise ValueError(f"{kind} plane as {fmt} needs dtype {dtype}, got {array.dtype}")
        expected_ndim = 3 if channels > 1 else 2
        if array.ndim != expected_ndim or (channels > 1 and array.shape[2] != channels):
            raise ValueError(f"{kind} plane as {fmt} needs shape (H, W{', %d' % channels if channels > 1 else ''}), got {array.shape}")
        if array.strides[1] != channels * dtype.itemsize or (channels > 1 and array.strides[2] != dtype.itemsize):
            raise ValueError(f"{kind} plane rows must be packed pixels; got strides {array.strides}")
        desc = cls(kind, fmt, int(array.shape[1]), int(array.shape[0]), int(array.strides[0]))
        desc.validate(kind)
        return desc


@dataclass
class Plane:
    """One plane: its descriptor and its bytes (any buffer: bytes, memoryview, zmq frame)."""

    descriptor: PlaneDescriptor
    data: Any

    @classmethod
    def from_array(cls, kind: str, fmt: str, array: np.ndarray) -> Plane:
        """Wrap ``array`` without copying when it is C-contiguous (else one packed copy)."""
        if not array.flags.c_contiguous:
            array = np.ascontiguousarray(array)
        desc = PlaneDescriptor.for_array(kind, fmt, array)
        return cls(desc, memoryview(array).cast("B"))

    def array(self, where: str = "plane") -> np.ndarray:
        return self.descriptor.view(self.data, where)

