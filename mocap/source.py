"""The seam every mocap source sits behind, and the plumbing they share.

A source (Xsens MVN, VMC, BVH player, Live Link Face, Move Live, markerless webcam) turns its
input into `HumanoidPose` objects in the canonical space and hands them out two ways:

* ``poses(timeout_s)`` — an iterator over poses as they arrive (blocking up to ``timeout_s``
  for each; it ends when the source stops or a wait times out);
* ``add_listener(callback)`` — ``callback(pose)`` called on the source's thread for every pose
  (keep it short; a relay puts the pose in its per-performer mailbox and returns).

`PoseFanout` implements both plus per-performer statistics; `UdpDatagramSource` is the socket
and thread wrapper the UDP sources share — the parsing stays in pure functions.
"""

from __future__ import annotations

import logging
import queue
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from mocap.skeleton import HumanoidPose

log = logging.getLogger(__name__)

PoseCallback = Callable[[HumanoidPose], None]


@runtime_checkable
class MocapSource(Protocol):
    """What the relay, the recorder and the CLI need from any mocap source."""

    name: str

    def start(self) -> None:
        """Start receiving/producing poses (idempotent)."""

    def stop(self) -> None:
        """Stop and release sockets/threads/files (idempotent); ``poses()`` iterators end."""

    def poses(self, timeout_s: float | None = None) -> Iterator[HumanoidPose]:
        """Yield poses as they arrive; stop after ``timeout_s`` without one, or when stopped."""

    def add_listener(self, callback: PoseCallback) -> None:
        """Call ``callback(pose)`` for every pose, on the source's thread."""

    def stats(self) -> SourceStats:
        """Counters and per-performer rates so far."""


@dataclass
class PerformerStats:
    """One performer as seen by one source."""

    poses: int = 0
    rate_hz: float = 0.0  # exponential moving average of the arrival rate
    last_timestamp_ns: int = 0
    last_arrival_ns: int = 0


@dataclass
class SourceStats:
    """Counters of a source: inputs seen, poses produced, inputs rejected and the last reason."""

    inputs: int = 0
    poses: int = 0
    rejected: int = 0
    skipped: int = 0
    last_reject_reason: str = ""
    last_skip_reason: str = ""
    performers: dict[str, PerformerStats] = field(default_factory=dict)


_STOP = object()


class PoseFanout:
    """Thread-safe delivery of poses to iterators and callbacks, with statistics.

    The iterator queue is bounded (``max_queued``); when a consumer falls behind, the oldest
    poses are dropped, since a newer pose of the same performer supersedes them.
    """

    def __init__(self, max_queued: int = 1024, rate_smoothing: float = 0.1) -> None:
        self._queues: list[queue.Queue[object]] = []
        self._listeners: list[PoseCallback] = []
        self._lock = threading.Lock()
        self._max_queued = max_queued
        self._rate_smoothing = rate_smoothing
        self._stats = SourceStats()
        self._closed = False

    def add_listener(self, callback: PoseCallback) -> None:
        with self._lock:
            self._listeners.append(callback)

    def note_input(self) -> None:
        with self._lock:
            self._stats.inputs += 1

    def note_rejected(self, reason: str) -> None:
        with self._lock:
            self._stats.rejected += 1
            self._stats.last_reject_reason = reason
            count = self._stats.rejected
        if count <= 10 or count % 1000 == 0:
            log.warning("rejected input (%d so far): %s", count, reason)

    def note_skipped(self, reason: str) -> None:
        with self._lock:
            self._stats.skipped += 1
            self._stats.last_skip_reason = reason
            count = self._stats.skipped
        if count <= 10 or count % 1000 == 0:
            log.info("skipped input (%d so far): %s", count, reason)

    def publish(self, pose: HumanoidPose) -> None:
        """Deliver ``pose`` to every listener and iterator queue; update the performer's rate."""
        now_ns = time.monotonic_ns()
        with self._lock:
            self._stats.poses += 1
            performer = self._stats.performers.setdefault(pose.performer_id, PerformerStats())
            if performer.last_arrival_ns:
                interval_s = (now_ns - performer.last_arrival_ns) / 1e9
                if interval_s > 0.0:
                    instant_hz = 1.0 / interval_s
                    if performer.rate_hz == 0.0:
                        performer.rate_hz = instant_hz
                    else:
                        performer.rate_hz += self._rate_smoothing * (instant_hz - performer.rate_hz)
            performer.poses += 1
            performer.last_arrival_ns = now_ns
            performer.last_timestamp_ns = pose.timestamp_ns
            listeners = list(self._listeners)
            queues = list(self._queues)
        for callback in listeners:
            try:
                callback(pose)
            except Exception:  # a broken listener must not kill the receive thread
                log.exception("mocap pose listener %r failed", callback)
        for pose_queue in queues:
            while True:
                try:
                    pose_queue.put_nowait(pose)
                    break
                except queue.Full:
                    try:
                        pose_queue.get_nowait()
                    except queue.Empty:
                        pass

    def stats(self) -> SourceStats:
        with self._lock:
            return SourceStats(
                inputs=self._stats.inputs,
                poses=self._stats.poses,
                rejected=self._stats.rejected,
                skipped=self._stats.skipped,
                last_reject_reason=self._stats.last_reject_reason,
                last_skip_reason=self._stats.last_skip_reason,
                performers={
                    name: PerformerStats(p.poses, p.rate_hz, p.last_timestamp_ns, p.last_arrival_ns)
                    for name, p in self._stats.performers.items()
                },
            )

    def poses(self, timeout_s: float | None = None) -> Iterator[HumanoidPose]:
        """An iterator over poses published from now on (it subscribes immediately, not on first ``next``)."""
        pose_queue: queue.Queue[object] = queue.Queue(maxsize=self._max_queued)
        with self._lock:
            closed = self._closed
            if not closed:
                self._queues.append(pose_queue)
        if closed:
            return iter(())
        return self._drain(pose_queue, timeout_s)

    def _drain(self, pose_queue: queue.Queue[object], timeout_s: float | None) -> Iterator[HumanoidPose]:
        try:
            while True:
                try:
                    item = pose_queue.get(timeout=timeout_s)
                except queue.Empty:
                    return
                if item is _STOP:
                    return
                assert isinstance(item, HumanoidPose)
                yield item
        finally:
            with self._lock:
                if pose_queue in self._queues:
                    self._queues.remove(pose_queue)

    def close(self) -> None:
        """End every ``poses()`` iterator."""
        with self._lock:
            self._closed = True
            queues = list(self._queues)
        for pose_queue in queues:
            try:
                pose_queue.put_nowait(_STOP)
            except queue.Full:
                try:
                    pose_queue.get_nowait()
                except queue.Empty:
                    pass
                pose_queue.put_nowait(_STOP)

    def reopen(self) -> None:
        with self._lock:
            self._closed = False


