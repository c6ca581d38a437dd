"""Re-render a take offline: its recorded inputs, control timeline and mocap through any pipeline, no drops.

Every recorded input frame of the chosen stream goes through every stage in
order on this thread (no mailboxes, so nothing is dropped, however slow the
pipeline), and exactly one output picture is written per input frame, in
recorded order.  A stage that marks a frame ``held`` repeats the previous
output, as the live chain does.

Controls: each recorded CONTROL is applied just before the input frame it
preceded live.  Glides run on the *take clock*, not the wall clock: the
recorder's time of the control starts the glide and each frame sees the value
at its own recorded time, so a glide lasts the same number of frames as it
did live however fast or slow the re-render runs.  A control naming a stage
the new pipeline lacks, or a value it refuses, is reported and skipped.

Mocap: a stage with an ``on_mocap(record: MocapRecord)`` method (``MocapConsumer``)
receives, before each frame, every recorded pose up to that frame's time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence, runtime_checkable

import cv2
import numpy as np

from bridge.pipeline_config import PipelineConfig, PipelineConfigError
from bridge.stage import StageBase, StageFrame, StreamSpec
from bridge.stage_params import ParamError, StageParams
from bridge.takes.export import VideoFileWriter
from bridge.takes.reader import ControlEvent, MocapRecord, TakeReader

log = logging.getLogger(__name__)

_DEPTH_FORMATS = {"float16": "F16", "float32": "F32"}


class RerenderError(Exception):
    """The re-render could not go on; the message names the stage, frame or file."""


@runtime_checkable
class MocapConsumer(Protocol):
    def on_mocap(self, record: MocapRecord) -> None: ...


@dataclass
class RerenderProgress:
    done: int
    total: int
    elapsed_s: float

    @property
    def fps(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        return (self.total - self.done) / self.fps if self.done and self.fps > 0 else None


@dataclass
class RerenderReport:
    out_path: Path
    stream: str
    pipeline: str
    width: int
    height: int
    frames_written: int = 0
    input_indices: list[int] = field(default_factory=list)
    held: list[bool] = field(default_factory=list)
    controls_applied: list[ControlEvent] = field(default_factory=list)
    controls_skipped: list[tuple[ControlEvent, str]] = field(default_factory=list)
    poses_delivered: int = 0
    elapsed_s: float = 0.0


class ControlTimeline:
    """Applies recorded controls to live stages with glides evaluated on the take clock."""

    def __init__(self, stages: Sequence[StageBase]) -> None:
        self.stages = {stage.name: stage for stage in stages}
        self._shadows: dict[str, StageParams] = {}
        self._pushed: dict[str, dict[str, Any]] = {}
        for stage in stages:
            snapshot = stage.params.snapshot()
            self._shadows[stage.name] = StageParams.build(stage.params.specs.values(), snapshot, stage=stage.name)
            self._pushed[stage.name] = snapshot

    def apply(self, control: ControlEvent) -> str | None:
        """Start ``control`` at its recorded time; returns why it was skipped, or None."""
        stage = self.stages.get(control.stage)
        if stage is None:
            return f"stage {control.stage!r} is not in this pipeline (stages: {', '.join(self.stages)})"
        try:
            updates = stage.translate_updates(dict(control.params))
            self._shadows[control.stage].update(updates, control.glide_ms, now_ns=control.t_ns)
        except ParamError as exc:
            return f"stage {control.stage!r} refused it: {exc.message}"
        return None

    def settle(self, t_ns: int) -> None:
        """Give every stage the values its controls have reached at take time ``t_ns``."""
        for name, shadow in self._shadows.items():
            values = shadow.snapshot(now_ns=t_ns)
            pushed = self._pushed[name]
            changed = {k: v for k, v in values.items() if pushed.get(k) != v}
            if changed:
                self.stages[name].params.update(changed, None)
                pushed.update(changed)


def _mocap_feed(reader: TakeReader) -> Iterator[MocapRecord]:
    yield from reader.mocap()


def _scaled(frame_rgb: np.ndarray, depth: np.ndarray | None, mask: np.ndarray | None,
            size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    width, height = size
    if frame_rgb.shape[:2] == (height, width):
        return frame_rgb, depth, mask
    rgb = cv2.resize(frame_rgb, (width, height), interpolation=cv2.INTER_CUBIC)
    if depth is not None:
        resized = cv2.resize(depth.astype(np.float32), (width, height), interpolation=cv2.INTER_NEAREST)
        depth = resized.astype(depth.dtype)
    if mask is not None:
        mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)
    return rgb, depth, mask


def rerender_stages(reader: TakeReader, stages: Sequence[StageBase], out_path: Path | str,
                    progress: Callable[[RerenderProgress], None] | None = None, *, stream_key: str | None = None,
                    scale: float = 1.0, crf: int = 16, pipeline_name: str = "pipeline") -> RerenderReport:
    """Run ``stages`` (built, not yet set up; closed here) over a recorded stream; see module doc."""
    if not stages:
        raise RerenderError("a pipeline needs at least one stage")
    if not 0.1 <= scale <= 8.0:
        raise RerenderError(f"scale must be between 0.1 and 8, got {scale}")
    key = stream_key or reader.default_stream()
    if key not in reader.stream_keys():
        raise RerenderError(f"take {reader.name} has no stream {key!r} (streams: {', '.join(reader.stream_keys())})")
    rec_width, rec_height, depth_dtype, has_mask = reader.input_geometry(key)
    width, height = max(2, round(rec_width * scale)), max(2, round(rec_height * scale))
    spec = StreamSpec(engine="rerender", stream_id=0, name=key, width=width, height=height, color_format="RGB8",
                      depth_format=_DEPTH_FORMATS.get(depth_dtype or ""), has_mask=has_mask, fps=reader.fps_hint)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    report = RerenderReport(out, key, pipeline_name, width, height)
    set_up: list[StageBase] = []
    writer: VideoFileWriter | None = None
    try:
        for stage in stages:
            try:
                stage.setup(spec)
            except Exception as exc:
                raise RerenderError(f"stage {stage.name!r} could not start for {width}x{height}: {exc}") from exc
            set_up.append(stage)
        timeline = ControlTimeline(stages)
        consumers = [s for s in stages if isinstance(s, MocapConsumer)]
        poses = _mocap_feed(reader) if consumers else iter(())
        next_pose = next(poses, None)
        total = reader.input_count(key)
        started = time.perf_counter()
        last_output: np.ndarray | None = None
        t0_ns: int | None = None
        for recorded in reader.input_frames(key):
            for control in recorded.controls:
                reason = timeline.apply(control)
                if reason is None:
                    report.controls_applied.append(control)
                else:
                    report.controls_skipped.append((control, reason))
                    log.warning("rerender: control before frame %d skipped: %s", recorded.index, reason)
            timeline.settle(recorded.t_ns)
            while next_pose is not None and next_pose.t_ns <= recorded.t_ns:
                for consumer in consumers:
                    consumer.on_mocap(next_pose)
                report.poses_delivered += 1
                next_pose = next(poses, None)
            rgb, depth, mask = _scaled(recorded.color_rgb, recorded.depth_m, recorded.mask, (width, height))
            frame = StageFrame(index=recorded.index, t_capture_ns=recorded.t_capture_ns, t_received_ns=recorded.t_ns,
                               input_color=rgb, input_format="RGB8", depth=depth, mask=mask,
                               timecode=recorded.engine_timecode)
            for stage in stages:
                if frame.held:
                    break
                try:
                    stage.process(frame)
                except Exception as exc:
                    raise RerenderError(f"stage {stage.name!r} failed on input frame {recorded.index} "
                                        f"({recorded.timecode}): {exc}") from exc
            if frame.held and last_output is not None:
                output = last_output
            else:
                frame.held = False
                output = frame.rgb()
                if output.shape[:2] != (height, width):
                    raise RerenderError(f"stage output for frame {recorded.index} is {output.shape[1]}x"
                                        f"{output.shape[0]}, the stream is {width}x{height}")
                last_output = output
            if writer is None:
                t0_ns = recorded.t_ns
                writer = VideoFileWriter(out, width, height, reader.fps_hint, crf=crf,
                                         timecode=recorded.timecode or None)
            assert t0_ns is not None
            writer.add(output, (recorded.t_ns - t0_ns) / 1e9)
            report.frames_written += 1
            report.input_indices.append(recorded.index)
            report.held.append(frame.held)
            if progress is not None:
                progress(RerenderProgress(report.frames_written, total, time.perf_counter() - started))
        report.elapsed_s = time.perf_counter() - started
        for control in reader.trailing_controls(key):
            report.controls_skipped.append((control, "recorded after the last input frame"))
    finally:
        if writer is not None:
            writer.close()
        for stage in set_up:
            try:
                stage.close()
            except Exception:
                log.exception("closing stage %s after the re-render failed", stage.name)
    return report


def pipeline_as_dict(config: PipelineConfig) -> dict[str, Any]:
    """A pipeline as the TOML-able mapping ``TakeRecorder.start`` stores (``PipelineConfig.from_mapping`` reads it)."""
    return {
        "name": config.name,
        "description": config.description,
        "stage": [{"type": s.type, "name": s.name, "params": dict(s.params)} for s in config.stages],
    }


def recorded_pipeline(reader: TakeReader, stream_key: str | None = None) -> PipelineConfig:
    """The pipeline that was live on a stream when the take was recorded."""
    key = stream_key or reader.default_stream()
    data = reader.pipelines.get(key)
    if not isinstance(data, dict):
        raise RerenderError(f"take {reader.name} did not record the pipeline of stream {key!r}")
    try:
        return PipelineConfig.from_mapping(data, source=f"take {reader.name} stream {key}", default_name="recorded")
    except PipelineConfigError as exc:
        raise RerenderError(str(exc)) from None


def rerender(take: TakeReader | Path | str, pipeline: PipelineConfig | Path | str, out_path: Path | str,
             progress: Callable[[RerenderProgress], None] | None = None, *, stream_key: str | None = None,
             scale: float = 1.0, crf: int = 16) -> RerenderReport:
    """Replay a take through ``pipeline`` into ``out_path``.

    ``pipeline``: a ``PipelineConfig``, a TOML path, ``builtin:NAME``, or ``recorded`` (the pipeline that
    was live on the stream).  ``out_path`` ending in ``.mp4`` gets H.264 at ``crf``; ``.mkv`` lossless RGB.
    """
    reader = take if isinstance(take, TakeReader) else TakeReader(take)
    if isinstance(pipeline, PipelineConfig):
        config = pipeline
    elif str(pipeline) == "recorded":
        config = recorded_pipeline(reader, stream_key)
    else:
        config = PipelineConfig.load(pipeline)
    return rerender_stages(reader, config.build_stages(), out_path, progress, stream_key=stream_key, scale=scale,
                           crf=crf, pipeline_name=config.name)
