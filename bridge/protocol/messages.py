"""Message kinds of protocol version 1: dataclasses with ``to_header``/``from_header``.

A message on the wire is a ZeroMQ multipart message: part 0 is the header (a
msgpack map, see ``header_codec``), parts 1..N are the binary planes declared
in the header's ``planes`` array, in that order.  Only FRAME and RESULT carry
planes; every other kind is a single part.  ``docs/protocol.md`` is the
normative description; field order below is the canonical key order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Sequence

from bridge.protocol.audio_messages import Audio, AudioFormat
from bridge.protocol.errors import ErrorCode, ProtocolError
from bridge.protocol.header_codec import MAX_STRING_CHARS, PROTOCOL_VERSION, FieldReader, decode_header, encode_header
from bridge.protocol.frame_messages import (  # noqa: F401 (CameraInfo, MAX_PLANES: re-exported)
    MAX_PLANES, MAX_STREAM_ID, MAX_U63, CameraInfo, Frame, Result,
)
from bridge.protocol.header_templates import encode_frame_header, encode_result_header
from bridge.protocol.planes import PLANE_KIND_FORMATS
from bridge.protocol.session_messages import SessionEvent, StateChange

MAX_STREAMS_PER_ENGINE = 16


def _base(kind: str) -> dict[str, Any]:
    return {"v": PROTOCOL_VERSION, "kind": kind}


@dataclass
class StreamDeclaration:
    """A stream an engine will send: its resolution and formats, and the pipeline it asks for."""

    id: int
    name: str
    width: int
    height: int
    color_format: str = "RGBA8"
    depth_format: str | None = None
    mask: bool = False
    fps: float = 30.0
    pipeline: str | None = None
    audio: AudioFormat | None = None  # AUDIO chunks of this format follow the stream's FRAMEs (section 6.14)

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "width": self.width,
            "height": self.height,
            "color_format": self.color_format,
        }
        if self.depth_format is not None:
            out["depth_format"] = self.depth_format
        out["mask"] = self.mask
        out["fps"] = float(self.fps)
        if self.pipeline is not None:
            out["pipeline"] = self.pipeline
        if self.audio is not None:
            out["audio"] = self.audio.to_wire()
        return out

    @classmethod
    def from_wire(cls, r: FieldReader) -> StreamDeclaration:
        decl = cls(
            id=r.int("id", lo=0, hi=MAX_STREAM_ID),
            name=r.str("name"),
            width=r.int("width", lo=1, hi=16384),
            height=r.int("height", lo=1, hi=16384),
            color_format=r.str("color_format"),
            depth_format=r.str("depth_format", required=False),
            mask=r.bool("mask", required=False, default=False),
            fps=r.float("fps", required=False, default=30.0),
            pipeline=r.str("pipeline", required=False),
        )
        audio_r = r.sub("audio", required=False)
        if audio_r is not None:
            decl.audio = AudioFormat.from_wire(audio_r)
        if decl.color_format not in PLANE_KIND_FORMATS["color"]:
            raise ProtocolError(
                ErrorCode.BAD_FIELD,
                f"{r.where}.color_format {decl.color_format!r} is not one of {', '.join(PLANE_KIND_FORMATS['color'])}",
                kind="HELLO",
            )
        if decl.depth_format is not None and decl.depth_format not in PLANE_KIND_FORMATS["depth"]:
            raise ProtocolError(
                ErrorCode.BAD_FIELD,
                f"{r.where}.depth_format {decl.depth_format!r} is not one of {', '.join(PLANE_KIND_FORMATS['depth'])}",
                kind="HELLO",
            )
        if not 0.0 < decl.fps <= 1000.0:
            raise ProtocolError(ErrorCode.BAD_FIELD, f"{r.where}.fps {decl.fps} is outside (0, 1000]", kind="HELLO")
        return decl


def _strings(r: FieldReader, name: str, *, required: bool = True) -> list[str]:
    """An array of strings, each at most MAX_STRING_CHARS long (missing and optional: [])."""
    items = r.list(name, required=required, default=[])
    if not all(isinstance(x, str) and len(x) <= MAX_STRING_CHARS for x in items):
        raise ProtocolError(
            ErrorCode.BAD_FIELD, f"{r.where}.{name} must be an array of strings of at most {MAX_STRING_CHARS} characters",
            kind=r.kind,
        )
    return list(items)


@dataclass
class Hello:
    KIND: ClassVar[str] = "HELLO"
    engine: str
    streams: list[StreamDeclaration]
    client: str = "unknown"
    session: str = "default"
    capabilities: list[str] = field(default_factory=list)
    heartbeat_ms: int = 1000

    def to_header(self) -> dict[str, Any]:
        return {
            **_base(self.KIND),
            "engine": self.engine,
            "client": self.client,
            "session": self.session,
            "streams": [s.to_wire() for s in self.streams],
            "capabilities": list(self.capabilities),
            "heartbeat_ms": self.heartbeat_ms,
        }

    @classmethod
    def from_header(cls, r: FieldReader, parts: Sequence[Any]) -> Hello:
        raw_streams = r.list("streams", max_len=MAX_STREAMS_PER_ENGINE)
        streams = [StreamDeclaration.from_wire(FieldReader(s, f"streams[{i}]", cls.KIND)) for i, s in enumerate(raw_streams)]
        ids = [s.id for s in streams]
        if len(set(ids)) != len(ids):
            raise ProtocolError(ErrorCode.BAD_FIELD, f"streams declares a stream id twice: {ids}", kind=cls.KIND)
        caps = _strings(r, "capabilities", required=False)
        return cls(
            engine=r.str("engine"),
            client=r.str("client", required=False, default="unknown"),
            session=r.str("session", required=False, default="default"),
            streams=streams,
            capabilities=caps,
            heartbeat_ms=r.int("heartbeat_ms", required=False, default=1000, lo=10, hi=600000),
        )


@dataclass
class StreamGrant:
    """The server's answer for one declared stream: the pipeline it runs and the output it returns."""

    id: int
    pipeline: str
    stages: list[str]
    width: int
    height: int
    color_format: str

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "pipeline": self.pipeline,
            "stages": list(self.stages),
            "width": self.width,
            "height": self.height,
            "color_format": self.color_format,
        }

    @classmethod
    def from_wire(cls, r: FieldReader) -> StreamGrant:
        return cls(
            id=r.int("id", lo=0, hi=MAX_STREAM_ID),
            pipeline=r.str("pipeline"),
            stages=_strings(r, "stages"),
            width=r.int("width", lo=1),
            height=r.int("height", lo=1),
            color_format=r.str("color_format"),
        )


