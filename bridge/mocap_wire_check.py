"""Checks of a MOCAP message before the relay passes it on (layout: ``mocap.pose_wire``).

The relay forwards MOCAP messages as they came, but one that would make every
receiving engine fail is refused at the door with an ERROR naming the cause:
the header must name the performer, the capture time and the bones, and the
one binary part must match them exactly (``mocap.pose_wire.check_pose_wire``,
every check of the decoder without building the pose).

`MocapWireChecker` is the server's door check: it remembers the name lists
(bones, positions, blendshapes, confidence) of each performer's last accepted
pose, and when the next pose lists the same names it skips only the per-name
checks that held for those equal lists; every per-pose check (performer,
``t_ns``, root, part size, finite values, no zero quaternion) runs on every
pose, with the same ERROR codes and messages as the full check.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from bridge.protocol.errors import ErrorCode, ProtocolError
from bridge.protocol.messages import Mocap
from mocap.pose_wire import PoseLayout, PoseWireError, check_pose_wire, check_pose_wire_with_layout

MAX_REMEMBERED_LAYOUTS = 1024  # performers whose name lists are remembered (least recently sent forgotten first)


def _refusal(exc: PoseWireError) -> ProtocolError:
    code = ErrorCode.PLANE_MISMATCH if exc.size_mismatch else ErrorCode.BAD_FIELD
    return ProtocolError(code, str(exc), kind="MOCAP")


def _only_part(msg: Mocap) -> Any:
    if len(msg.parts) != 1:
        raise ProtocolError(
            ErrorCode.PLANE_MISMATCH, f"MOCAP carries exactly one binary part (the pose), got {len(msg.parts)}",
            kind="MOCAP",
        )
    return msg.parts[0]


def check_mocap_message(msg: Mocap) -> tuple[str, int]:
    """(performer, t_ns) of a well-formed pose; raises ProtocolError (BAD_FIELD or PLANE_MISMATCH) naming the problem."""
    part = _only_part(msg)
    try:
        return check_pose_wire(msg.fields, part)
    except PoseWireError as exc:
        raise _refusal(exc) from None


class MocapWireChecker:
    """`check_mocap_message` with each performer's last layout remembered; one thread only (the server's I/O)."""

    def __init__(self, max_performers: int = MAX_REMEMBERED_LAYOUTS) -> None:
        self._layouts: OrderedDict[str, PoseLayout] = OrderedDict()
        self._max_performers = max_performers
        self.layout_hits = 0  # poses whose name lists equalled the performer's previous ones
        self.layout_checks = 0  # poses whose name lists were checked in full

    def check(self, msg: Mocap) -> tuple[str, int]:
        """(performer, t_ns) of a well-formed pose; raises ProtocolError exactly as `check_mocap_message` does."""
        part = _only_part(msg)
        performer = msg.fields.get("performer")
        known = self._layouts.get(performer) if isinstance(performer, str) else None
        try:
            performer, t_ns, layout = check_pose_wire_with_layout(msg.fields, part, known)
        except PoseWireError as exc:
            raise _refusal(exc) from None
        if layout is known:
            self.layout_hits += 1
            self._layouts.move_to_end(performer)
        else:
            self.layout_checks += 1
            self._layouts[performer] = layout
            self._layouts.move_to_end(performer)
            if len(self._layouts) > self._max_performers:
                self._layouts.popitem(last=False)
        return performer, t_ns

    def forget(self, performer: str) -> None:
        self._layouts.pop(performer, None)
