"""Segment writers: one open segment per stream and kind, encoded on the writer thread, committed elsewhere.

Each writer appends items to its open segment (video through PyAV, depth and
mask into an ``.npz`` built member by member, PCM into a WAV) and rolls to a
new segment when the take clock enters the next ``segment_s`` slot, when the
picture size or audio format changes, or (``due``) when the slot has ended and
nothing more came.  A finished segment is closed here and handed, as a
``SegmentCommit``, to the committer thread, which fsyncs, renames and writes
the segment's table (see ``bridge.takes.layout``).  Nothing here touches a
socket or knows about the server.
"""

from __future__ import annotations

import io
import logging
import wave
import zipfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

import av
import cv2
import numpy as np

from bridge.takes.layout import PART_SUFFIX, segment_name
from bridge.takes.timecode import TakeTimecode

log = logging.getLogger(__name__)

_TO_RGB = {"RGBA8": cv2.COLOR_RGBA2RGB, "BGRA8": cv2.COLOR_BGRA2RGB, "BGR8": cv2.COLOR_BGR2RGB}
COLOR_FORMATS = ("RGB8", "RGBA8", "BGRA8", "BGR8")


@dataclass(frozen=True)
class EncodingSettings:
    """How a take encodes its pictures (recorded in each segment table)."""

    input_codec: str = "libx264rgb"  # lossless RGB at qp 0: the decoded picture equals the engine's bit for bit
    input_options: tuple[tuple[str, str], ...] = (("qp", "0"), ("preset", "ultrafast"))
    input_container: str = "matroska"  # "matroska" (.mkv) or "nut" (.nut, for codecs Matroska refuses, e.g. huffyuv)
    output_codec: str = "libx264"
    output_options: tuple[tuple[str, str], ...] = (("crf", "16"), ("preset", "ultrafast"))
    threads: int = 1  # per encoder; the writer runs beside the live pipeline and must stay small
    planes_compresslevel: int = 1  # zlib level of depth/mask members: fast, still lossless
    depth_storage: str = "float16"  # "float16" (F16 depth exact, F32 depth to 0.05 %) or "exact" (as received)
    # Deferred encoding: while the take records, pictures are written raw (rgb24 in NUT, a few memory copies
    # per frame) and a compactor process at idle priority re-encodes each committed segment into the codecs
    # above (``bridge.takes.compactor``), so encoding runs in the CPU time the live pipeline leaves idle.
    # Streams whose raw pictures would pass ``deferred_max_mib_per_s`` (input + output) are encoded live.
    deferred: bool = True
    deferred_max_mib_per_s: float = 96.0

    @classmethod
    def fast_lossless(cls) -> EncodingSettings:
        """Inputs in HuffYUV: about half the CPU of libx264rgb, about three times the disk space."""
        return cls(input_codec="huffyuv", input_options=(), input_container="nut")

    @property
    def input_suffix(self) -> str:
        return {"matroska": ".mkv", "nut": ".nut"}[self.input_container]

    def defers(self, width: int, height: int, rate: int) -> bool:
        """Whether a stream of this size is written raw now and compacted later (see ``deferred``)."""
        raw_mib_per_s = 2 * width * height * 3 * rate / (1024 * 1024)
        return self.deferred and raw_mib_per_s <= self.deferred_max_mib_per_s

    def final_video(self, kind: str) -> dict[str, Any]:
        """Codec, options, container and suffix a segment of ``kind`` ("input"/"output") ends up in."""
        if kind == "input":
            return {"codec": self.input_codec, "options": dict(self.input_options),
                    "container": self.input_container, "suffix": self.input_suffix}
        return {"codec": self.output_codec, "options": dict(self.output_options), "container": "mp4",
                "suffix": ".mp4"}

    def __post_init__(self) -> None:
        if self.deferred_max_mib_per_s < 0:
            raise ValueError(f"deferred_max_mib_per_s must not be negative, got {self.deferred_max_mib_per_s}")
        if self.input_container not in ("matroska", "nut"):
            raise ValueError(f"input_container must be 'matroska' or 'nut', got {self.input_container!r}")
        if self.depth_storage not in ("float16", "exact"):
            raise ValueError(f"depth_storage must be 'float16' or 'exact', got {self.depth_storage!r}")


