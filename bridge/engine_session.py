"""What the server keeps per connected engine and per declared stream."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any


from bridge.pipeline_config import PipelineConfig
from bridge.protocol.errors import ErrorCode, ProtocolError
from bridge.protocol.audio_messages import Audio
from bridge.protocol.header_templates import KnownHeaders
from bridge.protocol.messages import Frame, Hello, StreamDeclaration
from bridge.stage import StageFrame, StreamSpec
from bridge.stage_chain import StageChain
from bridge.stream_stats import StreamStatsTracker

_engine_numbers = itertools.count(1)


@dataclass
class StreamRuntime:
    decl: StreamDeclaration
    spec: StreamSpec
    pipeline: PipelineConfig
    chain: StageChain
    stats: StreamStatsTracker
    take_key: str = ""  # names this stream in a recorded take
    last_index: int = -1  # index of the last FRAME received (controls are recorded before the next one)
    last_audio_index: int = -1  # index of the last AUDIO chunk accepted

    def check_audio(self, chunk: Audio) -> None:
        """An AUDIO chunk must match the stream's declared audio format and come after the previous one."""
        decl = self.decl
        where = dict(kind="AUDIO", stream=chunk.stream, index=chunk.index)
        if decl.audio is None:
            raise ProtocolError(ErrorCode.PLANE_MISMATCH,
                                f"AUDIO sent but stream {decl.id} ({decl.name!r}) was declared without audio", **where)
        if (chunk.sample_rate_hz, chunk.channels) != (decl.audio.sample_rate_hz, decl.audio.channels):
            raise ProtocolError(ErrorCode.PLANE_MISMATCH,
                                f"AUDIO is {chunk.format.describe()} but stream {decl.id} was declared "
                                f"{decl.audio.describe()}", **where)
        if chunk.index <= self.last_audio_index:
            raise ProtocolError(ErrorCode.BAD_FIELD, f"AUDIO index {chunk.index} is not above the previous chunk's "
                                f"{self.last_audio_index} (indices increase strictly per stream)", **where)

    def check_frame(self, frame: Frame) -> None:
        """Planes must match what HELLO declared for this stream; raises PLANE_MISMATCH naming the plane."""
        decl = self.decl
        where = dict(kind="FRAME", stream=frame.stream, index=frame.index)
        color = frame.plane("color")
        if color is None:
            raise ProtocolError(ErrorCode.PLANE_MISMATCH, "FRAME has no color plane", **where)
        for plane in frame.planes:
            d = plane.descriptor
            if (d.width, d.height) != (decl.width, decl.height):
                raise ProtocolError(
                    ErrorCode.PLANE_MISMATCH,
                    f"{d.kind} plane is {d.width}x{d.height} but stream {decl.id} ({decl.name!r}) "
                    f"was declared {decl.width}x{decl.height}",
                    **where,
                )
            if d.kind == "color" and d.format != decl.color_format:
                raise ProtocolError(
                    ErrorCode.PLANE_MISMATCH,
                    f"color plane is {d.format} but stream {decl.id} was declared {decl.color_format}", **where
                )
            if d.kind == "depth" and d.format != decl.depth_format:
                declared = decl.depth_format or "no depth"
                raise ProtocolError(
                    ErrorCode.PLANE_MISMATCH,
                    f"depth plane is {d.format} but stream {decl.id} was declared with {declared}", **where
                )
            if d.kind == "mask" and not decl.mask:
                raise ProtocolError(
                    ErrorCode.PLANE_MISMATCH, f"mask plane sent but stream {decl.id} was declared without a mask", **where
                )

    def to_stage_frame(self, frame: Frame, t_received_ns: int, keepalive: object) -> StageFrame:
        """Zero-copy views of the planes for the pipeline."""
        planes = frame.planes
        depth_arr = mask_arr = None
        if len(planes) == 1:  # colour only, the usual case (check_frame made sure there is colour)
            color = planes[0]
        else:
            by_kind = {p.descriptor.kind: p for p in planes}
            color = by_kind["color"]
            depth = by_kind.get("depth")
            mask = by_kind.get("mask")
            depth_arr = depth.array("depth plane") if depth is not None else None
            mask_arr = mask.array("mask plane") if mask is not None else None
        return StageFrame(frame.index, frame.t_capture_ns, t_received_ns, color.array("color plane"),
                          self.decl.color_format, depth_arr, mask_arr, frame.camera, frame.timecode,
                          keepalive=keepalive, input_color_plane=color)


@dataclass
class EngineSession:
    routing_id: bytes
    hello: Hello
    last_seen_ns: int
    engine_id: str = field(default_factory=lambda: f"engine-{next(_engine_numbers)}")
    streams: dict[int, StreamRuntime] = field(default_factory=dict)
    ready: bool = False
    generation: int = 0
    results_dropped: int = 0
    known_frames: KnownHeaders = field(default_factory=lambda: KnownHeaders(Frame, max_header_bytes=1024))

    def learn_frame_shape(self, frame: Frame, body: list[Any]) -> None:
        """Remember the shape of a FRAME that passed every check, so later ones of that shape skip the full parse."""
        self.known_frames.learn_parts(frame, body)

    def match_known_frame(self, body: list[Any]) -> Frame | None:
        """The FRAME ``body`` carries when its header has a shape this engine sent (and the server accepted)
        before, and its planes have the sizes of that shape; None otherwise (then the full parse decides)."""
        return self.known_frames.match_parts(body)  # type: ignore[return-value]

    @property
    def label(self) -> str:
        return f"{self.engine_id} ({self.hello.engine})"