@dataclass
class Welcome:
    KIND: ClassVar[str] = "WELCOME"
    server: str
    engine_id: str
    session: str
    streams: list[StreamGrant]
    heartbeat_ms: int
    timeout_ms: int
    max_frame_bytes: int

    def to_header(self) -> dict[str, Any]:
        return {
            **_base(self.KIND),
            "server": self.server,
            "engine_id": self.engine_id,
            "session": self.session,
            "streams": [s.to_wire() for s in self.streams],
            "heartbeat_ms": self.heartbeat_ms,
            "timeout_ms": self.timeout_ms,
            "max_frame_bytes": self.max_frame_bytes,
        }

    @classmethod
    def from_header(cls, r: FieldReader, parts: Sequence[Any]) -> Welcome:
        return cls(
            server=r.str("server"),
            engine_id=r.str("engine_id"),
            session=r.str("session"),
            streams=[StreamGrant.from_wire(FieldReader(s, f"streams[{i}]", cls.KIND)) for i, s in enumerate(r.list("streams"))],
            heartbeat_ms=r.int("heartbeat_ms", lo=1),
            timeout_ms=r.int("timeout_ms", lo=1),
            max_frame_bytes=r.int("max_frame_bytes", lo=1),
        )


def _check_param_value(name: str, value: Any) -> None:
    scalar = (int, float, str, bool)
    if isinstance(value, scalar):
        return
    if isinstance(value, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value):
        return
    raise ProtocolError(
        ErrorCode.BAD_PARAM_VALUE,
        f"params.{name} must be a number, boolean, string or array of numbers, got {type(value).__name__}",
        kind="CONTROL",
    )


