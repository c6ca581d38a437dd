"""Deferred encoding of a take: raw segments re-encoded into their final codecs at idle priority.

While a take records, the writers store pictures raw (rgb24 in NUT: a few
memory copies per frame, see ``EncodingSettings.deferred``) so that the live
pipeline keeps the CPU.  Each committed raw segment's table names the codec it
is ``compact_to``; ``compact_segment`` re-encodes it (inputs lossless, so the
decoded pictures stay bit-exact; outputs H.264), commits the new file the same
way segments are committed (``.part``, fsync, rename), rewrites the table
atomically to name it, and only then may the raw file go.  Interrupted at any
point, the take stays whole: the table names either the raw file (still there)
or the new one (already durable); at worst a stray file is left, which
``compact_take`` (``machinima-bridge takes compact``) clears up.

``SegmentCompactor`` runs ``compact_segment`` in a child process scheduled
``SCHED_IDLE`` (nice 19 where that is refused): it only gets CPU time that
nothing else wants, and it shares no interpreter lock with the server.  Even
idle-priority work slows a CPU-bound live pipeline on a small machine (it
evicts the model's caches and must be preempted at every wake-up: measured
at 640x360 on 2 cores, re-encoding beside the default pipeline cost ~10 % of
its frame rate), so the compactor can be paused: the ``idle`` policy
(``COMPACTION_POLICIES``, the server's default) runs it only while no frames
are flowing, ``always`` runs it beside the live stream (right where the
pipeline runs on a GPU and the CPU is free), ``manual`` leaves segments raw
for ``machinima-bridge takes compact``.  A raw
file is deleted a few seconds after its replacement is committed, so a reader
that has just read the old table can still open it (``TakeReader`` re-reads a
table whose raw file is gone).  If the recording process dies, the child
finishes the jobs it was given and exits.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from bridge.takes.layout import (
    PART_SUFFIX, STREAMS_DIR, TakeFormatError, commit_file, is_being_recorded, read_json, write_json_atomic,
)
from bridge.takes.segments import RAW_CODEC, RAW_SUFFIX, open_final_video, pad_to_even

log = logging.getLogger(__name__)

RAW_DELETE_DELAY_S = 5.0
_POLL_S = 0.5
COMPACTION_POLICIES = ("idle", "always", "manual")


@dataclass
class CompactResult:
    table: Path
    frames: int
    raw_bytes: int
    final_bytes: int
    raw_file: Path | None  # to delete (None when there was nothing to compact)
    cpu_s: float


def _encode_final(raw: Path, part: Path, final: dict[str, Any], width: int, height: int, expected: int,
                  rate: int) -> int:
    """Decode the raw segment and write it as ``final`` (the writers' own video code); returns the frames."""
    video = open_final_video(part, final, width, height, rate, threads=1)
    try:
        with av.open(str(raw)) as source:
            for decoded in source.decode(video=0):
                if video.count >= expected:
                    break
                rgb = decoded.to_ndarray(format="rgb24")
                video.add(pad_to_even(rgb) if final["container"] == "mp4" else rgb)
    except BaseException:
        video.abandon()
        raise
    video.close()
    return video.count


def compact_segment(table_path: Path, fsync: bool = True, rate: int = 30) -> CompactResult:
    """Re-encode one raw segment into the codec its table names under ``compact_to`` (see the module doc)."""
    cpu0 = time.process_time()
    table = read_json(table_path)
    final = table.get("compact_to")
    if not final or table.get("codec") != RAW_CODEC:
        return CompactResult(table_path, 0, 0, 0, None, 0.0)
    raw = table_path.parent / str(table["video"])
    if not raw.is_file():
        raise TakeFormatError(f"{table_path}: names raw video {raw.name}, which is missing")
    target = table_path.with_suffix(str(final["suffix"]))
    part = target.with_name(target.name + PART_SUFFIX)
    expected = len(table["records"])
    try:
        frames = _encode_final(raw, part, final, int(table["width"]), int(table["height"]), expected, rate)
        if frames != expected:
            raise TakeFormatError(f"{raw}: holds {frames} frames, its table lists {expected}")
        commit_file(part, target, fsync)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    fresh = {k: v for k, v in table.items() if k != "compact_to"}
    fresh.update(video=target.name, codec=final["codec"], options=dict(final.get("options", {})))
    write_json_atomic(table_path, fresh, fsync)  # from here on the segment is the new file
    return CompactResult(table_path, frames, raw.stat().st_size, target.stat().st_size, raw,
                         time.process_time() - cpu0)


def pending_tables(take_dir: Path) -> list[Path]:
    """Segment tables of a take that still name a raw video."""
    found = []
    for table_path in sorted((Path(take_dir) / STREAMS_DIR).glob("*/*/[0-9]*.json")):
        try:
            if read_json(table_path).get("compact_to"):
                found.append(table_path)
        except (TakeFormatError, OSError, ValueError):
            continue
    return found


def compact_take(take_dir: Path, fsync: bool = True, rate: int = 30) -> list[CompactResult]:
    """Compact every raw segment of a take here and now (after a crash, or from the CLI); removes raw files
    whose replacement is committed and stray ``.part`` files of interrupted compactions."""
    if is_being_recorded(Path(take_dir)):
        raise RuntimeError(f"take {take_dir} is being recorded; its recorder compacts it")
    results = []
    for table_path in pending_tables(take_dir):
        result = compact_segment(table_path, fsync, rate)
        if result.raw_file is not None:
            result.raw_file.unlink(missing_ok=True)
        results.append(result)
    for table_path in sorted((Path(take_dir) / STREAMS_DIR).glob("*/*/[0-9]*.json")):
        try:
            named = str(read_json(table_path).get("video", ""))
        except (TakeFormatError, OSError, ValueError):
            continue
        stale = [table_path.with_name(table_path.stem + RAW_SUFFIX)] + list(table_path.parent.glob(
            f"{table_path.stem}.*{PART_SUFFIX}"))
        for other in stale:
            if other.name != named and other.is_file():
                other.unlink()
    return results


def _lower_to_idle() -> str:
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return "SCHED_IDLE"
    except (AttributeError, OSError):
        try:
            os.nice(19)
            return "nice 19"
        except OSError:
            return "normal"


class _LineChannel:
    """JSON lines over a pair of file descriptors, with a read timeout (the child's end of the pipe)."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.read_fd, self.write_fd = read_fd, write_fd
        self._buffer = b""
        self.closed = False

    def poll(self, timeout_s: float) -> bool:
        if b"\n" in self._buffer or self.closed:
            return True
        return bool(select.select([self.read_fd], [], [], timeout_s)[0])

    def recv(self) -> Any:
        """The next message; raises EOFError once the other end is closed."""
        while b"\n" not in self._buffer:
            chunk = os.read(self.read_fd, 65536)
            if not chunk:
                self.closed = True
                raise EOFError("the recorder closed the pipe")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def send(self, message: Any) -> None:
        os.write(self.write_fd, (json.dumps(message) + "\n").encode("utf-8"))


def _child_main(conn: Any, fsync: bool, rate: int, idle: bool, paused: bool) -> None:
    """The compactor process: jobs and pause/resume in, results out; deletes raw files after a delay.

    Messages in: a table path (a job), ``"pause"``, ``"resume"``, or None (no more jobs: finish them, exit).
    Jobs wait while paused; when the recorder's process is gone (EOF) the rest are done regardless.
    """
    priority = _lower_to_idle() if idle else "normal"
    conn.send(["ready", priority])
    jobs: deque[str] = deque()
    to_delete: list[tuple[float, Path]] = []
    accepting = True  # more jobs may come (until None)
    alive = True  # the recorder's end of the pipe is open
    while accepting or jobs:
        timeout = 0.0 if (jobs and not paused) else _POLL_S
        while alive and conn.poll(timeout):
            timeout = 0.0
            try:
                message = conn.recv()
            except EOFError:  # the recorder (or its process) is gone: nothing will pause us any more
                alive, accepting, paused = False, False, False
                break
            if message is None:
                accepting = False
            elif message == "pause":
                paused = True
            elif message == "resume":
                paused = False
            else:
                jobs.append(message)
        if jobs and not paused:
            job = jobs.popleft()
            try:
                result = compact_segment(Path(job), fsync, rate)
                if result.raw_file is not None:
                    to_delete.append((time.monotonic() + RAW_DELETE_DELAY_S, result.raw_file))
                reply: list[Any] = ["done", job, result.frames, result.raw_bytes, result.final_bytes, result.cpu_s]
            except Exception as exc:  # the raw segment stays as it is: still a complete segment
                reply = ["failed", job, f"{type(exc).__name__}: {exc}"]
            if alive:
                try:
                    conn.send(reply)
                except (BrokenPipeError, OSError):
                    alive = False
        finishing = not (accepting or jobs)
        now = time.monotonic()
        for deadline, path in [entry for entry in to_delete if entry[0] <= now or finishing]:
            path.unlink(missing_ok=True)
            to_delete.remove((deadline, path))


class SegmentCompactor:
    """Feeds committed raw segments to a compactor child process (``start``, ``submit``, ``close``, ``wait``)."""

    def __init__(self, name: str, *, fsync: bool = True, rate: int = 30, idle_priority: bool = True,
                 paused: bool = False) -> None:
        self.name = name
        self._fsync, self._rate, self._idle = fsync, rate, idle_priority
        self.paused = paused
        self._lock = threading.Lock()
        self._process: Any = None
        self._conn: Any = None
        self._reader: threading.Thread | None = None
        self._closed = False
        self.submitted = 0
        self.done = 0
        self.failed: list[str] = []
        self.raw_bytes = 0
        self.final_bytes = 0
        self.cpu_s = 0.0
        self.priority = "starting"
        self._idle_event = threading.Event()
        self._idle_event.set()

    def start(self) -> None:
        """Start the child: a fresh interpreter (never a fork of a process running threads and sockets, and
        unlike multiprocessing's spawn it does not re-import the caller's ``__main__``)."""
        root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        args = [sys.executable, "-c", "import sys; from bridge.takes.compactor import main; sys.exit(main())",
                "--fsync", str(int(self._fsync)), "--rate",
                str(self._rate), "--idle", str(int(self._idle)), "--paused", str(int(self.paused))]
        self._process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                         close_fds=True)
        self._conn = _PipeEnd(self._process)
        self._reader = threading.Thread(target=self._read_results, name=f"take-compactor-{self.name}", daemon=True)
        self._reader.start()

    @property
    def pending(self) -> int:
        return self.submitted - self.done - len(self.failed)

    def submit(self, table_path: Path) -> None:
        with self._lock:
            if self._closed or self._conn is None:
                return
            self.submitted += 1
            self._idle_event.clear()
            try:
                self._conn.send(str(table_path))
            except (BrokenPipeError, OSError) as exc:
                self.failed.append(f"{table_path}: the compactor process is gone ({exc})")
                log.error("take %s: segment %s stays raw: the compactor process is gone", self.name, table_path)

    def pause(self) -> None:
        """Start no further segment until ``resume`` (the one being re-encoded finishes: ~0.1 s)."""
        self._control("pause", True)

    def resume(self) -> None:
        self._control("resume", False)

    def _control(self, message: str, paused: bool) -> None:
        with self._lock:
            if self.paused == paused or self._conn is None:
                return
            self.paused = paused
            try:
                self._conn.send(message)
            except (BrokenPipeError, OSError):
                pass

    def close(self) -> None:
        """No more segments: the child finishes what it has (once resumed, if paused) and exits."""
        with self._lock:
            if self._closed or self._conn is None:
                self._closed = True
                return
            self._closed = True
            try:
                self._conn.send(None)  # the pipe stays open: pause/resume still reach the child
            except (BrokenPipeError, OSError):
                pass

    def terminate(self) -> None:
        """Stop the child at once (tests, and a server that must not wait); its segments stay raw or done."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(10)

    def wait(self, timeout_s: float | None = None) -> bool:
        """True once every submitted segment is compacted (or failed) and, after ``close``, the child exited."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while self.pending > 0:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            self._idle_event.wait(0.05 if left is None else min(0.05, left))
            if self._process is not None and self._process.poll() is not None and self.pending > 0:
                break
        if self._closed and self._process is not None:
            try:
                self._process.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                return False
            return self.pending <= 0
        return self.pending <= 0

    def _read_results(self) -> None:
        while True:
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                break
            except ValueError:  # not one of our lines: ignore it
                continue
            kind = message[0]
            with self._lock:
                if kind == "ready":
                    self.priority = message[1]
                elif kind == "done":
                    _, _, _frames, raw_bytes, final_bytes, cpu_s = message
                    self.done += 1
                    self.raw_bytes += raw_bytes
                    self.final_bytes += final_bytes
                    self.cpu_s += cpu_s
                else:
                    self.failed.append(f"{message[1]}: {message[2]}")
                    log.error("take %s: segment %s stays raw (still complete and readable): compaction failed: %s",
                              self.name, message[1], message[2])
                if self.pending <= 0:
                    self._idle_event.set()
        with self._lock:
            lost = self.pending
            if lost > 0 and not self._closed:
                log.error("take %s: the compactor process ended with %d segments left raw (`machinima-bridge takes "
                          "compact` finishes them)", self.name, lost)
            self._idle_event.set()


class _PipeEnd:
    """The recorder's end of the child's stdin/stdout: JSON lines."""

    def __init__(self, process: subprocess.Popen) -> None:
        assert process.stdin is not None and process.stdout is not None
        self._stdin, self._stdout = process.stdin, process.stdout

    def send(self, message: Any) -> None:
        self._stdin.write((json.dumps(message) + "\n").encode("utf-8"))
        self._stdin.flush()

    def recv(self) -> Any:
        line = self._stdout.readline()
        if not line:
            raise EOFError("the compactor process ended")
        return json.loads(line)


def main(argv: list[str] | None = None) -> int:
    """The compactor child (``SegmentCompactor.start`` runs it): JSON lines on stdin, replies on stdout."""
    parser = argparse.ArgumentParser(description="re-encode raw take segments (started by TakeRecorder)")
    parser.add_argument("--fsync", type=int, default=1)
    parser.add_argument("--rate", type=int, default=30)
    parser.add_argument("--idle", type=int, default=1)
    parser.add_argument("--paused", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s take-compactor: %(message)s")
    reply_fd = os.dup(sys.stdout.fileno())  # replies get the real stdout; stray prints go to stderr
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    channel = _LineChannel(sys.stdin.fileno(), reply_fd)
    _child_main(channel, bool(args.fsync), args.rate, bool(args.idle), bool(args.paused))
    return 0

