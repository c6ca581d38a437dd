"""Checks of a MOCAP message before the relay passes it on (layout: ``mocap.pose_wire``).

The relay forwards MOCAP messages as they came, but one that would make every
receiving engine fail is refused at the door with an ERROR naming the cause:
the header must name the performer, the capture time and the bones, and the
one binary part must match them exactly (``mocap.pose_wire.check_pose_wire``,
every check of the decoder without building the pose).
"""

from __future__ import annotations

from bridge.protocol.errors import ErrorCode, ProtocolError
from bridge.protocol.messages import Mocap
from mocap.pose_wire import PoseWireError, check_pose_wire


def check_mocap_message(msg: Mocap) -> tuple[str, int]:
    """(performer, t_ns) of a well-formed pose; raises ProtocolError (BAD_FIELD or PLANE_MISMATCH) naming the problem."""
    if len(msg.parts) != 1:
        raise ProtocolError(
            ErrorCode.PLANE_MISMATCH, f"MOCAP carries exactly one binary part (the pose), got {len(msg.parts)}",
            kind="MOCAP",
        )
    try:
        return check_pose_wire(msg.fields, msg.parts[0])
    except PoseWireError as exc:
        code = ErrorCode.PLANE_MISMATCH if "part is" in str(exc) else ErrorCode.BAD_FIELD
        raise ProtocolError(code, str(exc), kind="MOCAP") from None
