"""The take manifest: what a take holds, as written by the recorder and rebuilt by the reader.

``manifest.json`` keys (format ``machinima-bridge-take`` version 1):

==================  ============================================================
``format``          ``"machinima-bridge-take"``
``version``         1
``name``            the take's name (its directory name)
``status``          ``recording`` (while recording, or the recorder died),
                    ``complete``, ``failed`` (a write error or an overloaded
                    writer stopped it; ``failure`` says why) or
                    ``interrupted`` (the recording process died; rebuilt from
                    the committed segments by the reader)
``failure``         why recording stopped early, else null
``started_wall_ns`` Unix time of the take's start (the take clock's zero)
``utc_offset_s``    local UTC offset at the start (timecode is local time of day)
``start_timecode``  SMPTE timecode of the start; ``timecode`` says the rate
``segment_s``       segment length in seconds
``pipelines``       stream key -> pipeline configuration in force (TOML-able)
``streams``         stream key -> ``dir`` and, per kind (input, output,
                    audio), ``count`` and the committed ``segments``
                    (``seq``, ``count``, ``t0_ns``, ``t1_ns``,
                    ``first_index``, ``last_index``)
``controls``        ``file`` and ``count`` of recorded CONTROL changes
``mocap``           ``file``, ``poses`` and poses per performer
``duration_ns``     take-clock time of the last recorded event
``recovery``        only for ``interrupted``: when it was rebuilt and the
                    ``.part`` files (the unfinished last segments) left out
==================  ============================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.takes.layout import SEGMENT_KINDS, TAKE_FORMAT, TAKE_FORMAT_VERSION, TakeFormatError

STATUSES = ("recording", "complete", "failed", "interrupted")


@dataclass
class StreamSummary:
    input_frames: int = 0
    output_frames: int = 0
    audio_chunks: int = 0
    segments: int = 0
    first_index: int | None = None
    last_index: int | None = None


@dataclass
class TakeInfo:
    """What a take holds (returned by ``TakeRecorder.start/stop`` and ``TakeReader.info``)."""

    name: str
    path: Path
    status: str
    failure: str | None
    started_wall_ns: int
    start_timecode: str
    duration_s: float
    streams: dict[str, StreamSummary] = field(default_factory=dict)
    controls: int = 0
    mocap_poses: int = 0
    performers: dict[str, int] = field(default_factory=dict)

    @property
    def input_frames(self) -> int:
        return sum(s.input_frames for s in self.streams.values())

    @property
    def output_frames(self) -> int:
        return sum(s.output_frames for s in self.streams.values())


def kind_summary(segments: list[dict[str, Any]]) -> dict[str, Any]:
    """``count`` and ``segments`` (sorted by seq) for one kind of one stream."""
    ordered = sorted(segments, key=lambda s: s["seq"])
    return {"count": sum(int(s["count"]) for s in ordered), "segments": ordered}


def stream_entry(directory: str, by_kind: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {"dir": directory, **{kind: kind_summary(by_kind.get(kind, [])) for kind in SEGMENT_KINDS}}


def last_event_ns(streams: dict[str, Any]) -> int:
    last = 0
    for entry in streams.values():
        for kind in SEGMENT_KINDS:
            for seg in entry.get(kind, {}).get("segments", []):
                last = max(last, int(seg.get("t1_ns", 0)))
    return last


def check_manifest(manifest: Any, path: Path) -> dict[str, Any]:
    if not isinstance(manifest, dict) or manifest.get("format") != TAKE_FORMAT:
        raise TakeFormatError(f"{path}: not a take manifest (format must be {TAKE_FORMAT!r})")
    version = manifest.get("version")
    if version != TAKE_FORMAT_VERSION:
        raise TakeFormatError(
            f"{path}: take format version {version!r} is not supported (this reads {TAKE_FORMAT_VERSION})"
        )
    if manifest.get("status") not in STATUSES:
        raise TakeFormatError(f"{path}: status {manifest.get('status')!r} is not one of {', '.join(STATUSES)}")
    return manifest


def take_info(path: Path, manifest: dict[str, Any]) -> TakeInfo:
    streams: dict[str, StreamSummary] = {}
    for key, entry in manifest.get("streams", {}).items():
        inputs = entry.get("input", {}).get("segments", [])
        summary = StreamSummary(
            input_frames=int(entry.get("input", {}).get("count", 0)),
            output_frames=int(entry.get("output", {}).get("count", 0)),
            audio_chunks=int(entry.get("audio", {}).get("count", 0)),
            segments=sum(len(entry.get(kind, {}).get("segments", [])) for kind in SEGMENT_KINDS),
            first_index=inputs[0].get("first_index") if inputs else None,
            last_index=inputs[-1].get("last_index") if inputs else None,
        )
        streams[key] = summary
    mocap = manifest.get("mocap", {})
    return TakeInfo(
        name=str(manifest.get("name", path.name)),
        path=path,
        status=str(manifest.get("status")),
        failure=manifest.get("failure"),
        started_wall_ns=int(manifest.get("started_wall_ns", 0)),
        start_timecode=str(manifest.get("start_timecode", "")),
        duration_s=int(manifest.get("duration_ns", 0)) / 1e9,
        streams=streams,
        controls=int(manifest.get("controls", {}).get("count", 0)),
        mocap_poses=int(mocap.get("poses", 0)),
        performers=dict(mocap.get("performers", {})),
    )
