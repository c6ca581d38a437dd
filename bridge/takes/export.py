"""Export a take for editing: an MP4 per stream (+ WAV if audio was sent) and a BVH per performer.

Video: the recorded output (or, with ``inputs=True`` or when a stream has no
output, the engine's input) re-encoded once into one H.264 MP4 (yuv420p,
``crf``), each picture at its take-clock time (variable frame rate, so it
stays in sync with the audio), tagged with the take's start timecode.
Audio: the stream's chunks in one 16-bit WAV whose sample 0 is the instant of
the MP4's first picture.  Sound and pictures are put in sync through the
engine's clock: AUDIO and FRAME carry ``t_capture_ns`` on the same engine
clock, and the offset from that clock to the take clock is the smallest
(receipt - capture) over the stream's recorded frames (network delay only
ever adds to it), so a chunk is placed where its first sample was captured,
not where it happened to arrive (without recorded frames: where it arrived).
A chunk more than ``_RESYNC_S`` away from where the samples so far put it is
moved there (silence fills a gap, an overlap is cut).  Mocap: each performer's poses through
``mocap.bvh.BvhRecorder`` (interpolated onto a fixed frame time).
"""

from __future__ import annotations

import logging
import wave
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterable, Iterator

import av
import cv2
import numpy as np

from bridge.takes.layout import stream_dir_name
from bridge.takes.segments import tag_bt601, yuv420_frame
from bridge.takes.reader import AudioChunk, TakeReader

log = logging.getLogger(__name__)

_TIME_BASE = Fraction(1, 90_000)
_RESYNC_S = 0.25


@dataclass
class ExportResult:
    videos: list[Path] = field(default_factory=list)
    wavs: list[Path] = field(default_factory=list)
    bvhs: list[Path] = field(default_factory=list)
    frames: dict[str, int] = field(default_factory=dict)
    skipped_poses: int = 0

    @property
    def files(self) -> list[Path]:
        return [*self.videos, *self.wavs, *self.bvhs]


class VideoFileWriter:
    """Pictures placed at explicit times (variable frame rate) in one video file.

    ``.mp4``: H.264 yuv420p at ``crf`` (odd sizes padded by one edge pixel).
    ``.mkv``: lossless RGB (libx264rgb, qp 0) -- decoded pictures equal the written ones bit for bit.
    """

    def __init__(self, path: Path, width: int, height: int, fps: float, crf: int = 16, preset: str = "medium",
                 timecode: str | None = None) -> None:
        suffix = path.suffix.lower()
        if suffix not in (".mp4", ".mkv"):
            raise ValueError(f"video file {path} must end in .mp4 (H.264) or .mkv (lossless)")
        self.path = path
        self.width, self.height = width, height
        self.lossless = suffix == ".mkv"
        self._pad = (0, 0) if self.lossless else (height % 2, width % 2)
        self._container = av.open(str(path), "w", format="matroska" if self.lossless else "mp4")
        try:
            codec = "libx264rgb" if self.lossless else "libx264"
            self._stream = self._container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
            self._stream.width, self._stream.height = width + self._pad[1], height + self._pad[0]
            self._stream.pix_fmt = "rgb24" if self.lossless else "yuv420p"
            self._stream.codec_context.time_base = _TIME_BASE
            self._stream.time_base = _TIME_BASE
            self._stream.codec_context.options = (
                {"qp": "0", "preset": "ultrafast"} if self.lossless else {"crf": str(crf), "preset": preset}
            )
            if not self.lossless:
                tag_bt601(self._stream.codec_context)
            if timecode:
                self._stream.metadata["timecode"] = timecode
        except Exception:
            self._container.close()
            raise
        self._last_pts = -1
        self.count = 0

    def add(self, rgb: np.ndarray, t_s: float) -> None:
        if rgb.shape[:2] != (self.height, self.width):
            raise ValueError(f"picture is {rgb.shape[1]}x{rgb.shape[0]}, "
                             f"{self.path.name} is {self.width}x{self.height}")
        if self._pad != (0, 0):
            rgb = cv2.copyMakeBorder(rgb, 0, self._pad[0], 0, self._pad[1], cv2.BORDER_REPLICATE)
        pts = max(int(round(t_s / _TIME_BASE)), self._last_pts + 1)  # strictly increasing
        self._last_pts = pts
        rgb = np.ascontiguousarray(rgb)
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24") if self.lossless else yuv420_frame(rgb)
        frame.pts = pts
        frame.time_base = _TIME_BASE
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.count += 1

    def close(self) -> None:
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        finally:
            self._container.close()


