"""VMC protocol (Virtual Motion Capture, OSC 1.0 over UDP): receive as a Marionette, send as a Performer.

Addresses handled (names case-sensitive, values in Unity space — left-handed, Y up, metres,
local transforms; for VRM avatars the normalised bones are identity in the T-pose, so VMC
local rotations are already "relative to the T-pose bind" as `HumanoidPose` wants them):

===========================  ==========================================================
address                      arguments
===========================  ==========================================================
``/VMC/Ext/OK``              i loaded [, i calibration state, i calibration mode [, i tracking]]
``/VMC/Ext/T``               f time (seconds)
``/VMC/Ext/Root/Pos``        s "root", 3f position, 4f quaternion xyzw [, 3f scale, 3f offset]
``/VMC/Ext/Bone/Pos``        s bone (Unity HumanBodyBones name), 3f local position, 4f local xyzw
``/VMC/Ext/Blend/Val``       s name, f value — held until ``/VMC/Ext/Blend/Apply``
``/VMC/Ext/Blend/Apply``     (none)
===========================  ==========================================================

Receiving (`VmcMarionette`, pure): every message of a packet (a bundle or a single message) is
applied in order; unknown addresses are ignored; a message with too few or wrongly typed
arguments (e.g. an int where a float belongs) or an unknown bone name is reported and skipped
while the rest of the packet still applies. A packet that changed the root, a bone or applied
blendshapes yields one `HumanoidPose`. Blendshape names pass through unchanged: ARKit names
when the sender streams "perfect sync", VRM preset names otherwise (`VRM0_TO_VRM1` maps the
presets between VRM versions).

Sending (`encode_pose_packets`, pure; `VmcPerformerSender` owns the socket): ``OK``, ``T``,
``Root/Pos``, one ``Bone/Pos`` per bone, the blendshapes, then ``Blend/Apply``, every float
as OSC ``f``, grouped in order into bundles of at most ``max_packet_bytes`` (default 1500).
"""

from __future__ import annotations

import logging
import math
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mocap import osc_codec
from mocap.skeleton import HUMAN_BONE_INDEX, HUMAN_BONES, T_POSE_OFFSETS_M, HumanoidPose
from mocap.source import UdpDatagramSource

log = logging.getLogger(__name__)

VMC_MARIONETTE_PORT = 39539
VMC_PERFORMER_PORT = 39540
MAX_PACKET_BYTES = 1500

ADDRESS_OK = "/VMC/Ext/OK"
ADDRESS_TIME = "/VMC/Ext/T"
ADDRESS_ROOT = "/VMC/Ext/Root/Pos"
ADDRESS_BONE = "/VMC/Ext/Bone/Pos"
ADDRESS_BLEND_VALUE = "/VMC/Ext/Blend/Val"
ADDRESS_BLEND_APPLY = "/VMC/Ext/Blend/Apply"

VRM0_TO_VRM1: dict[str, str] = {
    "Joy": "happy",
    "Angry": "angry",
    "Sorrow": "sad",
    "Fun": "relaxed",
    "A": "aa",
    "I": "ih",
    "U": "ou",
    "E": "ee",
    "O": "oh",
    "Blink_L": "blinkLeft",
    "Blink_R": "blinkRight",
}
VRM1_TO_VRM0: dict[str, str] = {value: key for key, value in VRM0_TO_VRM1.items()}


class VmcMessageError(ValueError):
    """A VMC message with missing or wrongly typed arguments (the message names which)."""


@dataclass
class VmcPerformerState:
    """Everything a Marionette has received from one Performer so far."""

    root_position_m: tuple[float, ...] = (0.0, 0.0, 0.0)
    root_rotation: tuple[float, ...] = (0.0, 0.0, 0.0, 1.0)
    root_scale: tuple[float, ...] | None = None
    root_offset_m: tuple[float, ...] | None = None
    bone_rotations: dict[str, tuple[float, ...]] = field(default_factory=dict)
    bone_positions_m: dict[str, tuple[float, ...]] = field(default_factory=dict)
    pending_blendshapes: dict[str, float] = field(default_factory=dict)
    blendshapes: dict[str, float] = field(default_factory=dict)
    time_s: float | None = None
    loaded: bool | None = None
    calibration_state: int | None = None
    calibration_mode: int | None = None
    tracking: int | None = None


def _check_tags(message: osc_codec.OscMessage, accepted: Sequence[str], meaning: str) -> None:
    if message.type_tags not in accepted:
        raise VmcMessageError(
            f"{message.address}: expected {meaning} (OSC type tags {' or '.join(repr(t) for t in accepted)}), "
            f"got {message.type_tags!r}"
        )


def _unit_quaternion(values: Sequence[float], message: osc_codec.OscMessage) -> tuple[float, float, float, float]:
    x, y, z, w = values
    norm = math.sqrt(x * x + y * y + z * z + w * w)
    if not math.isfinite(norm) or norm < 1e-6:
        raise VmcMessageError(f"{message.address} {message.args[0]!r}: quaternion {list(values)} has no direction")
    return (x / norm, y / norm, z / norm, w / norm)