def to_rgb(color: np.ndarray, color_format: str) -> np.ndarray:
    """Contiguous HxWx3 RGB uint8 from a colour array in one of ``COLOR_FORMATS``."""
    if color.dtype != np.uint8:
        raise ValueError(f"colour must be uint8, got {color.dtype}")
    code = _TO_RGB.get(color_format)
    if code is not None:
        return cv2.cvtColor(color, code)
    if color_format != "RGB8":
        raise ValueError(f"unknown colour format {color_format!r} (known: {', '.join(COLOR_FORMATS)})")
    if color.ndim != 3 or color.shape[2] != 3:
        raise ValueError(f"RGB8 colour must be HxWx3, got shape {color.shape}")
    return np.ascontiguousarray(color)


def to_float16(array: np.ndarray) -> np.ndarray:
    """float16 copy, rounded to nearest like ``astype``; OpenCV's converter is ~9x faster for float32 planes."""
    if array.dtype == np.float16:
        return array
    if array.dtype == np.float32 and array.ndim == 2:
        return cv2.multiply(array, 1.0, dtype=cv2.CV_16F)
    return array.astype(np.float16)


RAW_CODEC = "rawvideo"  # what deferred segments hold until the compactor has re-encoded them
RAW_CONTAINER, RAW_SUFFIX = "nut", ".raw.nut"


@dataclass
class SegmentCommit:
    """A closed segment waiting to be made durable: rename each (part, final), then write the table."""

    folder: Path
    files: list[tuple[Path, Path]]
    table_path: Path
    table: dict[str, Any]
    summary: dict[str, Any]


CommitSink = Callable[[SegmentCommit], None]


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


class _SegmentWriter:
    KIND = "segment"

    def __init__(self, folder: Path, stream_key: str, segment_ns: int, timecode: TakeTimecode,
                 commit: CommitSink) -> None:
        self.folder = folder
        self.stream_key = stream_key
        self.segment_ns = segment_ns
        self.timecode = timecode
        self._commit = commit
        self.next_seq = 0
        self.slot: int | None = None  # take-clock slot of the open segment; None when none is open
        self.records: list[dict[str, Any]] = []

    def due(self, now_ns: int, grace_ns: int) -> bool:
        """The open segment's slot ended ``grace_ns`` ago: close it even though nothing newer came."""
        return self.slot is not None and now_ns >= (self.slot + 1) * self.segment_ns + grace_ns

    def _paths(self, suffix: str) -> tuple[Path, Path]:
        final = self.folder / f"{segment_name(self.next_seq)}{suffix}"
        return final.with_name(final.name + PART_SUFFIX), final

    def _start(self, slot: int) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.slot = slot
        self.records = []

    def finish(self) -> None:
        """Close the open segment and hand it to the committer."""
        if self.slot is None:
            return
        files, table = self._close_files()
        seq = self.next_seq
        table = {"kind": self.KIND, "stream": self.stream_key, "seq": seq, "slot": self.slot, **table,
                 "records": self.records}
        summary = {"seq": seq, "count": len(self.records)}
        if self.records:
            summary.update(t0_ns=self.records[0]["t_ns"], t1_ns=self.records[-1]["t_ns"])
            if "index" in self.records[0]:
                summary.update(first_index=self.records[0]["index"], last_index=self.records[-1]["index"])
        commit = SegmentCommit(self.folder, files, self.folder / f"{segment_name(seq)}.json", table, summary)
        self.next_seq += 1
        self.slot = None
        self.records = []
        self._commit(commit)

    def abandon(self) -> None:
        """After a write error: release handles, leave the ``.part`` files, commit nothing."""
        try:
            self._abandon_files()
        except Exception:  # the disk already failed; closing may fail the same way
            log.debug("closing an abandoned %s segment of %s failed", self.KIND, self.stream_key, exc_info=True)
        self.slot = None
        self.records = []

    def _close_files(self) -> tuple[list[tuple[Path, Path]], dict[str, Any]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _abandon_files(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


_BT601 = 6  # AVCOL_SPC/PRI/TRC_SMPTE170M: what cv2's RGB -> I420 computes
_MPEG_RANGE = 1  # AVCOL_RANGE_MPEG (16..235)


def tag_bt601(codec_context: av.codec.context.CodecContext) -> None:
    """Say in the H.264 stream how its YUV was made, so every player converts it back the same way."""
    codec_context.colorspace = _BT601
    codec_context.color_primaries = _BT601
    codec_context.color_trc = _BT601
    codec_context.color_range = _MPEG_RANGE


def yuv420_frame(rgb: np.ndarray) -> av.VideoFrame:
    """An even-sized RGB picture as a yuv420p frame (BT.601, limited range), ~10x faster than swscale here."""
    frame = av.VideoFrame.from_ndarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420), format="yuv420p")
    frame.colorspace = _BT601
    frame.color_range = _MPEG_RANGE
    return frame