def _picture_time_ns(t_ns: int, t_capture_ns: int, clock_offset_ns: int | None) -> int:
    """Take-clock time of an engine frame: its capture time on the take clock (receipt when unknown)."""
    return t_ns if clock_offset_ns is None or t_capture_ns <= 0 else t_capture_ns + clock_offset_ns


def _pictures(reader: TakeReader, key: str, use_inputs: bool) -> Iterator[tuple[np.ndarray, int, str]]:
    """(RGB, take-clock time of the engine frame it shows, timecode) in order."""
    offset = capture_clock_offset_ns(reader, key)
    if use_inputs:
        for frame in reader.input_frames(key, planes=False):
            yield frame.color_rgb, _picture_time_ns(frame.t_ns, frame.t_capture_ns, offset), frame.timecode
        return
    times = {}
    for table in reader.segments(key, "input"):
        for record in table["records"]:
            times[int(record["index"])] = (
                _picture_time_ns(int(record["t_ns"]), int(record.get("t_capture_ns", 0)), offset),
                str(record.get("timecode", "")))
    for frame in reader.output_frames(key):
        t_ns, timecode = times.get(frame.index, (frame.t_ns, frame.timecode))
        yield frame.color_rgb, t_ns, timecode


def export_video(reader: TakeReader, key: str, path: Path, *, use_inputs: bool = False, crf: int = 16,
                 progress: Callable[[int, int], None] | None = None) -> tuple[int, int | None]:
    """Write one MP4; returns (pictures written, take time of the first one)."""
    total = reader.input_count(key) if use_inputs else sum(len(t["records"]) for t in reader.segments(key, "output"))
    writer: VideoFileWriter | None = None
    t0_ns: int | None = None
    try:
        for rgb, t_ns, timecode in _pictures(reader, key, use_inputs):
            if writer is None:
                t0_ns = t_ns
                writer = VideoFileWriter(path, rgb.shape[1], rgb.shape[0], reader.fps_hint, crf=crf,
                                         timecode=timecode or None)
            writer.add(rgb, (t_ns - t0_ns) / 1e9)
            if progress is not None:
                progress(writer.count, total)
    finally:
        if writer is not None:
            writer.close()
    return (writer.count if writer is not None else 0), t0_ns


def capture_clock_offset_ns(reader: TakeReader, key: str) -> int | None:
    """Take clock minus engine clock for ``key``: the smallest (receipt - capture) of its recorded frames."""
    offsets = [int(record["t_ns"]) - int(record["t_capture_ns"])
               for table in reader.segments(key, "input") for record in table["records"]
               if int(record.get("t_capture_ns", 0)) > 0]
    return min(offsets) if offsets else None


def export_audio(reader: TakeReader, key: str, path: Path, t0_ns: int | None,
                 clock_offset_ns: int | None = None) -> int:
    """One WAV of a stream's audio, sample 0 at take time ``t0_ns`` (its first chunk when None); returns samples.

    With ``clock_offset_ns`` (``capture_clock_offset_ns``) each chunk's take time is its engine capture time
    plus the offset; without, the time it was received."""
    chunks = list(reader.audio_chunks(key))
    if not chunks:
        return 0
    rate, channels = chunks[0].sample_rate_hz, chunks[0].channels
    other = [c for c in chunks if (c.sample_rate_hz, c.channels) != (rate, channels)]
    if other:
        log.warning("take %s stream %s: %d audio chunks in another format than %d Hz x %d are left out of %s",
                    reader.name, key, len(other), rate, channels, path.name)
    def take_time_ns(chunk: AudioChunk) -> int:
        return chunk.t_ns if clock_offset_ns is None else chunk.t_capture_ns + clock_offset_ns

    start_ns = take_time_ns(chunks[0]) if t0_ns is None else t0_ns
    frame_bytes = 2 * channels
    out = bytearray()
    for position, chunk in enumerate(chunks):
        if (chunk.sample_rate_hz, chunk.channels) != (rate, channels):
            continue
        expected = int(round((take_time_ns(chunk) - start_ns) * rate / 1e9))
        here = len(out) // frame_bytes
        data = chunk.pcm_s16
        if position == 0 or abs(expected - here) > _RESYNC_S * rate:
            if expected < 0:  # begins before the first picture: keep only what follows it
                data = data[min(len(data), -expected * frame_bytes):]
                expected = 0
            if expected > here:
                out.extend(b"\x00" * ((expected - here) * frame_bytes))
            else:
                del out[expected * frame_bytes:]
        out.extend(data)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(bytes(out))
    return len(out) // frame_bytes


