"""Live Link Face (Epic's ARKit face capture app) UDP packets: parser and listener (port 11111).

Packet layout (big-endian)::

    u8  version            (6)
    i32 length + UTF-8     device id
    i32 length + UTF-8     subject name
    i32 frame number
    f32 subframe
    i32 frame rate numerator
    i32 frame rate denominator
    u8  value count        (61)
    61 x f32               the 52 ARKit blendshapes in ARKit order (`ARKIT_BLENDSHAPES`), then
                           head yaw, pitch, roll, left eye yaw, pitch, roll, right eye yaw, pitch, roll

`parse_live_link_face` raises `LiveLinkFaceError` naming the cause (truncated, wrong version,
bad string length, wrong value count, trailing bytes, non-finite values) and never anything else.

Head and eye angles are taken as radians, yaw about the up axis, pitch about the left-right
axis, roll about the facing axis, and converted to Unity local rotations (Unity's Euler order:
``Quaternion.Euler(pitch, yaw, roll)``, i.e. R = Ry @ Rx @ Rz). The sign of each angle relative
to Unity's left-handed axes is in `HEAD_ANGLE_SIGNS`, the single place to adjust it against a
real device.
"""

from __future__ import annotations

import logging
import math
import struct
from dataclasses import dataclass

import numpy as np

from mocap import quaternion as quat
from mocap.skeleton import HumanoidPose
from mocap.source import UdpDatagramSource

log = logging.getLogger(__name__)

LIVE_LINK_FACE_PORT = 11111
PACKET_VERSION = 6
VALUE_COUNT = 61

ARKIT_BLENDSHAPES: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft", "eyeSquintLeft",
    "eyeWideLeft",
    "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight", "eyeSquintRight",
    "eyeWideRight",
    "jawForward", "jawLeft", "jawRight", "jawOpen",
    "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight", "mouthSmileLeft", "mouthSmileRight",
    "mouthFrownLeft", "mouthFrownRight", "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft",
    "mouthStretchRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
    "mouthUpperUpRight",
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft", "noseSneerRight", "tongueOut",
)  # fmt: skip
"""The 52 ARKit blendshape names in ARKit (and Live Link Face) order."""
assert len(ARKIT_BLENDSHAPES) == 52

HEAD_ANGLE_SIGNS = (1.0, 1.0, 1.0)
"""Sign applied to (yaw, pitch, roll) before building Unity rotations (adjust here only)."""

_I32 = struct.Struct(">i")
_FRAME_TIME = struct.Struct(">ifii")


class LiveLinkFaceError(ValueError):
    """A packet that is not a valid Live Link Face packet; the message names the cause."""


@dataclass
class LiveLinkFaceFrame:
    version: int
    device_id: str
    subject_name: str
    frame_number: int
    subframe: float
    frame_rate: tuple[int, int]  # numerator, denominator
    blendshapes: dict[str, float]
    head_yaw_pitch_roll_rad: tuple[float, float, float]
    left_eye_yaw_pitch_roll_rad: tuple[float, float, float]
    right_eye_yaw_pitch_roll_rad: tuple[float, float, float]


def _read_string(packet: bytes, offset: int, what: str) -> tuple[str, int]:
    if offset + 4 > len(packet):
        raise LiveLinkFaceError(f"truncated packet: {what} length at byte {offset}, packet has {len(packet)} bytes")
    (length,) = _I32.unpack_from(packet, offset)
    offset += 4
    if length < 0:
        raise LiveLinkFaceError(f"{what} has a negative length {length}")
    if offset + length > len(packet):
        raise LiveLinkFaceError(
            f"truncated packet: {what} of {length} bytes at byte {offset} runs past the {len(packet)}-byte packet"
        )
    try:
        return packet[offset : offset + length].decode("utf-8"), offset + length
    except UnicodeDecodeError as error:
        raise LiveLinkFaceError(f"{what} is not UTF-8 ({error})") from None