class UdpDatagramSource:
    """A bound UDP socket and a receive thread; subclasses implement `handle_datagram`.

    ``port=0`` binds an ephemeral port (see ``address`` after construction). The receive loop
    uses a short socket timeout so `stop` returns promptly; a failure inside `handle_datagram`
    is counted as a rejection with its message and never ends the thread.
    """

    name = "udp"
    max_datagram_bytes = 65535

    def __init__(self, host: str = "0.0.0.0", port: int = 0, recv_timeout_s: float = 0.1) -> None:
        self._fanout = PoseFanout()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        except OSError:
            pass
        self._socket.bind((host, port))
        self._socket.settimeout(recv_timeout_s)
        self._thread: threading.Thread | None = None
        self._running = threading.Event()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._socket.getsockname()[:2]
        return str(host), int(port)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._fanout.reopen()
        self._running.set()
        self._thread = threading.Thread(target=self._receive_loop, name=f"mocap-{self.name}", daemon=True)
        self._thread.start()
        log.info("%s source listening on udp://%s:%d", self.name, *self.address)

    def stop(self) -> None:
        self._running.clear()
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None
        self._fanout.close()
        self._socket.close()

    def __enter__(self) -> UdpDatagramSource:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def poses(self, timeout_s: float | None = None) -> Iterator[HumanoidPose]:
        return self._fanout.poses(timeout_s)

    def add_listener(self, callback: PoseCallback) -> None:
        self._fanout.add_listener(callback)

    def stats(self) -> SourceStats:
        return self._fanout.stats()

    def handle_datagram(self, data: bytes, sender: tuple[str, int], received_ns: int) -> None:
        raise NotImplementedError

    def flush(self, first_received_ns: int) -> None:
        """Called once the socket has no more datagrams waiting (after a burst); default: nothing.

        Sources whose frames span several datagrams (VMC bundles) apply each datagram in
        `handle_datagram` and publish one pose per burst here.
        """

    def _handle(self, data: bytes, sender: tuple[str, int], received_ns: int) -> None:
        self._fanout.note_input()
        try:
            self.handle_datagram(data, sender, received_ns)
        except Exception as error:  # never let one bad datagram end the listener
            self._fanout.note_rejected(f"{type(error).__name__}: {error}")

    def _receive_loop(self) -> None:
        while self._running.is_set():
            try:
                data, sender = self._socket.recvfrom(self.max_datagram_bytes)
            except TimeoutError:
                continue
            except OSError:
                if self._running.is_set():
                    log.exception("%s socket failed", self.name)
                break
            first_received_ns = time.time_ns()
            self._handle(data, sender, first_received_ns)
            # drain what is already queued (the rest of a burst) before flushing
            while self._running.is_set():
                try:
                    readable, _, _ = select.select([self._socket], [], [], 0.0)
                    if not readable:
                        break
                    data, sender = self._socket.recvfrom(self.max_datagram_bytes)
                except (OSError, ValueError):
                    break
                self._handle(data, sender, time.time_ns())
            try:
                self.flush(first_received_ns)
            except Exception as error:
                self._fanout.note_rejected(f"{type(error).__name__}: {error}")
