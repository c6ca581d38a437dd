"""Named sessions: who is in each, their shared key-value state, and the limits that apply.

Every engine is in the session its HELLO names (for limits and MOCAP); only
engines that list the capability ``"session"`` receive SESSION events and
STATE changes, so a single engine that does not care never sees them.

Used from the server's I/O thread only.  Each method returns the messages to
send as ``(routing_id, message)`` pairs, so the server decides how to send
(non-blocking, never waiting for a slow engine) and this stays testable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from bridge.protocol.errors import ErrorCode, ProtocolError
from bridge.protocol.messages import Hello
from bridge.protocol.session_messages import SessionEvent, SessionMember, StateChange

log = logging.getLogger(__name__)

SESSION_CAPABILITY = "session"
SERVER_AUTHOR = "server"  # STATE.by of the keys the server sets itself (e.g. ``bridge.take``)

Outgoing = list[tuple[bytes, Any]]


@dataclass
class SessionLimits:
    """Per-session and per-engine limits (server config ``[limits]``)."""

    max_engines_per_session: int = 16
    max_streams_per_engine: int = 16
    max_width_px: int = 7680
    max_height_px: int = 4320
    max_fps: float = 240.0
    max_state_keys: int = 1024

    def check_hello(self, hello: Hello, members_now: int, replacing: bool) -> None:
        """Raise LIMIT_EXCEEDED naming the limit a HELLO breaks."""
        if not replacing and members_now >= self.max_engines_per_session:
            raise ProtocolError(
                ErrorCode.LIMIT_EXCEEDED,
                f"session {hello.session!r} is full: {members_now} engines, at most {self.max_engines_per_session}",
                kind="HELLO",
            )
        if len(hello.streams) > self.max_streams_per_engine:
            raise ProtocolError(ErrorCode.LIMIT_EXCEEDED,
                                f"{len(hello.streams)} streams declared, at most {self.max_streams_per_engine} per engine",
                                kind="HELLO")
        for s in hello.streams:
            if s.width > self.max_width_px or s.height > self.max_height_px:
                raise ProtocolError(
                    ErrorCode.LIMIT_EXCEEDED,
                    f"stream {s.id} is {s.width}x{s.height}, above this server's {self.max_width_px}x{self.max_height_px}",
                    kind="HELLO", stream=s.id,
                )
            if s.fps > self.max_fps:
                raise ProtocolError(ErrorCode.LIMIT_EXCEEDED,
                                    f"stream {s.id} declares {s.fps:g} fps, above this server's {self.max_fps:g}",
                                    kind="HELLO", stream=s.id)


@dataclass
class _Session:
    name: str
    members: dict[bytes, SessionMember] = field(default_factory=dict)
    listening: set[bytes] = field(default_factory=set)
    state: dict[str, Any] = field(default_factory=dict)
    version: int = 0


class SessionDirectory:
    def __init__(self, limits: SessionLimits | None = None) -> None:
        self.limits = limits or SessionLimits()
        self._sessions: dict[str, _Session] = {}
        self._where: dict[bytes, str] = {}
        self._server_state: dict[str, Any] = {}  # keys the server itself sets in every session (``set_server_state``)

    def members(self, session: str) -> int:
        s = self._sessions.get(session)
        return 0 if s is None else len(s.members)

    def check_hello(self, rid: bytes, hello: Hello) -> None:
        self.limits.check_hello(hello, self.members(hello.session), replacing=self._where.get(rid) == hello.session)

    def join(self, rid: bytes, session: str, engine_id: str, engine: str, listening: bool) -> Outgoing:
        """The engine is in: it gets a snapshot, the other listening engines a join event."""
        s = self._sessions.get(session)
        if s is None:
            s = self._sessions[session] = _Session(session, state=dict(self._server_state))
        s.members[rid] = SessionMember(engine_id, engine)
        if listening:
            s.listening.add(rid)
        self._where[rid] = session
        log.info("%s (%s) joined session %r (%d engines)", engine_id, engine, session, len(s.members))
        out: Outgoing = []
        if listening:
            out.append((rid, SessionEvent(session, "snapshot", engine_id, engine, list(s.members.values()),
                                          dict(s.state))))
        out += [(other, SessionEvent(session, "join", engine_id, engine)) for other in s.listening if other != rid]
        return out

    def leave(self, rid: bytes, reason: str) -> Outgoing:
        session = self._where.pop(rid, None)
        if session is None:
            return []
        s = self._sessions[session]
        member = s.members.pop(rid)
        s.listening.discard(rid)
        log.info("%s left session %r (%s)", member.engine_id, session, reason)
        if not s.members:
            del self._sessions[session]  # the state of an empty session goes with it
            return []
        return [(other, SessionEvent(session, "leave", member.engine_id, member.engine, reason=reason))
                for other in s.listening]

    def set_server_state(self, key: str, value: Any) -> Outgoing:
        """Set ``key`` in every session (and in sessions made later) as the server (``by`` = ``"server"``)."""
        self._server_state[key] = value
        out: Outgoing = []
        for s in self._sessions.values():
            s.state[key] = value
            s.version += 1
            applied = StateChange(key, value, "set", by=SERVER_AUTHOR, version=s.version)
            out += [(member, applied) for member in s.listening]
        return out

    def change_state(self, rid: bytes, change: StateChange) -> Outgoing:
        session = self._where.get(rid)
        if session is None:
            raise ProtocolError(ErrorCode.NOT_WELCOMED, "STATE before WELCOME", kind="STATE")
        s = self._sessions[session]
        if change.op == "set":
            if change.key not in s.state and len(s.state) >= self.limits.max_state_keys:
                raise ProtocolError(ErrorCode.LIMIT_EXCEEDED,
                                    f"session {session!r} already holds {len(s.state)} keys (at most "
                                    f"{self.limits.max_state_keys}); delete some first", kind="STATE")
            s.state[change.key] = change.value
        else:
            s.state.pop(change.key, None)
        s.version += 1
        applied = StateChange(change.key, change.value if change.op == "set" else None, change.op,
                              by=s.members[rid].engine_id, version=s.version)
        return [(member, applied) for member in s.listening]
