"""Pictures on the wire: FRAME (engine -> server) and RESULT (server -> engine), with their planes.

These two kinds carry every picture, so they are parsed on the hot path of
every round trip.  ``Frame.from_header`` and ``Result.from_header`` first try
a lean path for the shape every engine and server sends (exact field types,
planes whose descriptors were already validated once: ``PlaneDescriptor.
cached``); anything else -- a missing, mistyped or out-of-range field, a
camera, an unknown plane layout -- goes through the full ``FieldReader`` path,
which raises the error naming the field.  Both paths accept and refuse exactly
the same messages (tests/unit/test_protocol_fast_paths.py).  docs/protocol.md
sections 6.3-6.4 are normative; field order below is the canonical key order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Sequence

from bridge.protocol.errors import ErrorCode, ProtocolError
from bridge.protocol.header_codec import MAX_STRING_CHARS, PROTOCOL_VERSION, FieldReader
from bridge.protocol.planes import Plane, PlaneDescriptor

MAX_PLANES = 4
MAX_STREAM_ID = 65535
MAX_U63 = 2**63 - 1
_MISSING = object()


def _base(kind: str) -> dict[str, Any]:
    return {"v": PROTOCOL_VERSION, "kind": kind}


@dataclass
class CameraInfo:
    """Camera pose (4x4 world-from-camera, row-major, metres) and pinhole intrinsics in pixels."""

    world_from_camera: list[float]
    intrinsics_px: list[float]  # fx, fy, cx, cy
    near_m: float
    far_m: float

    def to_wire(self) -> dict[str, Any]:
        return {
            "world_from_camera": [float(x) for x in self.world_from_camera],
            "intrinsics_px": [float(x) for x in self.intrinsics_px],
            "near_m": float(self.near_m),
            "far_m": float(self.far_m),
        }

    @classmethod
    def from_wire(cls, r: FieldReader) -> CameraInfo:
        return cls(
            world_from_camera=r.floats("world_from_camera", 16),
            intrinsics_px=r.floats("intrinsics_px", 4),
            near_m=r.float("near_m"),
            far_m=r.float("far_m"),
        )


def _lean_planes(raw: Any, parts: Sequence[Any]) -> list[Plane] | None:
    """Planes of the lean path: every descriptor a known valid layout, one per part, kinds distinct, sizes exact."""
    if type(raw) is not list or not 0 < len(raw) <= MAX_PLANES or len(raw) != len(parts):
        return None
    planes = []
    kinds = []
    for value, data in zip(raw, parts):
        desc = PlaneDescriptor.cached(value)
        if desc is None or desc.kind in kinds or memoryview(data).nbytes != desc.byte_length:
            return None
        kinds.append(desc.kind)
        planes.append(Plane(desc, data))
    return planes


def _u63(value: Any) -> bool:
    return type(value) is int and 0 <= value <= MAX_U63


def _planes_from(r: FieldReader, parts: Sequence[Any], kind: str, stream: int, index: int) -> list[Plane]:
    try:
        raw = r.list("planes", max_len=MAX_PLANES)
        descs = [PlaneDescriptor.from_wire(p, f"planes[{i}]") for i, p in enumerate(raw)]
    except ProtocolError as exc:  # name the frame the bad plane belongs to
        raise ProtocolError(exc.code, exc.message, kind=kind, stream=stream, index=index) from None
    if len(parts) != len(descs):
        raise ProtocolError(
            ErrorCode.PLANE_MISMATCH,
            f"header declares {len(descs)} planes but the message has {len(parts)} binary parts",
            kind=kind, stream=stream, index=index,
        )
    seen = set()
    planes = []
    for i, (desc, data) in enumerate(zip(descs, parts)):
        if desc.kind in seen:
            raise ProtocolError(
                ErrorCode.PLANE_MISMATCH, f"planes[{i}] repeats plane kind {desc.kind!r}", kind=kind, stream=stream, index=index
            )
        seen.add(desc.kind)
        nbytes = memoryview(data).nbytes
        if nbytes != desc.byte_length:
            raise ProtocolError(
                ErrorCode.PLANE_MISMATCH,
                f"planes[{i}] ({desc.kind}) has {nbytes} bytes but {desc.width}x{desc.height} {desc.format} "
                f"with stride {desc.stride} needs {desc.byte_length}",
                kind=kind, stream=stream, index=index,
            )
        planes.append(Plane(desc, data))
    return planes


@dataclass
class Frame:
    KIND: ClassVar[str] = "FRAME"
    stream: int
    index: int
    t_capture_ns: int
    planes: list[Plane]
    timecode: str | None = None
    camera: CameraInfo | None = None

    def plane(self, kind: str) -> Plane | None:
        return next((p for p in self.planes if p.descriptor.kind == kind), None)

    def to_header(self) -> dict[str, Any]:
        out = {
            **_base(self.KIND),
            "stream": self.stream,
            "index": self.index,
            "t_capture_ns": self.t_capture_ns,
        }
        if self.timecode is not None:
            out["timecode"] = self.timecode
        out["planes"] = [p.descriptor.to_wire() for p in self.planes]
        if self.camera is not None:
            out["camera"] = self.camera.to_wire()
        return out

    @classmethod
    def from_header(cls, r: FieldReader, parts: Sequence[Any]) -> Frame:
        header = r.value
        stream, index, t_capture_ns = header.get("stream"), header.get("index"), header.get("t_capture_ns")
        timecode = header.get("timecode", _MISSING)
        if (type(stream) is int and 0 <= stream <= MAX_STREAM_ID and _u63(index) and _u63(t_capture_ns)
                and "camera" not in header
                and (timecode is _MISSING or (type(timecode) is str and len(timecode) <= MAX_STRING_CHARS))):
            planes = _lean_planes(header.get("planes"), parts)
            if planes is not None:
                return cls(stream, index, t_capture_ns, planes, None if timecode is _MISSING else timecode)
        return cls._from_header_checked(r, parts)

    @classmethod
    def _from_header_checked(cls, r: FieldReader, parts: Sequence[Any]) -> Frame:
        """Every field through ``FieldReader``: the error names the first field that is wrong."""
        stream = r.int("stream", lo=0, hi=MAX_STREAM_ID)
        index = r.int("index", lo=0, hi=MAX_U63)
        camera_r = r.sub("camera", required=False)
        return cls(
            stream=stream,
            index=index,
            t_capture_ns=r.int("t_capture_ns", lo=0, hi=MAX_U63),
            timecode=r.str("timecode", required=False),
            planes=_planes_from(r, parts, cls.KIND, stream, index),
            camera=None if camera_r is None else CameraInfo.from_wire(camera_r),
        )


@dataclass
class Result:
    KIND: ClassVar[str] = "RESULT"
    stream: int
    index: int
    t_capture_ns: int
    planes: list[Plane]
    stage_us: dict[str, int] = field(default_factory=dict)
    server_us: int = 0
    dropped: int = 0
    held: bool = False

    def plane(self, kind: str) -> Plane | None:
        return next((p for p in self.planes if p.descriptor.kind == kind), None)

    def to_header(self) -> dict[str, Any]:
        return {
            **_base(self.KIND),
            "stream": self.stream,
            "index": self.index,
            "t_capture_ns": self.t_capture_ns,
            "planes": [p.descriptor.to_wire() for p in self.planes],
            "stage_us": dict(self.stage_us),
            "server_us": self.server_us,
            "dropped": self.dropped,
            "held": self.held,
        }

    @classmethod
    def from_header(cls, r: FieldReader, parts: Sequence[Any]) -> Result:
        header = r.value
        stream, index, t_capture_ns = header.get("stream"), header.get("index"), header.get("t_capture_ns")
        stage_us, server_us = header.get("stage_us", {}), header.get("server_us", 0)
        dropped, held = header.get("dropped", 0), header.get("held", False)
        if (type(stream) is int and 0 <= stream <= MAX_STREAM_ID and _u63(index) and _u63(t_capture_ns)
                and type(server_us) is int and server_us >= 0 and type(dropped) is int and dropped >= 0
                and type(held) is bool and type(stage_us) is dict
                and all(type(k) is str and type(v) is int for k, v in stage_us.items())):
            planes = _lean_planes(header.get("planes"), parts)
            if planes is not None:
                return cls(stream, index, t_capture_ns, planes, stage_us, server_us, dropped, held)
        return cls._from_header_checked(r, parts)

    @classmethod
    def _from_header_checked(cls, r: FieldReader, parts: Sequence[Any]) -> Result:
        """Every field through ``FieldReader``: the error names the first field that is wrong."""
        stream = r.int("stream", lo=0, hi=MAX_STREAM_ID)
        index = r.int("index", lo=0, hi=MAX_U63)
        stage_us = r.map("stage_us", required=False, default={})
        if not all(isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in stage_us.items()):
            raise ProtocolError(ErrorCode.BAD_FIELD, "stage_us must map stage names to integers", kind=cls.KIND)
        return cls(
            stream=stream,
            index=index,
            t_capture_ns=r.int("t_capture_ns", lo=0, hi=MAX_U63),
            planes=_planes_from(r, parts, cls.KIND, stream, index),
            stage_us=stage_us,
            server_us=r.int("server_us", required=False, default=0, lo=0),
            dropped=r.int("dropped", required=False, default=0, lo=0),
            held=r.bool("held", required=False, default=False),
        )