class VideoSegment:
    """One open PyAV container with one video stream, frames numbered 0, 1, 2... at the nominal rate."""

    def __init__(self, part: Path, container_format: str, codec: str, pix_fmt: str, width: int, height: int,
                 rate: int, options: dict[str, str], threads: int) -> None:
        self.container = av.open(str(part), "w", format=container_format)
        try:
            self.stream = self.container.add_stream(codec, rate=Fraction(rate, 1))
            self.stream.width, self.stream.height, self.stream.pix_fmt = width, height, pix_fmt
            self.stream.codec_context.options = dict(options)
            self.stream.codec_context.thread_count = threads
            if pix_fmt == "yuv420p":
                tag_bt601(self.stream.codec_context)
        except Exception:
            self.container.close()
            raise
        self.yuv = pix_fmt == "yuv420p"
        self.count = 0

    def add(self, rgb: np.ndarray) -> None:
        frame = yuv420_frame(rgb) if self.yuv else av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = self.count
        self.count += 1
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self) -> None:
        try:
            for packet in self.stream.encode(None):
                self.container.mux(packet)
        finally:
            self.container.close()

    def abandon(self) -> None:
        self.container.close()


def open_final_video(path: Path, final: dict[str, Any], width: int, height: int, rate: int,
                     threads: int) -> VideoSegment:
    """A segment video in its final form (``EncodingSettings.final_video``): H.264 yuv420p for ``mp4`` (sides
    padded to even, see ``pad_to_even``), RGB otherwise."""
    if final["container"] == "mp4":
        return VideoSegment(path, "mp4", final["codec"], "yuv420p", width + width % 2, height + height % 2, rate,
                            final["options"], threads)
    return VideoSegment(path, final["container"], final["codec"], "rgb24", width, height, rate, final["options"],
                        threads)


def pad_to_even(rgb: np.ndarray) -> np.ndarray:
    """An odd-sized picture grown by one edge pixel to even sides (yuv420p needs them; readers crop it off)."""
    height, width = rgb.shape[:2]
    if not (width % 2 or height % 2):
        return rgb
    return cv2.copyMakeBorder(rgb, 0, height % 2, 0, width % 2, cv2.BORDER_REPLICATE)


