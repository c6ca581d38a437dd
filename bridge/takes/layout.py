"""Where a take's files live, and how they are committed so a crash never leaves a half-written one.

A take is a directory ``<takes_dir>/<name>/``::

    manifest.json                      what the take is (rewritten atomically; see below)
    status.json                        the status alone, in 4 KiB written at the start and overwritten
                                       in place, so it can still say "failed" when the disk is full
    .lock                              flock(2)-ed by the recording process while it records
    events/controls.jsonl              one JSON object per CONTROL, appended and flushed
    events/mocap.msgpack               one msgpack map per pose (pose_wire fields + payload)
    mocap/<performer>.bvh              each performer's poses as BVH, written when the take finishes
    streams/<dir>/input/NNNNNN.raw.nut engine colour, raw rgb24, while the segment waits for the compactor
    streams/<dir>/input/NNNNNN.mkv     engine colour, lossless (libx264rgb, qp 0) in Matroska
    streams/<dir>/input/NNNNNN.npz     depth (as received: float16 or float32) and mask (uint8)
    streams/<dir>/input/NNNNNN.json    the segment's frame table: commits the segment
    streams/<dir>/output/NNNNNN.mp4    pipeline output, H.264 (crf 16; raw ``.raw.nut`` until compacted)
    streams/<dir>/output/NNNNNN.json
    streams/<dir>/audio/NNNNNN.wav     16-bit PCM as received
    streams/<dir>/audio/NNNNNN.json

Commit rule: every segment file is written under a ``.part`` name, flushed,
fsync-ed and renamed; its ``.json`` table is written last the same way and is
what makes the segment exist.  A reader only ever looks at segments with a
table, so a process killed mid-take leaves complete segments plus ignorable
``.part`` files.  ``manifest.json`` is replaced atomically (write a temporary
file, fsync, rename, fsync the directory).
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

TAKE_FORMAT = "machinima-bridge-take"
TAKE_FORMAT_VERSION = 1
MANIFEST = "manifest.json"
STATUS_FILE = "status.json"
STATUS_FILE_BYTES = 4096
LOCK_FILE = ".lock"
EVENTS_DIR = "events"
CONTROLS_FILE = "events/controls.jsonl"
MOCAP_FILE = "events/mocap.msgpack"
MOCAP_BVH_DIR = "mocap"  # <performer>.bvh per performer, written when the take finishes
STREAMS_DIR = "streams"
PART_SUFFIX = ".part"
SEGMENT_KINDS = ("input", "output", "audio")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]")


class TakeFormatError(Exception):
    """A take directory or one of its files is not what the take format says; the message names the file."""


def check_take_name(name: str) -> str:
    if not isinstance(name, str) or not _SAFE_NAME.fullmatch(name):  # fullmatch: "$" would let a final "\n" in
        raise ValueError(
            f"take name {name!r} must be 1..128 characters of letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def stream_dir_name(stream_key: str) -> str:
    """A directory name for a stream key: the key itself when safe, else a cleaned form plus a short hash."""
    if _SAFE_NAME.fullmatch(stream_key) and stream_key not in (".", ".."):
        return stream_key
    cleaned = _UNSAFE_CHARS.sub("_", stream_key)[:96].strip("._") or "stream"
    digest = hashlib.sha1(stream_key.encode("utf-8")).hexdigest()[:8]
    return f"{cleaned}-{digest}"


def segment_name(seq: int) -> str:
    return f"{seq:06d}"


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:  # some filesystems refuse fsync on directories
        if exc.errno not in (errno.EINVAL, errno.EBADF):
            raise
    finally:
        os.close(fd)


def commit_file(part: Path, final: Path, fsync: bool = True) -> None:
    """fsync ``part`` then rename it to ``final`` (same directory)."""
    if fsync:
        fd = os.open(part, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    os.replace(part, final)


def write_json_atomic(path: Path, data: Any, fsync: bool = True) -> None:
    """Replace ``path`` with ``data`` as JSON so that readers see the old or the new file, never a mix."""
    part = path.with_name(path.name + PART_SUFFIX)
    payload = json.dumps(data, indent=1, sort_keys=False, allow_nan=False).encode("utf-8")
    with open(part, "wb") as handle:
        handle.write(payload)
        handle.flush()
        if fsync:
            os.fsync(handle.fileno())
    os.replace(part, path)
    if fsync:
        fsync_dir(path.parent)


def write_status_in_place(path: Path, status: dict[str, Any], create: bool = False, fsync: bool = True) -> None:
    """Write ``status`` into the fixed-size status file without allocating (works on a full disk)."""
    payload = json.dumps(status, allow_nan=False).encode("utf-8")
    if len(payload) > STATUS_FILE_BYTES - 1:
        status = {**status, "failure": str(status.get("failure"))[: STATUS_FILE_BYTES // 2]}
        payload = json.dumps(status, allow_nan=False).encode("utf-8")[: STATUS_FILE_BYTES - 1]
    payload = payload.ljust(STATUS_FILE_BYTES - 1) + b"\n"
    fd = os.open(path, os.O_WRONLY | (os.O_CREAT if create else 0), 0o644)
    try:
        os.pwrite(fd, payload, 0)
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)


def read_status(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_bytes().decode("utf-8").strip() or "null")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TakeFormatError(f"{path}: not a readable JSON file: {exc}") from None


class TakeLock:
    """An exclusive flock(2) on ``<take>/.lock``: held by the recorder; released by the kernel if it dies."""

    def __init__(self, take_dir: Path) -> None:
        self.path = take_dir / LOCK_FILE
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None


def is_being_recorded(take_dir: Path) -> bool:
    """True while a live process holds the take's lock (a crashed recorder holds none)."""
    if not (take_dir / LOCK_FILE).exists():
        return False
    lock = TakeLock(take_dir)
    try:
        if lock.try_acquire():
            lock.release()
            return False
    except OSError:
        return False
    return True
