"""Message kinds of shared sessions: SESSION (who is in) and STATE (a small shared key-value store).

Engines that name the same ``session`` in HELLO share one world: they receive
each other's performers (MOCAP), join/leave events, and a key-value store any
of them can change (scene cues, the current take, a door that is open).
docs/protocol.md sections 6.12-6.13 are normative; field order below is the
canonical key order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Sequence

import msgpack

from bridge.protocol.errors import ErrorCode, ProtocolError
from bridge.protocol.header_codec import PROTOCOL_VERSION, FieldReader

SESSION_EVENTS = ("snapshot", "join", "leave")
STATE_OPS = ("set", "delete")
MAX_STATE_KEY_CHARS = 256
MAX_STATE_VALUE_BYTES = 16384


@dataclass
class SessionMember:
    engine_id: str
    engine: str

    def to_wire(self) -> dict[str, Any]:
        return {"engine_id": self.engine_id, "engine": self.engine}

    @classmethod
    def from_wire(cls, r: FieldReader) -> SessionMember:
        return cls(engine_id=r.str("engine_id"), engine=r.str("engine"))


@dataclass
class SessionEvent:
    """Server -> engine.  ``snapshot`` right after WELCOME (members and the whole state);
    ``join``/``leave`` when another engine enters or leaves the session."""

    KIND: ClassVar[str] = "SESSION"
    session: str
    event: str
    engine_id: str
    engine: str
    members: list[SessionMember] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None

    def to_header(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "v": PROTOCOL_VERSION,
            "kind": self.KIND,
            "session": self.session,
            "event": self.event,
            "engine_id": self.engine_id,
            "engine": self.engine,
            "members": [m.to_wire() for m in self.members],
            "state": dict(self.state),
        }
        if self.reason is not None:
            out["reason"] = self.reason
        return out

    @classmethod
    def from_header(cls, r: FieldReader, parts: Sequence[Any]) -> SessionEvent:
        event = r.str("event")
        if event not in SESSION_EVENTS:
            raise ProtocolError(ErrorCode.BAD_FIELD, f"SESSION.event {event!r} is not one of {', '.join(SESSION_EVENTS)}",
                                kind=cls.KIND)
        return cls(
            session=r.str("session"),
            event=event,
            engine_id=r.str("engine_id"),
            engine=r.str("engine"),
            members=[SessionMember.from_wire(FieldReader(m, f"members[{i}]", cls.KIND))
                     for i, m in enumerate(r.list("members", required=False, default=[]))],
            state=dict(r.map("state", required=False, default={})),
            reason=r.str("reason", required=False),
        )


def state_value_size(value: Any) -> int:
    return len(msgpack.packb(value, use_bin_type=True))


@dataclass
class StateChange:
    """Engine -> server: set or delete one key of the session's shared state.
    Server -> every engine of the session (the sender too): the change as applied, with who made it
    and the session's state version after it."""

    KIND: ClassVar[str] = "STATE"
    key: str
    value: Any = None
    op: str = "set"
    by: str | None = None
    version: int | None = None

    def to_header(self) -> dict[str, Any]:
        out: dict[str, Any] = {"v": PROTOCOL_VERSION, "kind": self.KIND, "key": self.key, "op": self.op}
        if self.op == "set":
            out["value"] = self.value
        if self.by is not None:
            out["by"] = self.by
        if self.version is not None:
            out["version"] = self.version
        return out

    @classmethod
    def from_header(cls, r: FieldReader, parts: Sequence[Any]) -> StateChange:
        key = r.str("key")
        if not 1 <= len(key) <= MAX_STATE_KEY_CHARS:
            raise ProtocolError(ErrorCode.BAD_FIELD, f"STATE.key must be 1..{MAX_STATE_KEY_CHARS} characters",
                                kind=cls.KIND)
        op = r.str("op", required=False, default="set")
        if op not in STATE_OPS:
            raise ProtocolError(ErrorCode.BAD_FIELD, f"STATE.op {op!r} is not one of {', '.join(STATE_OPS)}",
                                kind=cls.KIND)
        if op == "set" and "value" not in r.value:
            raise ProtocolError(ErrorCode.BAD_FIELD, "STATE.value is missing (op 'set')", kind=cls.KIND)
        value = r.value.get("value") if op == "set" else None
        if isinstance(value, (bytes, bytearray)):
            raise ProtocolError(ErrorCode.BAD_FIELD, "STATE.value must not be binary; use a string or numbers",
                                kind=cls.KIND)
        if op == "set" and state_value_size(value) > MAX_STATE_VALUE_BYTES:
            raise ProtocolError(ErrorCode.LIMIT_EXCEEDED,
                                f"STATE.value of {key!r} is above {MAX_STATE_VALUE_BYTES} bytes encoded", kind=cls.KIND)
        return cls(key=key, value=value, op=op, by=r.str("by", required=False),
                   version=r.int("version", required=False, lo=0))
