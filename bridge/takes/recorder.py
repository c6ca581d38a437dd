"""``TakeRecorder``: the server hands it every input, output, CONTROL, pose and audio chunk; it never waits on disk.

Threads (see the package docstring for the hook contract):

* the callers (the server's I/O thread, stage threads, control paths) only
  stamp the take clock, check the arguments and put a reference on a queue;
* one writer thread per stream encodes that stream's input, output and audio
  into segments (``bridge.takes.segments``), in bursts every ``burst_s``;
* one events thread appends CONTROLs (JSON lines) and poses (msgpack);
* one committer thread makes closed segments durable (fsync, rename, table),
  so a slow disk flush never holds up encoding.

Overload and failure: the queues are bounded by bytes (``max_queued_bytes``)
and by writer lag (``max_writer_lag_s``).  Crossing either, or any write or
encode error (disk full included), *stops the recording loudly*: ``failed``
says why, an ERROR is logged once, further hook calls return at once, the
writers finish what they already accepted (a broken writer abandons its
unfinished segment), and the manifest records status ``failed``.  Recorded
frames are never dropped silently, and the live stream never stops or waits
for the recording: a hook call costs the same few microseconds before and
after a failure.  (The writers do use CPU beside the pipeline: ``bench record``.)
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import msgpack
import numpy as np

from bridge.takes.compactor import COMPACTION_POLICIES, SegmentCompactor
from bridge.takes.layout import (
    CONTROLS_FILE, EVENTS_DIR, MANIFEST, MOCAP_BVH_DIR, MOCAP_FILE, STATUS_FILE, STREAMS_DIR, TAKE_FORMAT, TAKE_FORMAT_VERSION,
    TakeLock, check_take_name, commit_file, stream_dir_name, write_json_atomic, write_status_in_place,
)
from bridge.takes.manifest import TakeInfo, last_event_ns, stream_entry, take_info
from bridge.takes.segments import (
    COLOR_FORMATS, AudioSegmentWriter, EncodingSettings, InputSegmentWriter, OutputSegmentWriter, SegmentCommit,
)
from bridge.takes.timecode import TakeTimecode, seconds_of_day

log = logging.getLogger(__name__)

MIB = 1024 * 1024
_STOP = object()
_TICK_S = 0.1
_SEGMENT_GRACE_NS = 150_000_000  # close a segment this long after its slot ended when nothing newer came
_EVENTS_FSYNC_NS = 1_000_000_000


@dataclass
class _InputItem:
    t_ns: int
    index: int
    t_capture_ns: int
    timecode: str | None
    color: np.ndarray
    color_format: str
    depth: np.ndarray | None
    mask: np.ndarray | None


@dataclass
class _OutputItem:
    t_ns: int
    index: int
    color: np.ndarray
    color_format: str
    held: bool


@dataclass
class _AudioItem:
    t_ns: int
    t_capture_ns: int
    sample_rate_hz: int
    channels: int
    pcm: bytes


@dataclass
class _ControlItem:
    t_ns: int
    record: dict[str, Any]


@dataclass
class _MocapItem:
    t_ns: int
    record: dict[str, Any]


_KIND_RANK = {_InputItem: 0, _OutputItem: 1, _AudioItem: 2}


def _check_color(name: str, color: np.ndarray, color_format: str) -> tuple[int, int]:
    if color_format not in COLOR_FORMATS:
        raise ValueError(f"{name}: colour format {color_format!r} is not one of {', '.join(COLOR_FORMATS)}")
    channels = 3 if color_format in ("RGB8", "BGR8") else 4
    if not isinstance(color, np.ndarray) or color.dtype != np.uint8 or color.ndim != 3 or color.shape[2] != channels:
        shape = getattr(color, "shape", None)
        dtype = getattr(color, "dtype", type(color).__name__)
        raise ValueError(f"{name}: {color_format} colour must be an HxWx{channels} uint8 array, got {shape} {dtype}")
    return color.shape[0], color.shape[1]


class _WriterThread:
    """A queue and the thread that empties it; subclasses handle items and periodic work."""

    def __init__(self, recorder: TakeRecorder, name: str) -> None:
        self.recorder = recorder
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.broken = False
        self.cpu_s = 0.0  # CPU time this writer used (known once it has finished)
        self.wakeup = threading.Event()  # set with _STOP: ends a rest between bursts early
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        cpu0 = time.thread_time()
        try:
            self._loop()
        finally:
            self.cpu_s = time.thread_time() - cpu0

    def _loop(self) -> None:
        """Work in bursts: take everything queued, encode it back to back, then rest ``burst_s``.

        Encoding a few frames in a row keeps the encoders' state in cache and wakes this thread a few
        times a second instead of once per frame: measurably less CPU taken from the live pipeline.
        """
        self.recorder._lower_priority()
        burst_ns = int(self.recorder.burst_s * 1e9)
        stopping = False
        while not stopping:
            batch: list[Any] = []
            try:
                batch.append(self.queue.get(timeout=_TICK_S))
            except queue.Empty:
                pass
            while True:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            started = self.recorder._now_ns()
            stopping = any(entry is _STOP for entry in batch)
            for item, nbytes in self.order([entry for entry in batch if entry is not _STOP]):
                try:
                    if not self.broken:
                        self.recorder._check_lag(self.thread.name, item.t_ns)
                        self.handle(item)
                except Exception as exc:
                    self._broke(exc)
                finally:
                    self.recorder._release(nbytes)
            now = self.recorder._now_ns()
            if not self.broken:
                try:
                    self.tick(now, idle=self.queue.empty())
                except Exception as exc:
                    self._broke(exc)
            rest_ns = burst_ns - (now - started)
            if not stopping and rest_ns > 0:
                self.wakeup.wait(rest_ns / 1e9)
        if self.broken:
            self.abandon()
        else:
            try:
                self.finish()
            except Exception as exc:
                self._broke(exc)
                self.abandon()

    def order(self, entries: list[Any]) -> list[Any]:
        """The order to handle one burst in (default: as queued)."""
        return entries

    def _broke(self, exc: Exception) -> None:
        self.broken = True
        self.recorder._fail(f"{self.thread.name}: write failed: {type(exc).__name__}: {exc}", exc)

    def handle(self, item: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def tick(self, now_ns: int, idle: bool) -> None:
        pass

    def finish(self) -> None:
        pass

    def abandon(self) -> None:
        pass


class _StreamWriter(_WriterThread):
    """Encodes one stream's input, output and audio segments."""

    def __init__(self, recorder: TakeRecorder, stream_key: str, folder: Path) -> None:
        super().__init__(recorder, f"take-writer-{stream_key}")
        self.stream_key = stream_key
        self.folder = folder
        settings, segment_ns, tc, rate = recorder.encoding, recorder.segment_ns, recorder.timecode, recorder.rate
        commit = recorder._committer.submit
        self.input = InputSegmentWriter(folder / "input", stream_key, segment_ns, tc, commit, settings, rate)
        self.output = OutputSegmentWriter(folder / "output", stream_key, segment_ns, tc, commit, settings, rate)
        self.audio = AudioSegmentWriter(folder / "audio", stream_key, segment_ns, tc, commit)
        self.writers = (self.input, self.output, self.audio)

    def order(self, entries: list[Any]) -> list[Any]:
        # each encoder's frames back to back (their order within a kind is kept: the sort is stable)
        return sorted(entries, key=lambda entry: _KIND_RANK[type(entry[0])])

    def handle(self, item: Any) -> None:
        if isinstance(item, _InputItem):
            self.input.add(item.t_ns, item.index, item.t_capture_ns, item.timecode, item.color, item.color_format,
                           item.depth, item.mask)
        elif isinstance(item, _OutputItem):
            self.output.add(item.t_ns, item.index, item.color, item.color_format, item.held)
        else:
            self.audio.add(item.t_ns, item.t_capture_ns, item.sample_rate_hz, item.channels, item.pcm)

    def tick(self, now_ns: int, idle: bool) -> None:
        if not idle:  # more is queued: the next item rolls the segment if its slot is over
            return
        for writer in self.writers:
            if writer.due(now_ns, _SEGMENT_GRACE_NS):
                writer.finish()

    def finish(self) -> None:
        for writer in self.writers:
            writer.finish()

    def abandon(self) -> None:
        for writer in self.writers:
            writer.abandon()


