"""Xsens MVN real-time network streamer (UDP, default port 9763): parser, reassembly, mapping.

Wire format (MVN real-time network streaming protocol, revision N; all big-endian): a 24-byte
header ``>6sIBBIBBBB2xH`` — ``MXTP`` + two ASCII digits of the message type, u32 sample
counter, u8 datagram counter (bits 0-6 index, bit 7 = last datagram of the sample), u8 item
count, u32 time code (ms), u8 character id, u8 body segment count, u8 prop count, u8 finger
segment count, 2 reserved bytes, u16 payload size — then the payload:

====  =============  =======================================================================
type  item           meaning
====  =============  =======================================================================
01    ``>i6f``       segment id, position, Euler xyz (degrees); Y-up right-handed
02    ``>i7f``       segment id, position, quaternion (re, i, j, k); Z-up right-handed
03    ``>i3f``       point id, position; Y-up right-handed
05    ``>i7f``       Unity3D order (Table 3), Y-up left-handed; pelvis global, others local
12    string         i32 length + UTF-8 ``tag:value\\n`` lines (name, xmid, color, ...)
13    see below      scale info: segment origins, then points (Z-up)
20    ``>2i3f``      joint angles: parent point id, child point id, rotation xyz (degrees)
21    ``>i9f``       linear kinematics: id, position, velocity, acceleration
22    ``>i10f``      angular kinematics: id, quaternion (re,i,j,k), angular velocity, accel.
23    ``>i10f``      motion tracker kinematics: id, quaternion, free acceleration, magnetic field
24    ``>3f``        centre of mass position
25    12 B ASCII     time code ``HH:MM:SS.mmm``
====  =============  =======================================================================

Type 13 payload: i32 S, S x (string name, 3f origin), i32 P, P x (u16 segment id, u16 point
id, string name, u32 flags, 3f position). Strings are i32 length + UTF-8 without terminator.

Parsing is pure (`parse_datagram`, `MvnReassembler`, `mvn_sample_to_pose`); every malformed
datagram raises `MvnParseError` naming the cause, unknown types come back with
``skipped_reason`` set. `XsensMvnSource` is the UDP listener wrapped around them.

Units: the spec says centimetres, the vendor's Unreal plugin multiplies by 100 to reach
Unreal's centimetres, so the wire carries metres; that working assumption lives in
`MVN_POSITION_UNITS_PER_M` only. In the calibration T-pose all MVN segment orientations are
identity (spec 2.6.2), so MVN global orientations are already "relative to the T-pose bind".
"""

from __future__ import annotations

import logging
import re
import struct
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Union

import numpy as np

from mocap import coordinates, quaternion as quat
from mocap.skeleton import HumanoidPose, local_from_global_arrays
from mocap.source import UdpDatagramSource

log = logging.getLogger(__name__)

MVN_DEFAULT_PORT = 9763
MVN_POSITION_UNITS_PER_M = 1.0
"""Length unit of MVN positions on the wire per metre (working assumption: metres; see module doc)."""

MVN_EULER_ORDER = "ZYX"
"""Type 01 Euler angles (x, y, z) compose as R = Rz @ Ry @ Rx (MotionBuilder's default XYZ order)."""

HEADER = struct.Struct(">6sIBBIBBBB2xH")
HEADER_SIZE = HEADER.size  # 24
MAGIC = b"MXTP"
LAST_DATAGRAM_BIT = 0x80

