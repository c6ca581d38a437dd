"""``TakeReader``: open a take (complete, failed, or left behind by a killed process) and read it back.

The committed segment tables are the truth: the reader scans them, so it sees
every complete segment even when the manifest is stale.  A take whose
manifest still says ``recording`` while no process holds its lock was left by
a recorder that died: the reader rebuilds the manifest from the committed
segments and the event logs (status ``interrupted``, the unfinished ``.part``
files listed as left out) and, with ``repair=True``, writes it back atomically.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import msgpack
import numpy as np

from bridge.takes.layout import (
    CONTROLS_FILE, MANIFEST, MOCAP_FILE, PART_SUFFIX, SEGMENT_KINDS, STATUS_FILE, STREAMS_DIR, TakeFormatError,
    is_being_recorded, read_json, read_status, segment_name, write_json_atomic,
)
from bridge.takes.manifest import TakeInfo, check_manifest, last_event_ns, stream_entry, take_info

log = logging.getLogger(__name__)


@dataclass
class ControlEvent:
    t_ns: int
    timecode: str | None
    stream: str
    stage: str
    params: dict[str, Any]
    glide_ms: float | None
    input_index: int  # applied before this input frame of ``stream``


@dataclass
class InputFrame:
    stream: str
    index: int
    t_ns: int  # take clock, when the server received it
    t_capture_ns: int  # engine clock
    timecode: str
    engine_timecode: str | None
    color_rgb: np.ndarray
    depth_m: np.ndarray | None
    mask: np.ndarray | None
    controls: list[ControlEvent] = field(default_factory=list)  # applied just before this frame


@dataclass
class OutputFrame:
    stream: str
    index: int  # the input frame it answers
    t_ns: int
    timecode: str
    held: bool
    color_rgb: np.ndarray


@dataclass
class MocapRecord:
    t_ns: int
    timecode: str | None
    performer: str
    fields: dict[str, Any]
    payload: bytes

    def pose(self):  # -> mocap.skeleton.HumanoidPose
        """The pose (``mocap.pose_wire.pose_from_wire``; raises ``PoseWireError`` for a malformed one)."""
        from mocap.pose_wire import pose_from_wire

        return pose_from_wire(self.fields, self.payload)


@dataclass
class AudioChunk:
    stream: str
    t_ns: int
    t_capture_ns: int
    timecode: str | None
    sample_rate_hz: int
    channels: int
    pcm_s16: bytes


def _decode_video(path: Path, expected: int, crop: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    """RGB pictures of a segment video, checked against the table's frame count."""
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise TakeFormatError(f"{path}: cannot open the segment video: {exc}") from None
    produced = 0
    try:
        for frame in container.decode(video=0):
            if produced >= expected:
                break
            rgb = frame.to_ndarray(format="rgb24")
            if crop is not None and rgb.shape[:2] != (crop[1], crop[0]):
                rgb = np.ascontiguousarray(rgb[: crop[1], : crop[0]])
            produced += 1
            yield rgb
    except av.error.FFmpegError as exc:
        raise TakeFormatError(f"{path}: decoding failed after {produced} frames: {exc}") from None
    finally:
        container.close()
    if produced < expected:
        raise TakeFormatError(f"{path}: holds {produced} frames, its table lists {expected}")