def parse_live_link_face(packet: bytes) -> LiveLinkFaceFrame:
    """Parse one packet (see module doc); raises `LiveLinkFaceError` naming what is wrong."""
    packet = bytes(packet)
    if not packet:
        raise LiveLinkFaceError("empty packet")
    version = packet[0]
    if version != PACKET_VERSION:
        raise LiveLinkFaceError(f"unsupported packet version {version} (expected {PACKET_VERSION})")
    device_id, offset = _read_string(packet, 1, "device id")
    subject_name, offset = _read_string(packet, offset, "subject name")
    if offset + _FRAME_TIME.size + 1 > len(packet):
        raise LiveLinkFaceError(f"truncated packet: frame time at byte {offset}, packet has {len(packet)} bytes")
    frame_number, subframe, numerator, denominator = _FRAME_TIME.unpack_from(packet, offset)
    offset += _FRAME_TIME.size
    count = packet[offset]
    offset += 1
    if count != VALUE_COUNT:
        raise LiveLinkFaceError(f"value count is {count}, expected {VALUE_COUNT} (52 blendshapes + 9 angles)")
    expected_end = offset + 4 * count
    if len(packet) < expected_end:
        raise LiveLinkFaceError(
            f"truncated packet: {count} values need {4 * count} bytes from byte {offset}, {len(packet) - offset} remain"
        )
    if len(packet) > expected_end:
        raise LiveLinkFaceError(f"oversized packet: {len(packet) - expected_end} bytes after the {count} values")
    values = struct.unpack_from(f">{count}f", packet, offset)
    if not all(math.isfinite(value) for value in values):
        raise LiveLinkFaceError("packet holds non-finite values")
    if denominator == 0:
        raise LiveLinkFaceError(f"frame rate {numerator}/0 has a zero denominator")
    return LiveLinkFaceFrame(
        version=version,
        device_id=device_id,
        subject_name=subject_name,
        frame_number=frame_number,
        subframe=subframe,
        frame_rate=(numerator, denominator),
        blendshapes=dict(zip(ARKIT_BLENDSHAPES, values[:52])),
        head_yaw_pitch_roll_rad=(values[52], values[53], values[54]),
        left_eye_yaw_pitch_roll_rad=(values[55], values[56], values[57]),
        right_eye_yaw_pitch_roll_rad=(values[58], values[59], values[60]),
    )


def yaw_pitch_roll_to_unity(yaw_pitch_roll_rad: tuple[float, float, float]) -> np.ndarray:
    """Unity local rotation of a head/eye given (yaw, pitch, roll) radians (see module doc)."""
    yaw, pitch, roll = (math.degrees(value) * sign for value, sign in zip(yaw_pitch_roll_rad, HEAD_ANGLE_SIGNS))
    return quat.from_euler_deg(np.array([yaw, pitch, roll]), "YXZ")


def frame_to_pose(frame: LiveLinkFaceFrame, timestamp_ns: int, performer_id: str | None = None) -> HumanoidPose:
    """A face-only pose: ARKit blendshapes (clamped to 0..1), Head/LeftEye/RightEye rotations.

    Root and body bones are not set; merge it onto a body pose of the same performer with
    `mocap.skeleton.merge_poses`.
    """
    return HumanoidPose(
        performer_id=performer_id or frame.subject_name or frame.device_id or "live-link-face",
        timestamp_ns=timestamp_ns,
        root_position_m=np.zeros(3),
        root_rotation=quat.identity(),
        bone_rotations={
            "Head": yaw_pitch_roll_to_unity(frame.head_yaw_pitch_roll_rad),
            "LeftEye": yaw_pitch_roll_to_unity(frame.left_eye_yaw_pitch_roll_rad),
            "RightEye": yaw_pitch_roll_to_unity(frame.right_eye_yaw_pitch_roll_rad),
        },
        blendshapes={name: min(1.0, max(0.0, value)) for name, value in frame.blendshapes.items()},
        source="live_link_face",
    )


def encode_live_link_face(frame: LiveLinkFaceFrame) -> bytes:
    """Packet bytes of ``frame`` (for sending to Unreal's Live Link; the tests build theirs by hand)."""
    device = frame.device_id.encode("utf-8")
    subject = frame.subject_name.encode("utf-8")
    values = [frame.blendshapes.get(name, 0.0) for name in ARKIT_BLENDSHAPES]
    values += [*frame.head_yaw_pitch_roll_rad, *frame.left_eye_yaw_pitch_roll_rad, *frame.right_eye_yaw_pitch_roll_rad]
    return b"".join(
        [
            bytes([frame.version]),
            _I32.pack(len(device)),
            device,
            _I32.pack(len(subject)),
            subject,
            _FRAME_TIME.pack(frame.frame_number, frame.subframe, *frame.frame_rate),
            bytes([VALUE_COUNT]),
            struct.pack(f">{VALUE_COUNT}f", *values),
        ]
    )


class LiveLinkFaceSource(UdpDatagramSource):
    """UDP listener for Live Link Face packets; one performer per subject name (or ``performer_id``)."""

    name = "live_link_face"

    def __init__(self, host: str = "0.0.0.0", port: int = LIVE_LINK_FACE_PORT, performer_id: str | None = None) -> None:
        super().__init__(host, port)
        self._performer_id = performer_id

    def handle_datagram(self, data: bytes, sender: tuple[str, int], received_ns: int) -> None:
        frame = parse_live_link_face(data)
        self._fanout.publish(frame_to_pose(frame, received_ns, self._performer_id))