# Item layouts (big-endian) of the fixed-size item types.
_ITEM_STRUCTS: dict[int, struct.Struct] = {
    1: struct.Struct(">i6f"),
    2: struct.Struct(">i7f"),
    3: struct.Struct(">i3f"),
    5: struct.Struct(">i7f"),
    20: struct.Struct(">2i3f"),
    21: struct.Struct(">i9f"),
    22: struct.Struct(">i10f"),
    23: struct.Struct(">i10f"),
}
# Each of those as a numpy record: one big-endian int32 id column (two for type 20), then floats.
_ITEM_DTYPES: dict[int, np.dtype] = {
    message_type: np.dtype(
        [("ids", ">i4", (2,) if message_type == 20 else ()), ("values", ">f4", ((s.size - (8 if message_type == 20 else 4)) // 4,))]
    )
    for message_type, s in _ITEM_STRUCTS.items()
}
KNOWN_TYPES = frozenset(_ITEM_STRUCTS) | {12, 13, 24, 25}

XSENS_SEGMENTS: tuple[str, ...] = (
    "Pelvis", "L5", "L3", "T12", "T8", "Neck", "Head",
    "RightShoulder", "RightUpperArm", "RightForearm", "RightHand",
    "LeftShoulder", "LeftUpperArm", "LeftForearm", "LeftHand",
    "RightUpperLeg", "RightLowerLeg", "RightFoot", "RightToe",
    "LeftUpperLeg", "LeftLowerLeg", "LeftFoot", "LeftToe",
)  # fmt: skip
"""Body segments of types 01/02/21/22, segment id = index + 1."""

XSENS_UNITY_ORDER_SEGMENTS: tuple[str, ...] = (
    "Pelvis", "RightUpperLeg", "RightLowerLeg", "RightFoot", "RightToe",
    "LeftUpperLeg", "LeftLowerLeg", "LeftFoot", "LeftToe",
    "L5", "L3", "T12", "T8",
    "LeftShoulder", "LeftUpperArm", "LeftForearm", "LeftHand",
    "RightShoulder", "RightUpperArm", "RightForearm", "RightHand",
    "Neck", "Head",
)  # fmt: skip
"""Type 05 segment order (spec Table 3); segment id = index + 1."""

XSENS_SEGMENT_PARENTS: dict[str, str | None] = {
    "Pelvis": None, "L5": "Pelvis", "L3": "L5", "T12": "L3", "T8": "T12", "Neck": "T8", "Head": "Neck",
    "RightShoulder": "T8", "RightUpperArm": "RightShoulder", "RightForearm": "RightUpperArm",
    "RightHand": "RightForearm",
    "LeftShoulder": "T8", "LeftUpperArm": "LeftShoulder", "LeftForearm": "LeftUpperArm", "LeftHand": "LeftForearm",
    "RightUpperLeg": "Pelvis", "RightLowerLeg": "RightUpperLeg", "RightFoot": "RightLowerLeg",
    "RightToe": "RightFoot",
    "LeftUpperLeg": "Pelvis", "LeftLowerLeg": "LeftUpperLeg", "LeftFoot": "LeftLowerLeg", "LeftToe": "LeftFoot",
}  # fmt: skip

XSENS_FINGER_SEGMENTS: tuple[str, ...] = (
    "Carpus",
    "FirstMetacarpal", "FirstProximalPhalange", "FirstDistalPhalange",
    "SecondMetacarpal", "SecondProximalPhalange", "SecondMiddlePhalange", "SecondDistalPhalange",
    "ThirdMetacarpal", "ThirdProximalPhalange", "ThirdMiddlePhalange", "ThirdDistalPhalange",
    "FourthMetacarpal", "FourthProximalPhalange", "FourthMiddlePhalange", "FourthDistalPhalange",
    "FifthMetacarpal", "FifthProximalPhalange", "FifthMiddlePhalange", "FifthDistalPhalange",
)  # fmt: skip
"""Finger tracking segments of one hand (spec Table 2), left hand first then right hand."""

SEGMENT_TO_BONE: dict[str, str] = {
    "Pelvis": "Hips",
    "L5": "Spine",
    "T12": "Chest",
    "T8": "UpperChest",
    "Neck": "Neck",
    "Head": "Head",
    **{f"{side}{part}": f"{side}{bone}" for side in ("Left", "Right") for part, bone in (
        ("Shoulder", "Shoulder"), ("UpperArm", "UpperArm"), ("Forearm", "LowerArm"), ("Hand", "Hand"),
        ("UpperLeg", "UpperLeg"), ("LowerLeg", "LowerLeg"), ("Foot", "Foot"), ("Toe", "Toes"))},
}  # fmt: skip
"""MVN body segment -> canonical bone. L3 has no Unity counterpart: its rotation is folded into
Chest's local rotation (mapping is done on global orientations, so no motion is lost)."""

FINGER_SEGMENT_TO_BONE_SUFFIX: dict[str, str] = {
    "FirstMetacarpal": "ThumbProximal",
    "FirstProximalPhalange": "ThumbIntermediate",
    "FirstDistalPhalange": "ThumbDistal",
    **{f"{ordinal}{phalange}": f"{finger}{unity}"
       for ordinal, finger in (("Second", "Index"), ("Third", "Middle"), ("Fourth", "Ring"), ("Fifth", "Little"))
       for phalange, unity in (("ProximalPhalange", "Proximal"), ("MiddlePhalange", "Intermediate"),
                               ("DistalPhalange", "Distal"))},
}  # fmt: skip
"""Finger segment -> canonical bone without the side prefix (carpus and metacarpals 2-5 fold into the hand)."""


class MvnParseError(ValueError):
    """A datagram that is not a valid MVN datagram; the message names the cause."""


@dataclass(frozen=True)
class MvnHeader:
    message_type: int
    sample_counter: int
    datagram_index: int
    is_last_datagram: bool
    item_count: int
    time_code_ms: int
    character_id: int
    body_segment_count: int
    prop_count: int
    finger_segment_count: int
    payload_size: int


@dataclass
class SegmentEulerData:
    """Type 01: positions (Y-up, wire units) and Euler xyz degrees per segment."""

    segment_ids: np.ndarray  # (n,) int32
    positions: np.ndarray  # (n, 3) float64
    euler_xyz_deg: np.ndarray  # (n, 3) float64


@dataclass
class SegmentQuaternionData:
    """Types 02 and 05: positions (wire units) and orientations, converted to (x, y, z, w)."""

    segment_ids: np.ndarray  # (n,) int32
    positions: np.ndarray  # (n, 3) float64
    quaternions_xyzw: np.ndarray  # (n, 4) float64 (the wire carries re, i, j, k)


@dataclass
class PointPositionData:
    """Type 03: virtual marker positions (Y-up, wire units); id = 256 * segment id + local id."""

    point_ids: np.ndarray
    positions: np.ndarray


@dataclass
class MetaData:
    """Type 12: character meta data tags (``name``, ``xmid``, ``color``, ...)."""

    tags: dict[str, str]


@dataclass(frozen=True)
class ScalePoint:
    segment_id: int
    point_id: int
    name: str
    flags: int
    position: tuple[float, float, float]  # relative to the segment origin, Z-up


@dataclass
class ScaleInfo:
    """Type 13: T-pose segment origins (global, Z-up) and named points."""

    segment_origins: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    points: list[ScalePoint] = field(default_factory=list)


@dataclass
class JointAngleData:
    """Type 20: joint angles between the parent and child connection points (degrees, Z-up)."""

    parent_point_ids: np.ndarray
    child_point_ids: np.ndarray
    angles_xyz_deg: np.ndarray


@dataclass
class LinearKinematicsData:
    """Type 21: global position, velocity and acceleration per segment (Z-up)."""

    segment_ids: np.ndarray
    positions: np.ndarray
    velocities: np.ndarray
    accelerations: np.ndarray


@dataclass
class AngularKinematicsData:
    """Types 22 and 23: orientation (x, y, z, w) and two vectors per segment or tracker (Z-up).

    Type 22: angular velocity and angular acceleration; type 23: free acceleration and local
    magnetic field (``vector_a``/``vector_b`` in that order).
    """

    segment_ids: np.ndarray
    quaternions_xyzw: np.ndarray
    vector_a: np.ndarray
    vector_b: np.ndarray


@dataclass
class CenterOfMassData:
    """Type 24: centre of mass position (Z-up, wire units)."""

    position: np.ndarray


@dataclass
class TimeCodeData:
    """Type 25: ``HH:MM:SS.mmm``."""

    text: str
    seconds: float


MvnData = Union[
    SegmentEulerData,
    SegmentQuaternionData,
    PointPositionData,
    MetaData,
    ScaleInfo,
    JointAngleData,
    LinearKinematicsData,
    AngularKinematicsData,
    CenterOfMassData,
    TimeCodeData,
]


@dataclass
class MvnDatagram:
    """One parsed datagram; ``data`` is None and ``skipped_reason`` set for unknown types."""

    header: MvnHeader
    data: MvnData | None
    skipped_reason: str = ""


def parse_header(datagram: bytes | bytearray | memoryview) -> MvnHeader:
    """Parse and check the 24-byte header and the datagram length against the payload size."""
    size = len(datagram)
    if size < HEADER_SIZE:
        raise MvnParseError(f"truncated datagram: {size} bytes, the MVN header alone is {HEADER_SIZE}")
    (ident, sample, counter, items, time_code, character, bodies, props, fingers, payload_size) = HEADER.unpack_from(
        datagram, 0
    )
    if ident[:4] != MAGIC:
        raise MvnParseError(f"wrong magic {bytes(ident[:4])!r}: an MVN datagram starts with {MAGIC!r}")
    digits = ident[4:6]
    if not (48 <= digits[0] <= 57 and 48 <= digits[1] <= 57):
        raise MvnParseError(f"message type {bytes(digits)!r} is not two ASCII digits")
    actual_payload = size - HEADER_SIZE
    if actual_payload < payload_size:
        raise MvnParseError(
            f"truncated datagram: header says {payload_size} payload bytes, datagram carries {actual_payload}"
        )
    if actual_payload > payload_size:
        raise MvnParseError(
            f"oversized datagram: header says {payload_size} payload bytes, datagram carries {actual_payload}"
        )
    return MvnHeader(
        message_type=(digits[0] - 48) * 10 + (digits[1] - 48),
        sample_counter=sample,
        datagram_index=counter & 0x7F,
        is_last_datagram=bool(counter & LAST_DATAGRAM_BIT),
        item_count=items,
        time_code_ms=time_code,
        character_id=character,
        body_segment_count=bodies,
        prop_count=props,
        finger_segment_count=fingers,
        payload_size=payload_size,
    )


def _item_records(header: MvnHeader, payload: memoryview) -> np.ndarray:
    item = _ITEM_STRUCTS[header.message_type]
    if header.payload_size != header.item_count * item.size:
        raise MvnParseError(
            f"type {header.message_type:02d}: {header.item_count} items of {item.size} bytes need "
            f"{header.item_count * item.size} payload bytes, header says {header.payload_size}"
        )
    return np.frombuffer(payload, dtype=_ITEM_DTYPES[header.message_type], count=header.item_count)


def _wxyz_to_xyzw(values: np.ndarray) -> np.ndarray:
    return values[:, [1, 2, 3, 0]].astype(np.float64)


def _read_string(payload: memoryview, offset: int, what: str) -> tuple[str, int]:
    if offset + 4 > len(payload):
        raise MvnParseError(f"{what}: string length at byte {offset} runs past the {len(payload)}-byte payload")
    (length,) = struct.unpack_from(">i", payload, offset)
    offset += 4
    if length < 0 or offset + length > len(payload):
        raise MvnParseError(f"{what}: string of {length} bytes at byte {offset} runs past the {len(payload)}-byte payload")
    try:
        text = bytes(payload[offset : offset + length]).decode("utf-8")
    except UnicodeDecodeError as error:
        raise MvnParseError(f"{what}: string at byte {offset} is not UTF-8 ({error})") from None
    return text, offset + length


def _parse_meta(payload: memoryview) -> MetaData:
    text, end = _read_string(payload, 0, "type 12 meta data")
    if end != len(payload):
        raise MvnParseError(f"type 12 meta data: {len(payload) - end} bytes after the string")
    tags: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        tag, sep, value = line.partition(":")
        if not sep:
            raise MvnParseError(f"type 12 meta data: line {line!r} is not 'tag:value'")
        tags[tag.strip()] = value.strip()
    return MetaData(tags)


_VEC3 = struct.Struct(">3f")
_I32 = struct.Struct(">i")
_POINT_IDS = struct.Struct(">HH")
_U32 = struct.Struct(">I")


def _parse_scale(payload: memoryview) -> ScaleInfo:
    info = ScaleInfo()
    size = len(payload)

    def need(offset: int, count: int, what: str) -> None:
        if offset + count > size:
            raise MvnParseError(f"type 13 scale info: {what} at byte {offset} runs past the {size}-byte payload")

    need(0, 4, "segment count")
    (segment_count,) = _I32.unpack_from(payload, 0)
    if segment_count < 0:
        raise MvnParseError(f"type 13 scale info: negative segment count {segment_count}")
    offset = 4
    for index in range(segment_count):
        name, offset = _read_string(payload, offset, f"type 13 segment {index} name")
        need(offset, 12, f"segment {name!r} origin")
        info.segment_origins[name] = _VEC3.unpack_from(payload, offset)
        offset += 12
    need(offset, 4, "point count")
    (point_count,) = _I32.unpack_from(payload, offset)
    if point_count < 0:
        raise MvnParseError(f"type 13 scale info: negative point count {point_count}")
    offset += 4
    for index in range(point_count):
        need(offset, 4, f"point {index} ids")
        segment_id, point_id = _POINT_IDS.unpack_from(payload, offset)
        name, offset = _read_string(payload, offset + 4, f"type 13 point {index} name")
        need(offset, 16, f"point {name!r} flags and position")
        (flags,) = _U32.unpack_from(payload, offset)
        position = _VEC3.unpack_from(payload, offset + 4)
        offset += 16
        info.points.append(ScalePoint(segment_id, point_id, name, flags, position))
    if offset != size:
        raise MvnParseError(f"type 13 scale info: {size - offset} bytes left after {point_count} points")
    return info


_TIME_CODE = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d\d\d)$")


def _parse_time_code(payload: memoryview) -> TimeCodeData:
    if len(payload) != 12:
        raise MvnParseError(f"type 25 time code must be 12 bytes, got {len(payload)}")
    try:
        text = bytes(payload).decode("ascii")
    except UnicodeDecodeError:
        raise MvnParseError(f"type 25 time code {bytes(payload)!r} is not ASCII") from None
    match = _TIME_CODE.match(text)
    if match is None:
        raise MvnParseError(f"type 25 time code {text!r} is not HH:MM:SS.mmm")
    hours, minutes, seconds, millis = (int(group) for group in match.groups())
    return TimeCodeData(text, hours * 3600 + minutes * 60 + seconds + millis / 1000.0)


def parse_datagram(datagram: bytes | bytearray | memoryview) -> MvnDatagram:
    """Parse one MVN datagram. Raises `MvnParseError` naming the cause for any malformed one.

    Unknown message types are not an error: the result has ``data=None`` and a
    ``skipped_reason`` (their payload size is known from the header, so the stream goes on).
    """
    header = parse_header(datagram)
    payload = memoryview(datagram)[HEADER_SIZE:]
    message_type = header.message_type
    if message_type in (2, 5):
        records = _item_records(header, payload)
        values = records["values"]
        data: MvnData = SegmentQuaternionData(
            records["ids"].astype(np.int32), values[:, 0:3].astype(np.float64), _wxyz_to_xyzw(values[:, 3:7])
        )
    elif message_type == 1:
        records = _item_records(header, payload)
        values = records["values"].astype(np.float64)
        data = SegmentEulerData(records["ids"].astype(np.int32), values[:, 0:3], values[:, 3:6])
    elif message_type == 3:
        records = _item_records(header, payload)
        data = PointPositionData(records["ids"].astype(np.int32), records["values"].astype(np.float64))
    elif message_type == 20:
        records = _item_records(header, payload)
        ids = records["ids"].astype(np.int32).reshape(-1, 2)
        data = JointAngleData(ids[:, 0].copy(), ids[:, 1].copy(), records["values"].astype(np.float64))
    elif message_type == 21:
        records = _item_records(header, payload)
        values = records["values"].astype(np.float64)
        data = LinearKinematicsData(records["ids"].astype(np.int32), values[:, 0:3], values[:, 3:6], values[:, 6:9])
    elif message_type in (22, 23):
        records = _item_records(header, payload)
        values = records["values"]
        data = AngularKinematicsData(
            records["ids"].astype(np.int32),
            _wxyz_to_xyzw(values[:, 0:4]),
            values[:, 4:7].astype(np.float64),
            values[:, 7:10].astype(np.float64),
        )
    elif message_type == 12:
        data = _parse_meta(payload)
    elif message_type == 13:
        data = _parse_scale(payload)
    elif message_type == 24:
        if header.payload_size != 12:
            raise MvnParseError(f"type 24 centre of mass must be 12 bytes (>3f), header says {header.payload_size}")
        data = CenterOfMassData(np.array(_VEC3.unpack_from(payload, 0), dtype=np.float64))
    elif message_type == 25:
        data = _parse_time_code(payload)
    else:
        return MvnDatagram(
            header, None, f"unknown message type {message_type:02d}: skipped {header.payload_size} payload bytes"
        )
    return MvnDatagram(header, data)


@dataclass
class MvnSample:
    """All datagrams of one (character, message type, sample counter), merged."""

    header: MvnHeader  # header of the first datagram (index 0)
    data: MvnData | None
    datagram_count: int


def _merge_data(parts: list[MvnData | None]) -> MvnData | None:
    first = parts[0]
    if first is None or len(parts) == 1:
        return first
    if isinstance(first, MetaData):
        tags: dict[str, str] = {}
        for part in parts:
            assert isinstance(part, MetaData)
            tags.update(part.tags)
        return MetaData(tags)
    if isinstance(first, ScaleInfo):
        merged = ScaleInfo()
        for part in parts:
            assert isinstance(part, ScaleInfo)
            merged.segment_origins.update(part.segment_origins)
            merged.points.extend(part.points)
        return merged
    if isinstance(first, (CenterOfMassData, TimeCodeData)):
        return parts[-1]
    # Item arrays: concatenate every array field in datagram order.
    field_names = list(vars(first))
    return type(first)(**{name: np.concatenate([getattr(part, name) for part in parts]) for name in field_names})


class MvnReassembler:
    """Reassembles samples split over several datagrams, keyed by (character, type, sample counter).

    A sample is complete when the datagram with bit 7 (last) has arrived and every index from 0
    to its index is present. Incomplete samples are dropped (oldest first) once more than
    ``max_pending`` are waiting; ``dropped_incomplete`` counts them.
    """

    def __init__(self, max_pending: int = 32) -> None:
        self._pending: OrderedDict[tuple[int, int, int], dict[int, MvnDatagram]] = OrderedDict()
        self._expected: dict[tuple[int, int, int], int] = {}
        self._max_pending = max_pending
        self.dropped_incomplete = 0

    def add(self, datagram: MvnDatagram) -> MvnSample | None:
        """Add a parsed datagram; return the merged sample once it is complete, else None."""
        header = datagram.header
        if header.datagram_index == 0 and header.is_last_datagram:
            return MvnSample(header, datagram.data, 1)
        key = (header.character_id, header.message_type, header.sample_counter)
        parts = self._pending.get(key)
        if parts is None:
            parts = {}
            self._pending[key] = parts
            while len(self._pending) > self._max_pending:
                old_key, _ = self._pending.popitem(last=False)
                self._expected.pop(old_key, None)
                self.dropped_incomplete += 1
        if header.datagram_index in parts:
            raise MvnParseError(
                f"duplicate datagram {header.datagram_index} of sample {header.sample_counter} "
                f"(character {header.character_id}, type {header.message_type:02d})"
            )
        parts[header.datagram_index] = datagram
        if header.is_last_datagram:
            self._expected[key] = header.datagram_index + 1
        expected = self._expected.get(key)
        if expected is None or len(parts) < expected:
            return None
        del self._pending[key]
        del self._expected[key]
        ordered = [parts[index] for index in range(expected) if index in parts]
        if len(ordered) != expected:
            raise MvnParseError(
                f"sample {header.sample_counter}: datagram indices {sorted(parts)} do not run 0..{expected - 1}"
            )
        return MvnSample(ordered[0].header, _merge_data([part.data for part in ordered]), expected)

    @property
    def pending(self) -> int:
        return len(self._pending)


def segment_bone_names(segment_ids: np.ndarray, prop_count: int) -> list[str | None]:
    """Canonical bone for each segment id of types 01/02/21/22 (None for props and folded segments).

    Ids 1-23 are body segments, ``24 .. 23+props`` props, then 20 left-hand and 20 right-hand
    finger segments (spec Table 2: carpus index ``23 + prop count``, id = index + 1).
    """
    names: list[str | None] = []
    left_first = 24 + prop_count
    right_first = left_first + 20
    for segment_id in segment_ids.tolist():
        if 1 <= segment_id <= 23:
            names.append(SEGMENT_TO_BONE.get(XSENS_SEGMENTS[segment_id - 1]))
        elif left_first <= segment_id < right_first + 20:
            side = "Left" if segment_id < right_first else "Right"
            finger_index = (segment_id - left_first) % 20
            suffix = FINGER_SEGMENT_TO_BONE_SUFFIX.get(XSENS_FINGER_SEGMENTS[finger_index])
            names.append(None if suffix is None else side + suffix)
        else:
            names.append(None)
    return names


def _pose_from_globals(
    bones: list[str | None],
    positions_unity_m: np.ndarray,
    rotations_unity: np.ndarray,
    performer_id: str,
    timestamp_ns: int,
    source: str,
) -> HumanoidPose:
    keep = [index for index, bone in enumerate(bones) if bone is not None]
    if not keep or "Hips" not in bones:
        raise MvnParseError("pose data has no pelvis segment (id 1): cannot place the character")
    names = tuple(bones[index] for index in keep)  # type: ignore[misc]
    globals_ = rotations_unity[keep]
    globals_ = globals_ / np.linalg.norm(globals_, axis=-1, keepdims=True)
    local = local_from_global_arrays(names, globals_)
    hips = bones.index("Hips")
    return HumanoidPose(
        performer_id=performer_id,
        timestamp_ns=timestamp_ns,
        root_position_m=positions_unity_m[hips].copy(),
        root_rotation=quat.identity(),
        bone_rotations={name: local[row] for row, name in enumerate(names)},
        source=source,
        confidence={name: 1.0 for name in names},
    )


def mvn_sample_to_pose(sample: MvnSample, performer_id: str, timestamp_ns: int) -> HumanoidPose:
    """Convert a type 01, 02 or 05 sample to a canonical pose (hips at the root, root rotation identity).

    The pelvis world position becomes ``root_position_m``; ``bone_rotations["Hips"]`` is the
    pelvis world rotation; every other bone's local rotation is taken relative to its nearest
    mapped ancestor.
    """
    header, data = sample.header, sample.data
    units = MVN_POSITION_UNITS_PER_M
    if isinstance(data, SegmentQuaternionData) and header.message_type == 2:
        bones = segment_bone_names(data.segment_ids, header.prop_count)
        positions = coordinates.position_to_unity(data.positions / units, coordinates.XSENS)
        rotations = coordinates.rotation_to_unity(data.quaternions_xyzw, coordinates.XSENS)
        return _pose_from_globals(bones, positions, rotations, performer_id, timestamp_ns, "xsens")
    if isinstance(data, SegmentEulerData):
        bones = segment_bone_names(data.segment_ids, header.prop_count)
        positions = coordinates.position_to_unity(data.positions / units, coordinates.XSENS_YUP)
        rotations_yup = np.array([quat.from_euler_deg(angles[::-1], MVN_EULER_ORDER) for angles in data.euler_xyz_deg])
        rotations = coordinates.rotation_to_unity(rotations_yup, coordinates.XSENS_YUP)
        return _pose_from_globals(bones, positions, rotations, performer_id, timestamp_ns, "xsens")
    if isinstance(data, SegmentQuaternionData) and header.message_type == 5:
        return _unity_order_to_pose(data, performer_id, timestamp_ns)
    raise MvnParseError(f"message type {header.message_type:02d} carries no segment pose")


def _unity_order_to_pose(data: SegmentQuaternionData, performer_id: str, timestamp_ns: int) -> HumanoidPose:
    """Type 05: values already in Unity axes; pelvis global, others local to their MVN parent."""
    by_segment: dict[str, int] = {}
    for row, segment_id in enumerate(data.segment_ids.tolist()):
        if 1 <= segment_id <= len(XSENS_UNITY_ORDER_SEGMENTS):
            by_segment[XSENS_UNITY_ORDER_SEGMENTS[segment_id - 1]] = row
    if "Pelvis" not in by_segment:
        raise MvnParseError("type 05 data has no pelvis segment (id 1)")
    global_rotation: dict[str, np.ndarray] = {}
    for segment in XSENS_SEGMENTS:  # parents come before children in this order
        row = by_segment.get(segment)
        if row is None:
            continue
        parent = XSENS_SEGMENT_PARENTS[segment]
        while parent is not None and parent not in global_rotation:
            parent = XSENS_SEGMENT_PARENTS[parent]
        rotation = quat.normalise(data.quaternions_xyzw[row])
        global_rotation[segment] = rotation if parent is None else quat.multiply(global_rotation[parent], rotation)
    bones = [SEGMENT_TO_BONE.get(segment) for segment in global_rotation]
    rotations = np.array(list(global_rotation.values()))
    positions = np.zeros((len(bones), 3))
    positions[bones.index("Hips")] = data.positions[by_segment["Pelvis"]] / MVN_POSITION_UNITS_PER_M
    return _pose_from_globals(bones, positions, rotations, performer_id, timestamp_ns, "xsens")


@dataclass
class MvnCharacterState:
    """What one character has sent besides poses (latest of each)."""

    meta: dict[str, str] = field(default_factory=dict)
    scale: ScaleInfo | None = None
    extras: dict[int, MvnData] = field(default_factory=dict)  # message type -> latest data


class XsensMvnSource(UdpDatagramSource):
    """UDP listener for the MVN network streamer: one performer per character id.

    Poses are published for pose types 01, 02 and 05 with performer id
    ``f"{performer_prefix}{character_id}"`` (the MVN name, from type 12, is in
    `character_states`). Other types update the character's state. Malformed datagrams are
    counted in ``stats().rejected`` with the reason; unknown types in ``stats().skipped``.
    """

    name = "xsens"

    def __init__(self, host: str = "0.0.0.0", port: int = MVN_DEFAULT_PORT, performer_prefix: str = "xsens-") -> None:
        super().__init__(host, port)
        self._reassembler = MvnReassembler()
        self._performer_prefix = performer_prefix
        self.character_states: dict[int, MvnCharacterState] = {}

    def handle_datagram(self, data: bytes, sender: tuple[str, int], received_ns: int) -> None:
        datagram = parse_datagram(data)
        if datagram.data is None:
            self._fanout.note_skipped(datagram.skipped_reason)
            return
        sample = self._reassembler.add(datagram)
        if sample is None:
            return
        header = sample.header
        state = self.character_states.setdefault(header.character_id, MvnCharacterState())
        if header.message_type in (1, 2, 5):
            pose = mvn_sample_to_pose(sample, f"{self._performer_prefix}{header.character_id}", received_ns)
            self._fanout.publish(pose)
        elif isinstance(sample.data, MetaData):
            state.meta.update(sample.data.tags)
        elif isinstance(sample.data, ScaleInfo):
            if state.scale is None or sample.data.segment_origins:
                state.scale = ScaleInfo(dict(sample.data.segment_origins), list(sample.data.points))
            else:
                state.scale.points.extend(sample.data.points)
        elif sample.data is not None:
            state.extras[header.message_type] = sample.data