class _EventWriter(_WriterThread):
    """Appends CONTROLs to ``controls.jsonl`` and poses to ``mocap.msgpack``: flushed per burst, fsynced each second."""

    def __init__(self, recorder: TakeRecorder, take_dir: Path) -> None:
        super().__init__(recorder, "take-events")
        self.controls = open(take_dir / CONTROLS_FILE, "ab")
        self.mocap = open(take_dir / MOCAP_FILE, "ab")
        self.packer = msgpack.Packer(use_bin_type=True)
        self.control_count = 0
        self.pose_counts: dict[str, int] = {}
        self.rejected = 0
        self._dirty = False
        self._last_fsync_ns = 0

    def handle(self, item: Any) -> None:
        item.record["timecode"] = self.recorder.timecode.at(item.t_ns)
        try:
            if isinstance(item, _ControlItem):
                data = (json.dumps(item.record, allow_nan=False) + "\n").encode("utf-8")
            else:
                data = self.packer.pack(item.record)
        except (TypeError, ValueError) as exc:  # a value that has no JSON/msgpack form: reject that event, loudly
            self.rejected += 1
            self.recorder._limited_warning(f"event not recorded (cannot serialise it: {exc}): {item.record!r:.200}")
            return
        if isinstance(item, _ControlItem):
            self.controls.write(data)
            self.control_count += 1
        else:
            self.mocap.write(data)
            performer = item.record["performer"]
            self.pose_counts[performer] = self.pose_counts.get(performer, 0) + 1
        self._dirty = True

    def tick(self, now_ns: int, idle: bool) -> None:
        if self._dirty:  # after every burst, busy or not
            self.controls.flush()
            self.mocap.flush()  # in the kernel now: survives the process being killed
            self._dirty = False
        if self.recorder.fsync and now_ns - self._last_fsync_ns >= _EVENTS_FSYNC_NS:
            os.fsync(self.controls.fileno())
            os.fsync(self.mocap.fileno())
            self._last_fsync_ns = now_ns

    def finish(self) -> None:
        for handle in (self.controls, self.mocap):
            handle.flush()
            if self.recorder.fsync:
                os.fsync(handle.fileno())
            handle.close()

    def abandon(self) -> None:
        for handle in (self.controls, self.mocap):
            try:
                handle.close()
            except OSError:
                pass