def _finite(values: Sequence[float], message: osc_codec.OscMessage) -> tuple[float, ...]:
    for value in values:
        if not math.isfinite(value):
            raise VmcMessageError(f"{message.address}: non-finite values {list(values)}")
    return tuple(values)


class VmcMarionette:
    """Pure VMC receiver for one Performer: feed packets, get poses (see module doc)."""

    def __init__(self, performer_id: str = "vmc", keep_bone_positions: bool = False) -> None:
        self.performer_id = performer_id
        self.keep_bone_positions = keep_bone_positions
        self.state = VmcPerformerState()

    def apply_message(self, message: osc_codec.OscMessage) -> bool:
        """Apply one message; return True if it changed the pose. Raises VmcMessageError when malformed."""
        address = message.address
        state = self.state
        if address == ADDRESS_BONE:
            _check_tags(message, ("sfffffff",), "s bone, 3f position, 4f quaternion")
            name = message.args[0]
            if name not in HUMAN_BONE_INDEX:
                raise VmcMessageError(f"{address}: unknown bone name {name!r} (not a Unity HumanBodyBones name)")
            state.bone_rotations[name] = _unit_quaternion(message.args[4:8], message)
            state.bone_positions_m[name] = _finite(message.args[1:4], message)
            return True
        if address == ADDRESS_ROOT:
            _check_tags(message, ("sfffffff", "sfffffffffffff"), "s name, 3f position, 4f quaternion [, 3f scale, 3f offset]")
            state.root_rotation = _unit_quaternion(message.args[4:8], message)
            state.root_position_m = _finite(message.args[1:4], message)
            if len(message.args) == 14:
                state.root_scale = _finite(message.args[8:11], message)
                state.root_offset_m = _finite(message.args[11:14], message)
            return True
        if address == ADDRESS_BLEND_VALUE:
            _check_tags(message, ("sf",), "s name, f value")
            value = float(message.args[1])
            if not math.isfinite(value):
                raise VmcMessageError(f"{address} {message.args[0]!r}: value {value} is not finite")
            state.pending_blendshapes[message.args[0]] = value
            return False
        if address == ADDRESS_BLEND_APPLY:
            if message.type_tags:
                raise VmcMessageError(f"{address}: takes no arguments, got type tags {message.type_tags!r}")
            state.blendshapes.update(state.pending_blendshapes)
            state.pending_blendshapes.clear()
            return True
        if address == ADDRESS_TIME:
            _check_tags(message, ("f",), "f time")
            state.time_s = float(message.args[0])
            return False
        if address == ADDRESS_OK:
            if not message.type_tags or set(message.type_tags) != {"i"} or len(message.type_tags) > 5:
                raise VmcMessageError(f"{address}: expected 1 to 5 int arguments, got type tags {message.type_tags!r}")
            args = message.args
            state.loaded = bool(args[0])
            if len(args) >= 3:
                state.calibration_state, state.calibration_mode = int(args[1]), int(args[2])
            if len(args) >= 4:
                state.tracking = int(args[3])
            return False
        return False  # unknown addresses are ignored (Hmd/Con/Tra/Cam/Light/...)

    def apply_messages(self, messages: Sequence[osc_codec.OscMessage]) -> tuple[bool, list[str]]:
        """Apply a packet's messages in order; return (whether the pose changed, problems found)."""
        changed = False
        problems: list[str] = []
        for message in messages:
            try:
                changed |= self.apply_message(message)
            except VmcMessageError as error:
                problems.append(str(error))
        return changed, problems

    def handle_messages(
        self, messages: Sequence[osc_codec.OscMessage], received_ns: int
    ) -> tuple[HumanoidPose | None, list[str]]:
        """Apply a packet's messages; return (pose if anything changed, problems found)."""
        changed, problems = self.apply_messages(messages)
        return (self.pose(received_ns) if changed else None), problems

    def handle_packet(self, data: bytes, received_ns: int) -> tuple[HumanoidPose | None, list[str]]:
        """Decode an OSC packet and apply it. Raises `osc_codec.OscDecodeError` on bytes that are not OSC."""
        return self.handle_messages(osc_codec.decode_packet(data), received_ns)

    def pose(self, timestamp_ns: int) -> HumanoidPose:
        """The current pose: root, every bone received so far, applied blendshapes."""
        state = self.state
        names = list(state.bone_rotations)
        rotations = np.array([state.bone_rotations[name] for name in names], dtype=np.float64).reshape(-1, 4)
        if self.keep_bone_positions:
            position_names = list(state.bone_positions_m)
        else:
            position_names = ["Hips"] if "Hips" in state.bone_positions_m else []
        positions = np.array([state.bone_positions_m[name] for name in position_names], dtype=np.float64).reshape(-1, 3)
        return HumanoidPose(
            performer_id=self.performer_id,
            timestamp_ns=timestamp_ns,
            root_position_m=np.array(state.root_position_m, dtype=np.float64),
            root_rotation=np.array(state.root_rotation, dtype=np.float64),
            bone_rotations={name: rotations[row] for row, name in enumerate(names)},
            bone_positions_m={name: positions[row] for row, name in enumerate(position_names)},
            blendshapes=dict(state.blendshapes),
            source="vmc",
        )


