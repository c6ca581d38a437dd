"""Checks of a MOCAP message before the relay passes it on (see docs/protocol.md, MOCAP).

The relay forwards MOCAP messages without decoding the pose, but a message
that would make every receiving engine fail is refused at the door with an
ERROR naming the cause: the header must name the performer and the capture
time, and the bone payload must match the bone list (``mocap.pose_wire``).
"""

from __future__ import annotations

from bridge.protocol.errors import ErrorCode, ProtocolError
from bridge.protocol.messages import Mocap

MAX_PERFORMER_CHARS = 128


def check_mocap_message(msg: Mocap) -> tuple[str, int]:
    """Returns (performer, t_capture_ns); raises ProtocolError naming the problem."""
    fields = msg.fields
    performer = fields.get("performer")
    if not isinstance(performer, str) or not performer or len(performer) > MAX_PERFORMER_CHARS:
        raise ProtocolError(
            ErrorCode.BAD_FIELD, f"MOCAP.performer must be a non-empty string of at most {MAX_PERFORMER_CHARS} characters",
            kind="MOCAP",
        )
    t_capture_ns = fields.get("t_capture_ns")
    if not isinstance(t_capture_ns, int) or isinstance(t_capture_ns, bool) or t_capture_ns < 0:
        raise ProtocolError(ErrorCode.BAD_FIELD, "MOCAP.t_capture_ns must be a non-negative integer", kind="MOCAP")
    return performer, t_capture_ns