class _PictureSegmentWriter(_SegmentWriter):
    """A segment writer whose pictures go into one video file per segment: raw while deferred (the compactor
    re-encodes it into ``final``), else encoded live.  Subclasses say how the final form is opened."""

    def __init__(self, folder: Path, stream_key: str, segment_ns: int, timecode: TakeTimecode, commit: CommitSink,
                 settings: EncodingSettings, rate: int) -> None:
        super().__init__(folder, stream_key, segment_ns, timecode, commit)
        self.settings = settings
        self.rate = rate
        self._video: VideoSegment | None = None
        self._paths_video: tuple[Path, Path] | None = None
        self._size: tuple[int, int] | None = None
        self._deferred = False

    def _roll_for(self, t_ns: int, width: int, height: int) -> None:
        """Close the open segment when the take clock left its slot or the picture size changed; open one."""
        slot = t_ns // self.segment_ns
        if self.slot is not None and (slot != self.slot or (width, height) != self._size):
            self.finish()
        if self.slot is None:
            self._start(slot)
            self._size = (width, height)
            self._deferred = self.settings.defers(width, height, self.rate)
            if self._deferred:
                self._paths_video = self._paths(RAW_SUFFIX)
                self._video = VideoSegment(self._paths_video[0], RAW_CONTAINER, RAW_CODEC, "rgb24", width, height,
                                            self.rate, {}, 1)
            else:
                final = self.settings.final_video(self.KIND)
                self._paths_video = self._paths(final["suffix"])
                self._video = open_final_video(self._paths_video[0], final, width, height, self.rate,
                                               self.settings.threads)
            self._opened()

    def _opened(self) -> None:
        """A segment was opened (subclasses open their side files)."""

    def _close_video(self) -> tuple[tuple[Path, Path], dict[str, Any]]:
        """Close the video; its file pair and its part of the segment table."""
        assert self._video is not None and self._paths_video is not None
        video, self._video = self._video, None
        video.close()
        final = self.settings.final_video(self.KIND)
        width, height = self._size or (0, 0)
        table = {"video": self._paths_video[1].name, "codec": final["codec"], "options": final["options"],
                 "width": width, "height": height}
        if self._deferred:
            table.update(codec=RAW_CODEC, options={}, compact_to=final)
        return self._paths_video, table

    def _abandon_video(self) -> None:
        video, self._video = self._video, None
        if video is not None:
            video.abandon()


class InputSegmentWriter(_PictureSegmentWriter):
    """Engine pictures, lossless, plus depth and mask in a per-segment ``.npz``."""

    KIND = "input"

    def __init__(self, folder: Path, stream_key: str, segment_ns: int, timecode: TakeTimecode, commit: CommitSink,
                 settings: EncodingSettings, rate: int) -> None:
        super().__init__(folder, stream_key, segment_ns, timecode, commit, settings, rate)
        self._planes: zipfile.ZipFile | None = None
        self._paths_planes: tuple[Path, Path] | None = None

    def add(self, t_ns: int, index: int, t_capture_ns: int, engine_timecode: str | None, color: np.ndarray,
            color_format: str, depth: np.ndarray | None, mask: np.ndarray | None) -> None:
        rgb = to_rgb(color, color_format)
        self._roll_for(t_ns, rgb.shape[1], rgb.shape[0])
        assert self._video is not None
        position = self._video.count
        self._video.add(rgb)
        record: dict[str, Any] = {
            "index": int(index), "t_ns": int(t_ns), "t_capture_ns": int(t_capture_ns),
            "timecode": self.timecode.at(t_ns), "engine_timecode": engine_timecode, "source_format": color_format,
            "depth": None, "mask": None,
        }
        if depth is not None:
            depth_array = np.asarray(depth)
            if self.settings.depth_storage == "float16":
                depth_array = to_float16(depth_array)
            elif depth_array.dtype not in (np.float16, np.float32):
                depth_array = depth_array.astype(np.float32)
            record["depth"] = self._add_plane(f"depth_{position:05d}", depth_array)
        if mask is not None:
            record["mask"] = self._add_plane(f"mask_{position:05d}", np.asarray(mask, dtype=np.uint8))
        self.records.append(record)

    def _opened(self) -> None:
        self._paths_planes = self._paths(".npz")

    def _add_plane(self, member: str, array: np.ndarray) -> str:
        if self._planes is None:
            assert self._paths_planes is not None
            self._planes = zipfile.ZipFile(self._paths_planes[0], "w", compression=zipfile.ZIP_DEFLATED,
                                           compresslevel=self.settings.planes_compresslevel)
        self._planes.writestr(member + ".npy", _npy_bytes(array))
        return member

    def _close_files(self) -> tuple[list[tuple[Path, Path]], dict[str, Any]]:
        assert self._paths_planes is not None
        video_paths, table = self._close_video()
        files = [video_paths]
        planes_name = None
        if self._planes is not None:
            planes, self._planes = self._planes, None
            planes.close()
            files.append(self._paths_planes)
            planes_name = self._paths_planes[1].name
        table["planes"] = planes_name
        return files, table

    def _abandon_files(self) -> None:
        planes, self._planes = self._planes, None
        try:
            self._abandon_video()
        finally:
            if planes is not None:
                planes.close()