class _Committer:
    """Makes closed segments durable in order: fsync + rename each file, then write the segment table."""

    def __init__(self, recorder: TakeRecorder) -> None:
        self.recorder = recorder
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.broken = False
        self.thread = threading.Thread(target=self._run, name="take-committer", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def submit(self, commit: SegmentCommit) -> None:
        self.queue.put(commit)

    def _run(self) -> None:
        while True:
            job = self.queue.get()
            if job is _STOP:
                return
            if self.broken:
                continue
            try:
                for part, final in job.files:
                    commit_file(part, final, self.recorder.fsync)
                write_json_atomic(job.table_path, job.table, self.recorder.fsync)
            except Exception as exc:
                self.broken = True
                self.recorder._fail(f"committing {job.table_path.parent.name} segment {job.table['seq']} of "
                                    f"{job.table['stream']!r} failed: {type(exc).__name__}: {exc}", exc)
                continue
            self.recorder._on_committed(job.table["stream"], job.table["kind"], job.summary)
            if job.table.get("compact_to"):
                self.recorder._compact(job.table_path)


class TakeRecorder:
    """Records one take into ``takes_dir/<name>/``; see the package docstring for the hook API."""

    def __init__(self, takes_dir: Path | str, name: str | None = None, *,
                 clock_ns: Callable[[], int] = time.monotonic_ns, fps_hint: float = 30.0,
                 segment_s: float = 0.5, encoding: EncodingSettings | None = None,
                 max_queued_bytes: int = 512 * MIB, max_writer_lag_s: float = 5.0, fsync: bool = True,
                 writer_nice: int = 5, burst_s: float = 0.2, stop_timeout_s: float = 60.0,
                 wall_clock_ns: Callable[[], int] = time.time_ns, compaction: str = "always") -> None:
        if name is not None:
            check_take_name(name)
        if not 0.05 <= segment_s <= 60.0:
            raise ValueError(f"segment_s must be between 0.05 and 60 seconds, got {segment_s}")
        if not 0.5 <= fps_hint <= 1000.0:
            raise ValueError(f"fps_hint must be between 0.5 and 1000, got {fps_hint}")
        if max_queued_bytes < MIB:
            raise ValueError(f"max_queued_bytes must be at least 1 MiB, got {max_queued_bytes}")
        self.takes_dir = Path(takes_dir)
        self._requested_name = name
        self._clock_ns = clock_ns
        self._wall_clock_ns = wall_clock_ns
        self.fps_hint = float(fps_hint)
        self.rate = max(1, round(fps_hint))
        self.segment_ns = int(segment_s * 1e9)
        self.encoding = encoding or EncodingSettings()
        # deferred encoding: when the compactor process re-encodes the raw segments (``COMPACTION_POLICIES``):
        # "always" beside the live stream, "idle" only once ``compactor.resume()`` says the live stream paused
        # (``TakeControl`` does, from the server's frame flow), "manual" never (``machinima-bridge takes compact``)
        if compaction not in COMPACTION_POLICIES:
            raise ValueError(f"compaction must be one of {', '.join(COMPACTION_POLICIES)}, got {compaction!r}")
        self.compaction = compaction
        self.max_queued_bytes = int(max_queued_bytes)
        self.max_writer_lag_ns = int(max_writer_lag_s * 1e9)
        self.fsync = fsync
        self.writer_nice = writer_nice
        if not 0.0 <= burst_s <= 1.0:
            raise ValueError(f"burst_s must be between 0 and 1 second, got {burst_s}")
        self.burst_s = burst_s
        self.stop_timeout_s = stop_timeout_s
        self.name: str | None = name
        self.path: Path | None = None
        self.timecode: TakeTimecode = TakeTimecode.starting_at(self.fps_hint, 0.0)
        self._lock = threading.Lock()
        self._manifest_lock = threading.Lock()
        self._accepting = False
        self._state = "idle"  # idle -> recording -> (stopping | failed) -> stopped
        self._failure: str | None = None
        self._queued_bytes = 0
        self.peak_queued_bytes = 0
        self._t0_ns = 0
        self._started_wall_ns = 0
        self._utc_offset_s = 0
        self._pipelines: dict[str, dict[str, Any]] = {}
        self._stream_writers: dict[str, _StreamWriter] = {}
        self._stream_dirs: dict[str, str] = {}
        self._segments: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self._events: _EventWriter | None = None
        self._committer = _Committer(self)
        self._compactor: SegmentCompactor | None = None
        self._take_lock: TakeLock | None = None
        self._finished = threading.Event()
        self._finish_once = threading.Lock()
        self._info: TakeInfo | None = None
        self._warned_at = 0.0
        self.accepted = {"input": 0, "output": 0, "audio": 0, "control": 0, "mocap": 0}

    # ------------------------------------------------------------------ control (not the frame path)
    def start(self, pipelines: dict[str, dict[str, Any]]) -> TakeInfo:
        """Create the take directory, write the manifest, start the writers.  Raises OSError/ValueError."""
        with self._lock:
            if self._state != "idle":
                raise RuntimeError(f"take {self.name!r} was already started")
            self._state = "starting"
        try:
            try:
                json.dumps(pipelines, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"pipelines must be JSON/TOML-able dicts: {exc}") from None
            self._pipelines = {str(k): v for k, v in pipelines.items()}
            self.takes_dir.mkdir(parents=True, exist_ok=True)
            self._started_wall_ns = self._wall_clock_ns()
            self.name = self._requested_name or self._free_name()
            path = self.takes_dir / self.name
            try:
                path.mkdir()
            except FileExistsError:
                raise FileExistsError(f"take {self.name!r} already exists: {path}") from None
            self.path = path
            (path / EVENTS_DIR).mkdir()
            (path / STREAMS_DIR).mkdir()
            self._take_lock = TakeLock(path)
            if not self._take_lock.try_acquire():
                raise RuntimeError(f"take {path} is locked by another recorder")
            self._utc_offset_s = time.localtime(self._started_wall_ns / 1e9).tm_gmtoff
            self.timecode = TakeTimecode.starting_at(self.fps_hint,
                                                     seconds_of_day(self._started_wall_ns, self._utc_offset_s))
            self._t0_ns = self._clock_ns()
            write_status_in_place(path / STATUS_FILE, {"status": "recording", "failure": None}, create=True,
                                  fsync=self.fsync)
            self._write_manifest("recording")
            self._events = _EventWriter(self, path)
        except BaseException:
            with self._lock:
                self._state = "idle"
            if self._take_lock is not None:
                self._take_lock.release()
            raise
        if self.encoding.deferred and self.compaction != "manual":
            self._start_compactor()
        self._committer.start()
        self._events.start()
        with self._lock:
            for key in self._pipelines:
                self._stream_writer(key)
            self._state = "recording"
            self._accepting = True
        log.info("take %s: recording to %s (timecode %s at %s fps)", self.name, self.path, self.timecode.start,
                 self.fps_hint)
        return self.info()

    def stop(self) -> TakeInfo:
        """Finish every segment, write the final manifest and return what the take holds (blocks on the writers)."""
        with self._lock:
            if self._state == "idle":
                raise RuntimeError("the take was never started")
            if self._state == "recording":
                self._state = "stopping"
                self._close_queues_locked()
        self._finish()
        assert self._info is not None
        return self._info

    def request_stop(self) -> None:
        """Stop recording now and finish the take on a background thread; returns at once (see ``wait``).

        For callers on a thread that must not block (the server's I/O thread): ``stop`` waits for the
        writers to encode what is queued and commit it, which can take a good fraction of a second.
        """
        with self._lock:
            if self._state == "idle":
                raise RuntimeError("the take was never started")
            if self._state != "recording":
                return
            self._state = "stopping"
            self._close_queues_locked()
        threading.Thread(target=self._finish, name="take-finisher", daemon=True).start()

    def wait(self, timeout_s: float | None = None) -> TakeInfo | None:
        """The final ``TakeInfo`` once the take is finished (after ``request_stop``, ``stop`` or a failure);
        None if it is still finishing after ``timeout_s``."""
        if not self._finished.wait(timeout_s):
            return None
        return self._info

    @property
    def failed(self) -> str | None:
        """The reason recording stopped early (write error, disk full, writer overloaded), or None."""
        return self._failure

    @property
    def recording(self) -> bool:
        return self._accepting

    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    @property
    def writer_cpu_s(self) -> float:
        """CPU seconds the writer threads used (complete after ``stop``)."""
        writers: list[_WriterThread] = [*self._stream_writers.values(), *([self._events] if self._events else [])]
        return sum(w.cpu_s for w in writers)

    def take_time_ns(self) -> int:
        """Now on the take clock (ns since start)."""
        return self._clock_ns() - self._t0_ns

    def info(self) -> TakeInfo:
        """What has been committed so far (or the final state after ``stop``)."""
        if self._info is not None:
            return self._info
        if self.path is None:
            raise RuntimeError("the take was never started")
        return take_info(self.path, self._manifest("failed" if self._failure else "recording"))

    # ------------------------------------------------------------------ hooks (frame path: never block)
    def on_input(self, stream_key: str, index: int, t_capture_ns: int, timecode: str | None, color_rgb: np.ndarray,
                 depth_m: np.ndarray | None, mask: np.ndarray | None, *, color_format: str = "RGB8") -> None:
        """An engine frame as received (before the pipeline).  Arrays are kept by reference until written."""
        if not self._accepting:
            return
        height, width = _check_color("on_input", color_rgb, color_format)
        nbytes = color_rgb.nbytes
        for label, plane in (("depth", depth_m), ("mask", mask)):
            if plane is not None:
                if getattr(plane, "shape", None) != (height, width):
                    raise ValueError(f"on_input: {label} must be {height}x{width} like the colour, got "
                                     f"{getattr(plane, 'shape', None)}")
                nbytes += plane.nbytes
        item = _InputItem(self._clock_ns() - self._t0_ns, int(index), int(t_capture_ns), timecode, color_rgb,
                          color_format, depth_m, mask)
        self._submit(stream_key, item, nbytes, "input")

    def on_output(self, stream_key: str, index: int, color_rgb: np.ndarray, held: bool, *,
                  color_format: str = "RGB8") -> None:
        """The picture the pipeline produced for input ``index`` (``held``: a repeat of the previous one)."""
        if not self._accepting:
            return
        _check_color("on_output", color_rgb, color_format)
        item = _OutputItem(self._clock_ns() - self._t0_ns, int(index), color_rgb, color_format, bool(held))
        self._submit(stream_key, item, color_rgb.nbytes, "output")

    def on_control(self, stream_key: str, stage: str, params: dict[str, Any], glide_ms: float | None,
                   input_index: int) -> None:
        """A parameter change that took effect on ``stream_key`` before its input frame ``input_index``."""
        if not self._accepting:
            return
        t_ns = self._clock_ns() - self._t0_ns
        record = {"t_ns": t_ns, "timecode": None, "stream": stream_key, "stage": stage, "params": dict(params),
                  "glide_ms": None if glide_ms is None else float(glide_ms), "input_index": int(input_index)}
        self._submit(None, _ControlItem(t_ns, record), 256, "control")

    def on_mocap(self, performer: str, fields: dict[str, Any], payload: bytes) -> None:
        """One pose as relayed (``mocap.pose_wire`` header fields without v/kind, and the binary part)."""
        if not self._accepting:
            return
        t_ns = self._clock_ns() - self._t0_ns
        data = bytes(payload)
        record = {"t_ns": t_ns, "timecode": None, "performer": performer, "fields": dict(fields), "payload": data}
        self._submit(None, _MocapItem(t_ns, record), len(data) + 256, "mocap")

    def on_audio(self, stream_key: str, t_capture_ns: int, sample_rate_hz: int, channels: int,
                 pcm_s16: bytes) -> None:
        """A chunk of interleaved little-endian 16-bit PCM sent with ``stream_key``."""
        if not self._accepting:
            return
        if not 1 <= channels <= 32 or not 1000 <= sample_rate_hz <= 768_000:
            raise ValueError(f"on_audio: {channels} channels at {sample_rate_hz} Hz is not a usable audio format")
        data = bytes(pcm_s16)
        if len(data) % (2 * channels):
            raise ValueError(f"on_audio: {len(data)} bytes is not a whole number of {channels}-channel 16-bit samples")
        item = _AudioItem(self._clock_ns() - self._t0_ns, int(t_capture_ns), int(sample_rate_hz), int(channels), data)
        self._submit(stream_key, item, len(data), "audio")

    # ------------------------------------------------------------------ internals
    def _submit(self, stream_key: str | None, item: Any, nbytes: int, kind: str) -> None:
        with self._lock:
            if not self._accepting:
                return
            total = self._queued_bytes + nbytes
            if total <= self.max_queued_bytes:
                self._queued_bytes = total
                if total > self.peak_queued_bytes:
                    self.peak_queued_bytes = total
                writer = self._events if stream_key is None else self._stream_writer(stream_key)
                assert writer is not None
                writer.queue.put((item, nbytes))
                self.accepted[kind] += 1
                return
        self._fail(f"the take writers fell behind: {total / MIB:.0f} MiB would be queued, above the limit of "
                   f"{self.max_queued_bytes / MIB:.0f} MiB (disk or CPU too slow for this stream)")

    def _stream_writer(self, stream_key: str) -> _StreamWriter:
        """The writer of ``stream_key`` (created on first use); caller holds ``_lock``."""
        writer = self._stream_writers.get(stream_key)
        if writer is None:
            assert self.path is not None
            directory = stream_dir_name(stream_key)
            self._stream_dirs[stream_key] = f"{STREAMS_DIR}/{directory}"
            writer = _StreamWriter(self, stream_key, self.path / STREAMS_DIR / directory)
            self._stream_writers[stream_key] = writer
            writer.start()
        return writer

    def _release(self, nbytes: int) -> None:
        with self._lock:
            self._queued_bytes -= nbytes

    def _now_ns(self) -> int:
        return self._clock_ns() - self._t0_ns

    def _check_lag(self, writer_name: str, item_t_ns: int) -> None:
        lag_ns = self._now_ns() - item_t_ns
        if lag_ns > self.max_writer_lag_ns and self._failure is None:
            self._fail(f"{writer_name} is {lag_ns / 1e9:.1f} s behind the live stream (limit "
                       f"{self.max_writer_lag_ns / 1e9:.1f} s): the disk or CPU cannot keep up; what was accepted "
                       "is still written")

    def _lower_priority(self) -> None:
        if self.writer_nice <= 0 or not hasattr(os, "setpriority"):
            return
        try:
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + self.writer_nice))
        except OSError:  # pragma: no cover - platform without per-thread priorities
            pass

    def _limited_warning(self, message: str) -> None:
        now = time.monotonic()
        if now - self._warned_at >= 5.0:
            self._warned_at = now
            log.warning("take %s: %s", self.name, message)

    def _close_queues_locked(self) -> None:
        self._accepting = False
        writers: list[_WriterThread] = [*self._stream_writers.values(), *([self._events] if self._events else [])]
        for writer in writers:
            writer.queue.put(_STOP)
            writer.wakeup.set()

    def _fail(self, reason: str, exc: BaseException | None = None) -> None:
        """Stop recording loudly; callable from any thread, only the first reason counts."""
        with self._lock:
            if self._failure is not None:
                return
            self._failure = reason
            if self._state not in ("recording", "stopping"):
                return
            self._state = "failed"
            self._close_queues_locked()
        log.error("take %s: RECORDING STOPPED: %s (what was committed is kept in %s; the live stream goes on)",
                  self.name, reason, self.path, exc_info=exc)
        threading.Thread(target=self._finish, name="take-finisher", daemon=True).start()

    def _finish(self) -> None:
        """Join the writers and the committer, write the final manifest, release the lock (once)."""
        if not self._finish_once.acquire(blocking=False):
            self._finished.wait()
            return
        try:
            deadline = time.monotonic() + self.stop_timeout_s
            writers: list[_WriterThread] = list(self._stream_writers.values())
            if self._events is not None:
                writers.append(self._events)
            for writer in writers:
                writer.thread.join(max(0.0, deadline - time.monotonic()))
                if writer.thread.is_alive():
                    self._fail(f"{writer.thread.name} did not finish within {self.stop_timeout_s:.0f} s")
            self._committer.queue.put(_STOP)
            self._committer.thread.join(max(0.0, deadline - time.monotonic()))
            if self._committer.thread.is_alive():
                self._fail(f"committing segments did not finish within {self.stop_timeout_s:.0f} s")
            if self._compactor is not None:
                self._compactor.close()  # it finishes the raw segments it has in the background
            status = "failed" if self._failure is not None else "complete"
            manifest = self._manifest(status)
            assert self.path is not None
            try:  # first the in-place status: it needs no free space
                write_status_in_place(self.path / STATUS_FILE, {"status": status, "failure": self._failure},
                                      fsync=self.fsync)
            except OSError as exc:
                log.error("take %s: the status file could not be written: %s", self.name, exc)
            try:
                self._write_manifest(status, manifest)
            except OSError as exc:
                log.error("take %s: the final manifest could not be written (%s); TakeReader rebuilds it from the "
                          "committed segments", self.name, exc)
            else:
                self._write_bvh_files(manifest)
            with self._lock:
                self._state = "failed" if self._failure is not None else "stopped"
            assert self.path is not None
            self._info = take_info(self.path, manifest)
            if self._take_lock is not None:
                self._take_lock.release()
            log.info("take %s: %s, %d input and %d output frames, %d controls, %d poses", self.name, status,
                     self._info.input_frames, self._info.output_frames, self._info.controls, self._info.mocap_poses)
        finally:
            self._finished.set()

    def _start_compactor(self) -> None:
        compactor = SegmentCompactor(str(self.name), fsync=self.fsync, rate=self.rate,
                                     paused=self.compaction == "idle")
        try:
            compactor.start()
        except Exception as exc:  # the take still records: its segments stay raw, complete and readable
            log.error("take %s: the compactor process could not start (%s); segments stay raw until "
                      "`machinima-bridge takes compact %s`", self.name, exc, self.name)
            return
        self._compactor = compactor

    def _compact(self, table_path: Path) -> None:
        if self._compactor is not None:
            self._compactor.submit(table_path)

    @property
    def compactor(self) -> SegmentCompactor | None:
        """The process re-encoding raw segments (``EncodingSettings.deferred``); None when not deferring."""
        return self._compactor

    def wait_compacted(self, timeout_s: float | None = None) -> bool:
        """After the take finished: True once every raw segment was re-encoded (or its failure logged)."""
        if self._compactor is None:
            return True
        if not self._finished.wait(timeout_s):
            return False
        return self._compactor.wait(timeout_s)

    def _write_bvh_files(self, manifest: dict[str, Any]) -> None:
        """Each performer's poses as ``mocap/<performer>.bvh`` next to the raw pose stream, named in the manifest.
        (A take whose recording process was killed has the raw stream only; ``takes export`` writes BVH from it.)"""
        performers = manifest["mocap"]["performers"]
        if not performers or self.path is None:
            return
        from bridge.takes.export import export_bvh
        from bridge.takes.reader import TakeReader

        files = {}
        try:
            reader = TakeReader(self.path, repair=False)
            (self.path / MOCAP_BVH_DIR).mkdir(exist_ok=True)
            for performer in sorted(performers):
                relative = f"{MOCAP_BVH_DIR}/{stream_dir_name(performer)}.bvh"
                frames, _skipped = export_bvh(reader, performer, self.path / relative)
                if frames:
                    files[performer] = relative
            manifest["mocap"]["bvh"] = files
            self._write_manifest(str(manifest["status"]), manifest)
        except Exception as exc:  # the raw pose stream is the record; BVH is a convenience made from it
            log.error("take %s: writing BVH files failed (%s); `machinima-bridge takes export` makes them from the "
                      "recorded poses", self.name, exc)

    def _on_committed(self, stream_key: str, kind: str, summary: dict[str, Any]) -> None:
        with self._manifest_lock:
            self._segments.setdefault(stream_key, {}).setdefault(kind, []).append(summary)

    def _free_name(self) -> str:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self._started_wall_ns / 1e9))
        name, suffix = f"take-{stamp}", 2
        while (self.takes_dir / name).exists():
            name, suffix = f"take-{stamp}-{suffix}", suffix + 1
        return name

    def _manifest(self, status: str) -> dict[str, Any]:
        with self._manifest_lock:
            segments = {key: {kind: list(items) for kind, items in kinds.items()}
                        for key, kinds in self._segments.items()}
        streams = {key: stream_entry(self._stream_dirs.get(key, ""), segments.get(key, {}))
                   for key in sorted(set(self._stream_dirs) | set(segments))}
        events = self._events
        pose_counts = dict(events.pose_counts) if events is not None else {}
        return {
            "format": TAKE_FORMAT,
            "version": TAKE_FORMAT_VERSION,
            "name": self.name,
            "status": status,
            "failure": self._failure,
            "started_wall_ns": self._started_wall_ns,
            "utc_offset_s": self._utc_offset_s,
            "start_timecode": self.timecode.start,
            "timecode": {"fps": self.fps_hint, "nominal": self.timecode.rate.nominal,
                         "drop_frame": self.timecode.rate.drop_frame},
            "clock": "take clock: ns since the start, from the recorder's monotonic clock",
            "segment_s": self.segment_ns / 1e9,
            "encoding": {"input": {"codec": self.encoding.input_codec, **dict(self.encoding.input_options)},
                         "output": {"codec": self.encoding.output_codec, **dict(self.encoding.output_options)},
                         "deferred": self.encoding.deferred,
                         "planes": "npz, zlib level %d" % self.encoding.planes_compresslevel},
            "pipelines": self._pipelines,
            "streams": streams,
            "controls": {"file": CONTROLS_FILE, "count": events.control_count if events is not None else 0},
            "mocap": {"file": MOCAP_FILE, "poses": sum(pose_counts.values()), "performers": pose_counts},
            "rejected_events": events.rejected if events is not None else 0,
            "duration_ns": max(last_event_ns(streams), 0),
        }

    def _write_manifest(self, status: str, manifest: dict[str, Any] | None = None) -> None:
        assert self.path is not None
        write_json_atomic(self.path / MANIFEST, manifest or self._manifest(status), self.fsync)