class TakeReader:
    """Read a take directory; ``repair`` writes back the rebuilt manifest of an interrupted take."""

    def __init__(self, path: Path | str, *, repair: bool = True) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise FileNotFoundError(f"no take directory at {self.path}")
        self.live = is_being_recorded(self.path)
        self.unreadable: list[str] = []
        self._tables: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self._dirs: dict[str, str] = {}
        self._scan_segments()
        manifest_path = self.path / MANIFEST
        try:
            manifest = check_manifest(read_json(manifest_path), manifest_path)
        except FileNotFoundError:
            if not self._tables:
                raise TakeFormatError(
                    f"{self.path} is not a take: it has no {MANIFEST} and no committed segments"
                ) from None
            manifest = {"format": "machinima-bridge-take", "version": 1, "name": self.path.name, "status": "recording"}
        self.manifest: dict[str, Any] = manifest
        self.rebuilt = False
        if manifest.get("status") == "recording" and not self.live:
            manifest = self._rebuilt_manifest(manifest)
            self.rebuilt = True
            if repair:
                try:
                    write_json_atomic(manifest_path, manifest)
                    log.warning("take %s was interrupted; rebuilt its manifest from %d committed segments",
                                self.path.name, sum(len(k) for s in self._tables.values() for k in s.values()))
                except OSError as exc:
                    log.error("take %s: cannot write the rebuilt manifest: %s", self.path.name, exc)
        self.manifest = manifest

    # ------------------------------------------------------------------ what the take holds
    @property
    def name(self) -> str:
        return str(self.manifest.get("name", self.path.name))

    @property
    def status(self) -> str:
        return str(self.manifest["status"])

    @property
    def pipelines(self) -> dict[str, dict[str, Any]]:
        return dict(self.manifest.get("pipelines", {}))

    @property
    def fps_hint(self) -> float:
        return float(self.manifest.get("timecode", {}).get("fps", 30.0))

    def info(self) -> TakeInfo:
        return take_info(self.path, self.manifest)

    def stream_keys(self) -> list[str]:
        return sorted(set(self._tables) | set(self.manifest.get("streams", {})))

    def default_stream(self) -> str:
        keys = [k for k in self.stream_keys() if self._tables.get(k, {}).get("input")]
        if not keys:
            raise TakeFormatError(f"take {self.name} has no recorded input frames")
        return keys[0]

    def segments(self, stream_key: str, kind: str) -> list[dict[str, Any]]:
        """The committed segment tables of one stream and kind, in order."""
        return list(self._tables.get(stream_key, {}).get(kind, []))

    def input_count(self, stream_key: str) -> int:
        return sum(len(t["records"]) for t in self.segments(stream_key, "input"))

    def input_geometry(self, stream_key: str) -> tuple[int, int, str | None, bool]:
        """(width, height, depth dtype name or None, has mask) of a stream's first input segment."""
        tables = self.segments(stream_key, "input")
        if not tables:
            raise TakeFormatError(f"take {self.name}: stream {stream_key!r} has no input segments")
        width, height = int(tables[0]["width"]), int(tables[0]["height"])
        depth_dtype, has_mask = None, False
        for table in tables:
            for record in table["records"]:
                if record.get("depth") and depth_dtype is None:
                    with np.load(self._file(stream_key, "input", table["planes"])) as planes:
                        depth_dtype = str(planes[record["depth"]].dtype)
                has_mask = has_mask or bool(record.get("mask"))
            if depth_dtype is not None and has_mask:
                break
        return width, height, depth_dtype, has_mask

    # ------------------------------------------------------------------ iteration
    def controls(self, stream_key: str | None = None) -> list[ControlEvent]:
        """Recorded CONTROL changes in the order they were applied (optionally of one stream)."""
        events = []
        for record in self._json_lines(self.path / CONTROLS_FILE):
            try:
                event = ControlEvent(int(record["t_ns"]), record.get("timecode"), str(record["stream"]),
                                     str(record["stage"]), dict(record["params"]), record.get("glide_ms"),
                                     int(record["input_index"]))
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("take %s: skipping a malformed control record (%s): %.200r", self.name, exc, record)
                continue
            if stream_key is None or event.stream == stream_key:
                events.append(event)
        return events

    def input_frames(self, stream_key: str | None = None, *, planes: bool = True) -> Iterator[InputFrame]:
        """Every recorded input frame of a stream in order, with the controls applied just before it.

        Controls recorded after the last frame are not attached (``trailing_controls``).
        """
        key = stream_key or self.default_stream()
        pending = self.controls(key)
        position = 0
        for table in self.segments(key, "input"):
            records = table["records"]
            npz = None
            if planes and table.get("planes"):
                npz = np.load(self._file(key, "input", table["planes"]))
            try:
                video = self._video_file(key, "input", table)
                for record, rgb in zip(records, _decode_video(video, len(records))):
                    index = int(record["index"])
                    attached = []
                    while position < len(pending) and pending[position].input_index <= index:
                        attached.append(pending[position])
                        position += 1
                    depth = npz[record["depth"]] if npz is not None and record.get("depth") else None
                    mask = npz[record["mask"]] if npz is not None and record.get("mask") else None
                    yield InputFrame(key, index, int(record["t_ns"]), int(record.get("t_capture_ns", 0)),
                                     str(record.get("timecode", "")), record.get("engine_timecode"), rgb,
                                     depth, mask, attached)
            finally:
                if npz is not None:
                    npz.close()

    def trailing_controls(self, stream_key: str) -> list[ControlEvent]:
        """Controls whose input frame never arrived (recorded after the last input frame)."""
        tables = self.segments(stream_key, "input")
        last = int(tables[-1]["records"][-1]["index"]) if tables and tables[-1]["records"] else -1
        return [c for c in self.controls(stream_key) if c.input_index > last]

    def output_frames(self, stream_key: str | None = None) -> Iterator[OutputFrame]:
        key = stream_key or self.default_stream()
        for table in self.segments(key, "output"):
            records = table["records"]
            crop = (int(table["width"]), int(table["height"]))
            video = self._video_file(key, "output", table)
            for record, rgb in zip(records, _decode_video(video, len(records), crop)):
                yield OutputFrame(key, int(record["index"]), int(record["t_ns"]), str(record.get("timecode", "")),
                                  bool(record.get("held", False)), rgb)

    def audio_chunks(self, stream_key: str | None = None) -> Iterator[AudioChunk]:
        import wave

        keys = [stream_key] if stream_key else self.stream_keys()
        for key in keys:
            for table in self.segments(key, "audio"):
                path = self._file(key, "audio", table["wav"])
                try:
                    with wave.open(str(path), "rb") as wav:
                        pcm = wav.readframes(wav.getnframes())
                except (OSError, EOFError, wave.Error) as exc:
                    raise TakeFormatError(f"{path}: not a readable WAV: {exc}") from None
                frame_bytes = 2 * int(table["channels"])
                for record in table["records"]:
                    start = int(record["offset"]) * frame_bytes
                    yield AudioChunk(key, int(record["t_ns"]), int(record["t_capture_ns"]), record.get("timecode"),
                                     int(table["sample_rate_hz"]), int(table["channels"]),
                                     pcm[start : start + int(record["samples"]) * frame_bytes])

    def mocap(self, performer: str | None = None) -> Iterator[MocapRecord]:
        """Recorded poses in arrival order (a pose cut short by a crash at the end is left out)."""
        path = self.path / MOCAP_FILE
        if not path.exists():
            return
        with open(path, "rb") as handle:
            unpacker = msgpack.Unpacker(handle, raw=False, max_buffer_size=64 * 1024 * 1024)
            try:
                for record in unpacker:
                    if not isinstance(record, dict) or "performer" not in record:
                        log.warning("take %s: skipping a malformed pose record", self.name)
                        continue
                    if performer is not None and record["performer"] != performer:
                        continue
                    yield MocapRecord(int(record["t_ns"]), record.get("timecode"), str(record["performer"]),
                                      dict(record.get("fields", {})), bytes(record.get("payload", b"")))
            except (msgpack.exceptions.ExtraData, msgpack.exceptions.FormatError, msgpack.exceptions.StackError,
                    ValueError) as exc:
                log.warning("take %s: %s is damaged after some poses (%s); reading stopped there", self.name,
                            path, exc)

    def performers(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for record in self.mocap():
            counts[record.performer] = counts.get(record.performer, 0) + 1
        return counts

    # ------------------------------------------------------------------ internals
    def _file(self, stream_key: str, kind: str, name: str) -> Path:
        return self.path / self._dirs[stream_key] / kind / name

    def _video_file(self, stream_key: str, kind: str, table: dict[str, Any]) -> Path:
        """The segment's video; when the compactor replaced it since the table was read (its raw file is gone),
        the table is read again and updated in place (``bridge.takes.compactor``)."""
        path = self._file(stream_key, kind, table["video"])
        if path.is_file() or not table.get("compact_to"):
            return path
        fresh = read_json(path.with_name(f"{segment_name(int(table['seq']))}.json"))
        table.update({k: fresh[k] for k in ("video", "codec", "options") if k in fresh})
        table.pop("compact_to", None)
        return self._file(stream_key, kind, table["video"])

    def _scan_segments(self) -> None:
        root = self.path / STREAMS_DIR
        if not root.is_dir():
            return
        for stream_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            for kind in SEGMENT_KINDS:
                folder = stream_dir / kind
                if not folder.is_dir():
                    continue
                for table_path in sorted(folder.glob("[0-9]*.json")):
                    try:
                        table = read_json(table_path)
                        key, files = str(table["stream"]), [table.get("video") or table.get("wav")]
                        if table.get("planes"):
                            files.append(table["planes"])
                        missing = [f for f in files if not f or not (folder / f).is_file()]
                        if missing or table.get("kind") != kind or not isinstance(table.get("records"), list):
                            raise TakeFormatError(f"{table_path}: table names missing files {missing} or is malformed")
                    except (TakeFormatError, KeyError, TypeError) as exc:
                        log.warning("take %s: leaving out segment %s: %s", self.path.name, table_path, exc)
                        self.unreadable.append(str(table_path.relative_to(self.path)))
                        continue
                    self._dirs[key] = f"{STREAMS_DIR}/{stream_dir.name}"
                    self._tables.setdefault(key, {}).setdefault(kind, []).append(table)
        for kinds in self._tables.values():
            for tables in kinds.values():
                tables.sort(key=lambda t: int(t["seq"]))

    def _partial_files(self) -> list[str]:
        return sorted(str(p.relative_to(self.path)) for p in (self.path / STREAMS_DIR).rglob(f"*{PART_SUFFIX}"))

    def _json_lines(self, path: Path) -> Iterator[dict[str, Any]]:
        if not path.exists():
            return
        with open(path, "rb") as handle:
            lines = handle.read().split(b"\n")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                if number == len(lines):  # cut short by a crash: the last line has no newline
                    log.info("take %s: %s ends with an incomplete line (left out)", self.name, path.name)
                else:
                    log.warning("take %s: %s line %d is not JSON (left out)", self.name, path.name, number)
                continue
            if isinstance(record, dict):
                yield record

    def _rebuilt_manifest(self, old: dict[str, Any]) -> dict[str, Any]:
        streams = {}
        for key in sorted(self._tables):
            by_kind = {kind: [self._segment_summary(t) for t in tables] for kind, tables in self._tables[key].items()}
            streams[key] = stream_entry(self._dirs[key], by_kind)
        control_count = sum(1 for _ in self._json_lines(self.path / CONTROLS_FILE))
        performers = self.performers()
        manifest = dict(old)
        final = read_status(self.path / STATUS_FILE) or {}
        ended = final.get("status") in ("complete", "failed")  # it finished, but the manifest could not be written
        manifest.update(
            status=final["status"] if ended else "interrupted",
            failure=final.get("failure") if ended else old.get("failure"),
            streams=streams,
            controls={"file": CONTROLS_FILE, "count": control_count},
            mocap={"file": MOCAP_FILE, "poses": sum(performers.values()), "performers": performers},
            duration_ns=last_event_ns(streams),
            recovery={
                "rebuilt_wall_ns": time.time_ns(),
                "reason": ("the final manifest could not be written (see failure)" if ended else
                           "the recording process ended without finishing the take (killed or crashed)"),
                "partial_files_left_out": self._partial_files(),
                "unreadable_segments_left_out": list(self.unreadable),
            },
        )
        return manifest

    @staticmethod
    def _segment_summary(table: dict[str, Any]) -> dict[str, Any]:
        records = table["records"]
        summary: dict[str, Any] = {"seq": int(table["seq"]), "count": len(records)}
        if records:
            summary.update(t0_ns=records[0]["t_ns"], t1_ns=records[-1]["t_ns"])
            if "index" in records[0]:
                summary.update(first_index=records[0]["index"], last_index=records[-1]["index"])
        return summary


def list_takes(takes_dir: Path | str) -> list[TakeInfo]:
    """Every take under ``takes_dir`` (newest first); interrupted takes are reported, not repaired."""
    root = Path(takes_dir)
    if not root.is_dir():
        return []
    infos = []
    for path in sorted(p for p in root.iterdir() if p.is_dir()):
        if not (path / MANIFEST).exists() and not (path / STREAMS_DIR).is_dir():
            continue
        try:
            infos.append(TakeReader(path, repair=False).info())
        except (TakeFormatError, OSError) as exc:
            log.warning("%s: not a readable take: %s", path, exc)
    infos.sort(key=lambda info: info.started_wall_ns, reverse=True)
    return infos


def resolve_take(take: str | Path, takes_dir: Path | str | None = None) -> Path:
    """A take given as a path, or as a name under ``takes_dir``."""
    candidate = Path(take)
    if candidate.is_dir():
        return candidate
    if takes_dir is not None and (Path(takes_dir) / str(take)).is_dir():
        return Path(takes_dir) / str(take)
    where = f" or under {takes_dir}" if takes_dir is not None else ""
    raise FileNotFoundError(f"no take {str(take)!r} (looked for a directory at {candidate}{where})")
