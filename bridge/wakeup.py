"""A file descriptor another thread can make readable, to wake a zmq poll loop.

The I/O thread sleeps in poll(2) on the ROUTER's signalling descriptor and
this one.  Other threads ``signal()`` after queueing work for the I/O thread
(installing a set-up pipeline, freeing a vanished engine), and a stage thread
signals when its own send consumed the socket's edge-triggered readiness.
"""

from __future__ import annotations

import os
import threading


class Wakeup:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending = False
        if hasattr(os, "eventfd"):
            self._read_fd = self._write_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        else:  # pragma: no cover - non-Linux
            self._read_fd, self._write_fd = os.pipe()
            os.set_blocking(self._read_fd, False)
            os.set_blocking(self._write_fd, False)
        self._closed = False

    def fileno(self) -> int:
        return self._read_fd

    def signal(self) -> None:
        with self._lock:
            if self._pending or self._closed:
                return  # already signalled and not yet cleared: one wake serves all queued work
            self._pending = True
            try:
                os.write(self._write_fd, (1).to_bytes(8, "little"))
            except BlockingIOError:  # pragma: no cover - counter full; the reader is awake anyway
                pass

    def clear(self) -> None:
        with self._lock:
            self._pending = False
            try:
                os.read(self._read_fd, 8)
            except BlockingIOError:
                pass

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            os.close(self._read_fd)
            if self._write_fd != self._read_fd:
                os.close(self._write_fd)
