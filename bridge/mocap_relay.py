"""Relay of performers' poses to every engine in a session: newest pose wins, per performer, per engine.

An engine (or a mocap source inside the server) publishes a MOCAP message for
a performer; the relay queues it for every other engine of the same session
that declared the ``mocap`` capability in HELLO.  The queue holds at most one
message per (engine, performer): a newer pose replaces one that could not be
sent yet, so a slow engine gets fewer, fresher poses and never a backlog, and
never slows the others.  The latency from capture (the pose's ``t_ns``, wall
clock nanoseconds since the Unix epoch on the capturing machine) to the
moment of sending is recorded for STATS and benchmarks.

Each pose is queued once (one `PendingPose` shared by all its target engines).
``wire_check`` is the server's door check of engines' poses (`MocapWireChecker`):
it remembers each performer's checked name lists, and forgets them with the
performer.  The server flushes right after publishing, so a pose goes out in
the same I/O-loop pass that received it.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np

from bridge.mocap_wire_check import MocapWireChecker

log = logging.getLogger(__name__)

MOCAP_CAPABILITY = "mocap"
_LATENCY_SAMPLES = 4096


@dataclass(frozen=True)
class PendingPose:
    """One published pose, shared by every engine it is queued for (never copied per engine)."""

    performer: str
    parts: list[Any]
    t_ns: int
    t_published_ns: int


@dataclass
class PerformerInfo:
    performer: str
    session: str
    source: str
    poses: int = 0
    last_ns: int = 0
    times_ns: deque = field(default_factory=lambda: deque(maxlen=240))

    def rate_hz(self, now_ns: int) -> float:
        recent = [t for t in self.times_ns if now_ns - t <= 2_000_000_000]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) * 1e9 / max(recent[-1] - recent[0], 1)


SendFn = Callable[[bytes, list[Any]], bool]  # returns False when the engine's queue is full


class MocapRelay:
    """Not thread-safe: used from the server's I/O thread only."""

    def __init__(self) -> None:
        self._members: dict[str, set[bytes]] = {}  # session -> engines that receive mocap
        self._pending: dict[bytes, dict[str, PendingPose]] = {}  # engine -> performer -> newest pose
        self.performers: dict[str, PerformerInfo] = {}
        self.latencies_us: deque[int] = deque(maxlen=_LATENCY_SAMPLES)
        self.replaced = 0  # poses superseded before a slow engine could take them
        self.wire_check = MocapWireChecker()  # the door check of engines' poses, remembering each performer's layout

    def join(self, session: str, engine: bytes, receives_mocap: bool) -> None:
        if receives_mocap:
            self._members.setdefault(session, set()).add(engine)

    def leave(self, engine: bytes) -> None:
        for members in self._members.values():
            members.discard(engine)
        self._pending.pop(engine, None)

    def publish(self, session: str, sender: bytes | None, performer: str, parts: list[Any], t_ns: int,
                source: str = "engine") -> int:
        """Queue a pose for every receiving engine of ``session`` but its sender; returns how many."""
        now = time.monotonic_ns()
        info = self.performers.get(performer)
        if info is None or info.session != session:
            info = self.performers[performer] = PerformerInfo(performer, session, source)
            log.info("performer %r joined session %r (from %s)", performer, session, source)
        info.poses += 1
        info.last_ns = now
        info.times_ns.append(now)
        pending = PendingPose(performer, parts, t_ns, now)
        targets = 0
        for engine in self._members.get(session, ()):
            if engine == sender:
                continue
            targets += 1
            queue = self._pending.get(engine)
            if queue is None:
                self._pending[engine] = {performer: pending}
                continue
            if performer in queue:
                self.replaced += 1
            queue[performer] = pending
        return targets

    def flush(self, send: SendFn, clock_ns: Callable[[], int] = time.time_ns) -> None:
        """Send every queued pose; those an engine cannot take now stay (until a newer one replaces them)."""
        for engine, queue in list(self._pending.items()):
            for performer, pending in list(queue.items()):
                if not send(engine, pending.parts):
                    break  # this engine is full: keep its poses, try again on the next flush
                del queue[performer]
                self.latencies_us.append((clock_ns() - pending.t_ns) // 1000)
            if not queue:
                del self._pending[engine]

    @property
    def has_pending(self) -> bool:
        return bool(self._pending)

    def latency_ms(self, quantiles: Iterable[float] = (50, 99)) -> list[float]:
        if not self.latencies_us:
            return [0.0 for _ in quantiles]
        values = np.asarray(self.latencies_us, dtype=np.float64) / 1000.0
        return [float(np.percentile(values, q)) for q in quantiles]

    def session_of(self, performer: str) -> str | None:
        info = self.performers.get(performer)
        return None if info is None else info.session

    def drop_performers_of(self, source: str) -> None:
        for name in [p for p, info in self.performers.items() if info.source == source]:
            del self.performers[name]
            self.wire_check.forget(name)