class OutputSegmentWriter(_PictureSegmentWriter):
    """Pipeline output pictures, H.264 (yuv420p; odd sizes padded by one edge pixel, cropped on reading)."""

    KIND = "output"

    def add(self, t_ns: int, index: int, color: np.ndarray, color_format: str, held: bool) -> None:
        rgb = to_rgb(color, color_format)
        height, width = rgb.shape[:2]
        self._roll_for(t_ns, width, height)
        assert self._video is not None
        self._video.add(rgb if self._deferred else pad_to_even(rgb))
        self.records.append({"index": int(index), "t_ns": int(t_ns), "timecode": self.timecode.at(t_ns),
                             "held": bool(held)})

    def _close_files(self) -> tuple[list[tuple[Path, Path]], dict[str, Any]]:
        video_paths, table = self._close_video()
        return [video_paths], table

    def _abandon_files(self) -> None:
        self._abandon_video()


class AudioSegmentWriter(_SegmentWriter):
    """16-bit PCM chunks into a WAV per segment; the table keeps each chunk's times and sample offset."""

    KIND = "audio"

    def __init__(self, folder: Path, stream_key: str, segment_ns: int, timecode: TakeTimecode,
                 commit: CommitSink) -> None:
        super().__init__(folder, stream_key, segment_ns, timecode, commit)
        self._wav: wave.Wave_write | None = None
        self._paths_wav: tuple[Path, Path] | None = None
        self._format: tuple[int, int] | None = None
        self._samples = 0

    def add(self, t_ns: int, t_capture_ns: int, sample_rate_hz: int, channels: int, pcm_s16: bytes) -> None:
        slot = t_ns // self.segment_ns
        if self.slot is not None and (slot != self.slot or (sample_rate_hz, channels) != self._format):
            self.finish()
        if self.slot is None:
            self._start(slot)
            self._format = (sample_rate_hz, channels)
            self._samples = 0
            self._paths_wav = self._paths(".wav")
            wav = wave.open(str(self._paths_wav[0]), "wb")
            wav.setnchannels(channels)
            wav.setsampwidth(2)
            wav.setframerate(sample_rate_hz)
            self._wav = wav
        assert self._wav is not None
        self._wav.writeframesraw(pcm_s16)
        samples = len(pcm_s16) // (2 * channels)
        self.records.append({"t_ns": int(t_ns), "t_capture_ns": int(t_capture_ns), "timecode": self.timecode.at(t_ns),
                             "offset": self._samples, "samples": samples})
        self._samples += samples

    def _close_files(self) -> tuple[list[tuple[Path, Path]], dict[str, Any]]:
        assert self._wav is not None and self._paths_wav is not None and self._format is not None
        wav, self._wav = self._wav, None
        wav.close()
        rate, channels = self._format
        return [self._paths_wav], {"wav": self._paths_wav[1].name, "sample_rate_hz": rate, "channels": channels,
                                   "samples": self._samples}

    def _abandon_files(self) -> None:
        wav, self._wav = self._wav, None
        if wav is not None:
            try:
                wav.close()
            except Exception:
                pass