@dataclass
class Control:
    KIND: ClassVar[str] = "CONTROL"
    request_id: int
    stream: int
    stage: str
    params: dict[str, Any]
    glide_ms: float | None = None

    def to_header(self) -> dict[str, Any]:
        out = {
            **_base(self.KIND),
            "request_id": self.request_id,
            "stream": self.stream,
            "stage": self.stage,
            "params": dict(self.params),
        }
        if self.glide_ms is not None:
            out["glide_ms"] = float(self.glide_ms)
        return out

    @classmethod
    def from_header(cls, r: FieldReader, parts: Sequence[Any]) -> Control:
        params = r.map("params")
        for name, value in params.items():
            _check_param_value(name, value)
        glide = r.float("glide_ms", required=False)
        if glide is not None and not 0.0 <= glide <= 600000.0:
            raise ProtocolError(ErrorCode.BAD_FIELD, f"glide_ms {glide} is outside 0..600000", kind=cls.KIND)
        return cls(
            request_id=r.int("request_id", lo=0, hi=MAX_U63),
            stream=r.int("stream", lo=0, hi=MAX_STREAM_ID),
            stage=r.str("stage"),
            params=params,
            glide_ms=glide,
        )


@dataclass
class ControlAck:
    KIND: ClassVar[str] = "CONTROL_ACK"
    request_id: int
    ok: bool
    applied: dict[str, Any] = field(default_factory=dict)
    code: int | None = None
    reason: str | None = None

    def to_header(self) -> dict[str, Any]:
        out = {**_base(self.KIND), "request_id": self.request_id, "ok": self.ok, "applied": dict(self.applied)}
        if self.code is not None:
            out["code"] = self.code
        if self.reason is not None:
            out["reason"] = self.reason
        return out

    @classmethod
    def from_header(cls, r: FieldReader, parts: Sequence[Any]) -> ControlAck:
        return cls(
            request_id=r.int("request_id", lo=0),
            ok=r.bool("ok"),
            applied=r.map("applied", required=False, default={}),
            code=r.int("code", required=False),
            reason=r.str("reason", required=False),
        )


@dataclass
class StreamStats:
    id: int
    name: str
    frames_in: int
    frames_out: int
    dropped: int
    fps_in: float
    fps_out: float
    latency_ms_p50: float
    latency_ms_p95: float
    stage_ms: dict[str, float] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "frames_in": self.frames_in,
            "frames_out": self.frames_out,
            "dropped": self.dropped,
            "fps_in": float(self.fps_in),
            "fps_out": float(self.fps_out),
            "latency_ms_p50": float(self.latency_ms_p50),
            "latency_ms_p95": float(self.latency_ms_p95),
            "stage_ms": {k: float(v) for k, v in self.stage_ms.items()},
        }

    @classmethod
    def from_wire(cls, r: FieldReader) -> StreamStats:
        return cls(
            id=r.int("id"),
            name=r.str("name"),
            frames_in=r.int("frames_in"),
            frames_out=r.int("frames_out"),
            dropped=r.int("dropped"),
            fps_in=r.float("fps_in"),
            fps_out=r.float("fps_out"),
            latency_ms_p50=r.float("latency_ms_p50"),
            latency_ms_p95=r.float("latency_ms_p95"),
            stage_ms=_stage_ms(r),
        )


def _stage_ms(r: FieldReader) -> dict[str, float]:
    raw = r.map("stage_ms", required=False, default={})
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw.values()):
        raise ProtocolError(ErrorCode.BAD_FIELD, f"{r.where}.stage_ms must map stage names to numbers", kind=r.kind)
    return {k: float(v) for k, v in raw.items()}


@dataclass
class Stats:
    """From an engine (no ``streams``): a request.  From the server: the report for that engine's streams."""

    KIND: ClassVar[str] = "STATS"
    t_ns: int | None = None
    streams: list[StreamStats] | None = None

    def to_header(self) -> dict[str, Any]:
        out = _base(self.KIND)
        if self.t_ns is not None:
            out["t_ns"] = self.t_ns
        if self.streams is not None:
            out["streams"] = [s.to_wire() for s in self.streams]
        return out

    @classmethod
    def from_header(cls, r: FieldReader, parts: Sequence[Any]) -> Stats:
        raw = r.list("streams", required=False)
        return cls(
            t_ns=r.int("t_ns", required=False),
            streams=None if raw is None else [StreamStats.from_wire(FieldReader(s, f"streams[{i}]", cls.KIND)) for i, s in enumerate(raw)],
        )