def encode_pose_messages(pose: HumanoidPose, time_s: float | None = None, include_ok: bool = True) -> list[bytes]:
    """Encode ``pose`` as VMC messages in sending order (see module doc); every float as OSC 'f'.

    Bones are sent in HumanBodyBones order; a bone without ``bone_positions_m`` is sent with the
    default T-pose offset (the hips with zero: the root then carries the pelvis).
    """
    messages: list[bytes] = []
    encode = osc_codec.encode_message
    if include_ok:
        messages.append(encode(ADDRESS_OK, "i", (1,)))
    messages.append(encode(ADDRESS_TIME, "f", (time.monotonic() if time_s is None else time_s,)))
    root_position = np.asarray(pose.root_position_m, dtype=np.float64)
    root_rotation = np.asarray(pose.root_rotation, dtype=np.float64)
    messages.append(encode(ADDRESS_ROOT, "sfffffff", ("root", *root_position.tolist(), *root_rotation.tolist())))
    for name in HUMAN_BONES:
        rotation = pose.bone_rotations.get(name)
        if rotation is None:
            continue
        position = pose.bone_positions_m.get(name)
        if position is None:
            position = np.zeros(3) if name == "Hips" else T_POSE_OFFSETS_M[name]
        messages.append(
            encode(ADDRESS_BONE, "sfffffff", (name, *np.asarray(position).tolist(), *np.asarray(rotation).tolist()))
        )
    if pose.blendshapes:
        for name, value in pose.blendshapes.items():
            messages.append(encode(ADDRESS_BLEND_VALUE, "sf", (name, float(value))))
        messages.append(encode(ADDRESS_BLEND_APPLY, "", ()))
    return messages


def encode_pose_packets(
    pose: HumanoidPose, time_s: float | None = None, max_packet_bytes: int = MAX_PACKET_BYTES
) -> list[bytes]:
    """`encode_pose_messages` grouped in order into bundles of at most ``max_packet_bytes``."""
    return osc_codec.pack_bundles(encode_pose_messages(pose, time_s), max_packet_bytes)


class VmcPerformerSender:
    """Sends poses to a VMC Marionette (VSeeFace, Warudo, VMC4UE/EVMC4U, ...) over UDP."""

    def __init__(self, host: str = "127.0.0.1", port: int = VMC_MARIONETTE_PORT, max_packet_bytes: int = MAX_PACKET_BYTES) -> None:
        self.target = (host, port)
        self.max_packet_bytes = max_packet_bytes
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._start = time.monotonic()

    def send_pose(self, pose: HumanoidPose) -> int:
        """Send one pose; returns the number of bytes sent."""
        sent = 0
        for packet in encode_pose_packets(pose, time.monotonic() - self._start, self.max_packet_bytes):
            sent += self._socket.sendto(packet, self.target)
        return sent

    def close(self) -> None:
        self._socket.close()

    def __enter__(self) -> VmcPerformerSender:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class VmcMarionetteSource(UdpDatagramSource):
    """UDP VMC receiver (default port 39539). One performer per sender address when
    ``per_sender`` is set (ids ``f"{performer_id}@{host}:{port}"``), else everything is ``performer_id``.

    Datagrams that arrive back to back (the bundles of one frame) are applied together and
    produce one pose, stamped with the arrival time of the first of them.
    """

    name = "vmc"

    def __init__(
        self,
        host: str = "0.0.0.0",
        port: int = VMC_MARIONETTE_PORT,
        performer_id: str = "vmc",
        per_sender: bool = False,
        keep_bone_positions: bool = False,
    ) -> None:
        super().__init__(host, port)
        self._performer_id = performer_id
        self._per_sender = per_sender
        self._keep_bone_positions = keep_bone_positions
        self._marionettes: dict[tuple[str, int] | None, VmcMarionette] = {}
        self._dirty: list[VmcMarionette] = []

    def handle_datagram(self, data: bytes, sender: tuple[str, int], received_ns: int) -> None:
        key = sender if self._per_sender else None
        marionette = self._marionettes.get(key)
        if marionette is None:
            performer = f"{self._performer_id}@{sender[0]}:{sender[1]}" if self._per_sender else self._performer_id
            marionette = VmcMarionette(performer, self._keep_bone_positions)
            self._marionettes[key] = marionette
        changed, problems = marionette.apply_messages(osc_codec.decode_packet(data))
        for problem in problems:
            self._fanout.note_rejected(problem)
        if changed and marionette not in self._dirty:
            self._dirty.append(marionette)

    def flush(self, first_received_ns: int) -> None:
        """One pose per performer per burst of datagrams (a frame split over several bundles)."""
        dirty, self._dirty = self._dirty, []
        for marionette in dirty:
            self._fanout.publish(marionette.pose(first_received_ns))