def export_bvh(reader: TakeReader, performer: str, path: Path, frame_time_s: float | None = None) -> tuple[int, int]:
    """A performer's poses as BVH; returns (BVH frames, poses that could not be parsed)."""
    from mocap.bvh import BvhRecorder
    from mocap.pose_wire import PoseWireError

    recorder = BvhRecorder(performer, interpolate=True)
    skipped = 0
    stamps = []
    for record in reader.mocap(performer):
        try:
            pose = record.pose()
        except PoseWireError as exc:
            skipped += 1
            log.warning("take %s: pose of %s at %s left out of the BVH: %s", reader.name, performer, record.timecode,
                        exc)
            continue
        stamps.append(pose.timestamp_ns)
        recorder.add(pose)
    if recorder.pose_count == 0:
        return 0, skipped
    if frame_time_s is None:
        frame_time_s = _pose_interval_s(stamps)
    return recorder.write(path, frame_time_s=frame_time_s), skipped


def _pose_interval_s(stamps: Iterable[int]) -> float:
    """The poses' median spacing, snapped to a common rate (1/30 .. 1/120 s); 1/60 s when unknown."""
    times = np.sort(np.asarray(list(stamps), dtype=np.int64))
    steps = np.diff(times)
    steps = steps[steps > 0]
    if steps.size == 0:
        return 1.0 / 60.0
    rate = 1e9 / float(np.median(steps))
    for common in (24, 25, 30, 50, 60, 90, 100, 120):
        if abs(rate - common) / common < 0.08:
            return 1.0 / common
    return 1.0 / min(max(rate, 1.0), 240.0)


def export_take(take: TakeReader | Path | str, out_dir: Path | str, *, inputs: bool = False, crf: int = 16,
                progress: Callable[[str, int, int], None] | None = None) -> ExportResult:
    """Write ``<stream>.mp4`` (+ ``<stream>.input.mp4`` with ``inputs``), ``<stream>.wav``, ``<performer>.bvh``."""
    reader = take if isinstance(take, TakeReader) else TakeReader(take)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = ExportResult()
    for key in reader.stream_keys():
        base = stream_dir_name(key)
        has_output = bool(reader.segments(key, "output"))
        has_input = bool(reader.segments(key, "input"))
        t0_ns = None
        jobs = []
        if has_output:
            jobs.append((False, out / f"{base}.mp4"))
        if has_input and (inputs or not has_output):
            jobs.append((True, out / (f"{base}.input.mp4" if has_output else f"{base}.mp4")))
        for use_inputs, path in jobs:
            label = f"{key} {'input' if use_inputs else 'output'}"
            count, first_ns = export_video(
                reader, key, path, use_inputs=use_inputs, crf=crf,
                progress=None if progress is None else (lambda done, total, label=label: progress(label, done, total)),
            )
            if count:
                result.videos.append(path)
                result.frames[label] = count
                t0_ns = first_ns if t0_ns is None else t0_ns
        if reader.segments(key, "audio"):
            wav_path = out / f"{base}.wav"
            if export_audio(reader, key, wav_path, t0_ns, capture_clock_offset_ns(reader, key)):
                result.wavs.append(wav_path)
    for performer in sorted(reader.performers()):
        path = out / f"{stream_dir_name(performer)}.bvh"
        frames, skipped = export_bvh(reader, performer, path)
        result.skipped_poses += skipped
        if frames:
            result.bvhs.append(path)
    return result


export = export_take  # the name the issue uses: ``export(take, out_dir)``