@dataclass
class Error:
    KIND: ClassVar[str] = "ERROR"
    code: int
    name: str
    message: str
    ref_kind: str | None = None
    stream: int | None = None
    index: int | None = None

    @classmethod
    def from_exception(cls, exc: ProtocolError) -> Error:
        return cls(int(exc.code), exc.code.name, exc.message, exc.kind, exc.stream, exc.index)

    def to_header(self) -> dict[str, Any]:
        out = {**_base(self.KIND), "code": self.code, "name": self.name, "message": self.message}
        if self.ref_kind is not None:
            out["ref_kind"] = self.ref_kind
        if self.stream is not None:
            out["stream"] = self.stream
        if self.index is not None:
            out["index"] = self.index
        return out

    @classmethod
    def from_header(cls, r: FieldReader, parts: Sequence[Any]) -> Error:
        return cls(
            code=r.int("code"),
            name=r.str("name"),
            message=r.str("message"),
            ref_kind=r.str("ref_kind", required=False),
            stream=r.int("stream", required=False),
            index=r.int("index", required=False),
        )


@dataclass
class Heartbeat:
    KIND: ClassVar[str] = "HEARTBEAT"
    t_ns: int

    def to_header(self) -> dict[str, Any]:
        return {**_base(self.KIND), "t_ns": self.t_ns}

    @classmethod
    def from_header(cls, r: FieldReader, parts: Sequence[Any]) -> Heartbeat:
        return cls(t_ns=r.int("t_ns", lo=0, hi=MAX_U63))


@dataclass
class Bye:
    KIND: ClassVar[str] = "BYE"
    reason: str = ""

    def to_header(self) -> dict[str, Any]:
        return {**_base(self.KIND), "reason": self.reason}

    @classmethod
    def from_header(cls, r: FieldReader, parts: Sequence[Any]) -> Bye:
        return cls(reason=r.str("reason", required=False, default=""))


@dataclass
class Mocap:
    """A performer's pose.  Generic here (fields and the pose part carried as received, so the relay
    forwards the exact bytes); the pose layout is ``mocap.pose_wire`` (docs/protocol.md 6.11)."""

    KIND: ClassVar[str] = "MOCAP"
    fields: dict[str, Any] = field(default_factory=dict)
    parts: list[Any] = field(default_factory=list)

    def to_header(self) -> dict[str, Any]:
        return {**_base(self.KIND), **{k: v for k, v in self.fields.items() if k not in ("v", "kind")}}

    @classmethod
    def from_header(cls, r: FieldReader, parts: Sequence[Any]) -> Mocap:
        return cls(fields={k: v for k, v in r.value.items() if k not in ("v", "kind")}, parts=list(parts))


Message = (Hello | Welcome | Frame | Result | Control | ControlAck | Stats | Error | Heartbeat | Bye | Mocap
           | SessionEvent | StateChange | Audio)

MESSAGE_TYPES: dict[str, type] = {
    cls.KIND: cls
    for cls in (Hello, Welcome, Frame, Result, Control, ControlAck, Stats, Error, Heartbeat, Bye, Mocap,
                SessionEvent, StateChange, Audio)
}
PLANE_KINDS = {"FRAME", "RESULT", "MOCAP", "AUDIO"}  # kinds that carry binary parts after the header


def parse_message(parts: Sequence[Any]) -> Message:
    """Parse a multipart message (bytes, memoryviews or zmq frames); raises ``ProtocolError``."""
    if not parts:
        raise ProtocolError(ErrorCode.MALFORMED_HEADER, "message has no parts")
    header = decode_header(parts[0])
    kind = header["kind"]
    cls = MESSAGE_TYPES.get(kind)
    if cls is None:
        raise ProtocolError(
            ErrorCode.UNKNOWN_KIND, f"unknown message kind {kind!r} (known: {', '.join(MESSAGE_TYPES)})", kind=kind
        )
    body = parts[1:]
    if kind not in PLANE_KINDS and body:
        raise ProtocolError(
            ErrorCode.PLANE_MISMATCH, f"{kind} carries no binary parts, but {len(body)} followed the header", kind=kind
        )
    return cls.from_header(FieldReader(header, kind, kind), body)


def serialize_message(msg: Message) -> list[Any]:
    """Header bytes followed by each plane's buffer (not copied)."""
    if isinstance(msg, Frame):  # the picture kinds: through their shape's template (the same bytes, faster)
        return [encode_frame_header(msg), *[p.data for p in msg.planes]]
    if isinstance(msg, Result):
        return [encode_result_header(msg), *[p.data for p in msg.planes]]
    parts: list[Any] = [encode_header(msg.to_header())]
    if isinstance(msg, Mocap):
        parts.extend(msg.parts)
    elif isinstance(msg, Audio):
        parts.append(msg.pcm)
    return parts
