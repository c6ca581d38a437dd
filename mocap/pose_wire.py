"""`HumanoidPose` <-> MOCAP message (header fields + one binary part), for the relay and the engine plugins.

A MOCAP message (bridge protocol kind ``"MOCAP"``) carrying one pose is a header map plus
exactly one binary part. ``pose_to_wire`` returns the header fields *without* ``v`` and
``kind`` (the protocol layer adds those) and the binary part.

Header fields, in this canonical order:

================  ==============  ===  =====================================================
key               msgpack type    req  meaning
================  ==============  ===  =====================================================
``performer``     str             yes  performer id (1..256 UTF-8 bytes)
``t_ns``          int             yes  capture time, nanoseconds since the Unix epoch (wall
                                       clock of the machine that captured it)
``source``        str             D    source kind: "xsens", "vmc", "bvh", "move_live", ...
                                       (default "")
``root``          array of 7      yes  root position x, y, z (metres) and rotation qx, qy,
                  floats               qz, qw, canonical space
``bones``         array of str    yes  bones with a rotation, Unity HumanBodyBones names,
                                       each at most once (may be empty)
``positions``     array of str    D    bones with a local position, each at most once
                                       (default empty)
``blendshapes``   array of str    D    blendshape names (ARKit names), each at most once
                                       (default empty)
``confidence``    bool            D    whether the confidence section is present (default false)
================  ==============  ===  =====================================================

Canonical space: Unity's — left-handed, X right, Y up, Z forward, metres; rotations are local
(relative to the parent bone) and relative to the T-pose bind (identity = T-pose). A C++
(Unreal) receiver converts with ``(X, Y, Z) = (z, x, y) * 100`` and quaternion
``(qz, qx, qy, qw)`` (see `mocap.coordinates`).

Binary part: little-endian IEEE-754 float32 values, no padding, in four consecutive sections:

1. for each name in ``bones``, in order: the local rotation ``qx, qy, qz, qw`` (16 bytes);
2. for each name in ``positions``, in order: the local position ``x, y, z`` in metres (12 bytes);
3. for each name in ``blendshapes``, in order: the weight, 0..1 (4 bytes);
4. only when ``confidence`` is true: for each name in ``bones``, in order: confidence 0..1 (4 bytes).

So the part is exactly ``4 * (4*B + 3*P + S + (B if confidence else 0))`` bytes for B bones,
P positions and S blendshapes; a receiver rejects any other size. Quaternions are sent as the
sender holds them (unit length); a receiver normalises them and rejects a zero or non-finite
one. Reading in C#: ``MemoryMarshal.Cast<byte, float>(part)`` on a little-endian machine
(``BinaryPrimitives.ReadSingleLittleEndian`` otherwise); in C++: ``memcpy`` into ``float``.

Checking without decoding (a relay): ``check_pose_wire`` runs every check of ``pose_from_wire``;
``check_pose_wire_with_layout`` does the same but, given the `PoseLayout` it returned for the
performer's previous pose, skips the per-name checks when the name lists are equal again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import Any

import numpy as np

from mocap.skeleton import HUMAN_BONE_INDEX, HumanoidPose

MAX_PERFORMER_BYTES = 256
MAX_BLENDSHAPES = 256
_F32_LE = np.dtype("<f4")


class PoseWireError(ValueError):
    """A MOCAP pose message that does not follow the layout; the message names the field or size.

    ``size_mismatch`` is true when the binary part has the wrong length for its header (a receiver reports
    that as a part problem, everything else as a bad field)."""

    def __init__(self, message: str, *, size_mismatch: bool = False) -> None:
        super().__init__(message)
        self.size_mismatch = size_mismatch


@dataclass(frozen=True)
class PoseLayout:
    """The checked name lists of a pose header: which values the binary part holds, in order."""

    bones: list[str]  # copies, owned by the layout: never aliased to a header that could change
    positions: list[str]
    blend_names: list[str]
    with_confidence: bool
    value_count: int = field(init=False)  # float32 values in the binary part

    def __post_init__(self) -> None:
        bone_count = len(self.bones)
        object.__setattr__(self, "value_count", 4 * bone_count + 3 * len(self.positions) + len(self.blend_names)
                           + (bone_count if self.with_confidence else 0))

    def matches(self, fields: Mapping[str, Any]) -> bool:
        """Whether ``fields`` lists exactly these names (a header decoded from msgpack holds plain lists)."""
        return (
            fields.get("bones") == self.bones
            and fields.get("positions", _NO_NAMES) == self.positions
            and fields.get("blendshapes", _NO_NAMES) == self.blend_names
            and fields.get("confidence", False) is self.with_confidence
        )


_NO_NAMES: list[str] = []


def pose_to_wire(pose: HumanoidPose, include_confidence: bool | None = None) -> tuple[dict[str, Any], bytes]:
    """Header fields (without ``v``/``kind``) and the binary part for ``pose`` (see module doc).

    Bones are written in HumanBodyBones order; ``include_confidence`` defaults to "the pose has
    any confidence values" (bones without one are sent as 1.0).
    """
    bones = [name for name in pose.bone_rotations if name in HUMAN_BONE_INDEX]
    if len(bones) != len(pose.bone_rotations):
        unknown = sorted(set(pose.bone_rotations) - set(bones))
        raise PoseWireError(f"pose has unknown bone names {unknown}")
    bones.sort(key=HUMAN_BONE_INDEX.__getitem__)
    positions = sorted(pose.bone_positions_m, key=lambda name: HUMAN_BONE_INDEX.get(name, 10_000))
    for name in positions:
        if name not in HUMAN_BONE_INDEX:
            raise PoseWireError(f"pose has a position for unknown bone {name!r}")
    blend_names = list(pose.blendshapes)
    with_confidence = bool(pose.confidence) if include_confidence is None else include_confidence
    sections = [
        np.asarray([pose.bone_rotations[name] for name in bones], dtype=np.float64).reshape(-1, 4).ravel(),
        np.asarray([pose.bone_positions_m[name] for name in positions], dtype=np.float64).reshape(-1, 3).ravel(),
        np.asarray([pose.blendshapes[name] for name in blend_names], dtype=np.float64),
    ]
    if with_confidence:
        sections.append(np.asarray([pose.confidence.get(name, 1.0) for name in bones], dtype=np.float64))
    payload = np.concatenate(sections).astype(_F32_LE).tobytes()
    root = [float(v) for v in np.asarray(pose.root_position_m, dtype=np.float64)] + [
        float(v) for v in np.asarray(pose.root_rotation, dtype=np.float64)
    ]
    fields: dict[str, Any] = {
        "performer": pose.performer_id,
        "t_ns": int(pose.timestamp_ns),
        "source": pose.source,
        "root": root,
        "bones": bones,
        "positions": positions,
        "blendshapes": blend_names,
        "confidence": with_confidence,
    }
    return fields, payload


def _str_list(fields: Mapping[str, Any], key: str, required: bool) -> list[str]:
    if key not in fields:
        if required:
            raise PoseWireError(f"MOCAP.{key} is missing")
        return []
    value = fields[key]
    if not isinstance(value, (list, tuple)):
        raise PoseWireError(f"MOCAP.{key} must be an array of str, got {type(value).__name__}")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise PoseWireError(f"MOCAP.{key}[{index}] must be a str, got {type(item).__name__}")
    if len(set(value)) != len(value):
        duplicates = sorted({item for item in value if list(value).count(item) > 1})
        raise PoseWireError(f"MOCAP.{key} repeats {duplicates}")
    return list(value)


def check_pose_wire(fields: Mapping[str, Any], payload: bytes | bytearray | memoryview) -> tuple[str, int]:
    """Every check of `pose_from_wire` without building the pose (what a relay needs): (performer, t_ns)."""
    performer, t_ns, _layout = check_pose_wire_with_layout(fields, payload, None)
    return performer, t_ns


def check_pose_wire_with_layout(
    fields: Mapping[str, Any], payload: bytes | bytearray | memoryview, known: PoseLayout | None
) -> tuple[str, int, PoseLayout]:
    """`check_pose_wire`, remembering the name lists: (performer, t_ns, layout of this pose).

    A source sends the same ``bones``/``positions``/``blendshapes``/``confidence`` with every pose,
    so when they equal ``known`` (a layout this function returned before) the per-name checks
    (types, unknown bones, repeats, count) are not repeated: they held for equal lists.  Every
    per-pose check still runs: performer, ``t_ns``, ``source``, ``root``, the part's size, finite
    values and no zero-length quaternion, with the same messages as the full check.
    """
    performer, t_ns, _source, _root = _checked_scalars(fields)
    layout = known if known is not None and known.matches(fields) else _checked_layout(fields)
    values = _checked_values(layout, payload)
    bone_count = len(layout.bones)
    if bone_count:
        rotations = values[: 4 * bone_count].reshape(-1, 4)
        norms = np.einsum("ij,ij->i", rotations, rotations)
        shortest = int(norms.argmin())
        if norms[shortest] < 1e-12:
            raise PoseWireError(f"MOCAP rotation of {layout.bones[shortest]!r} has zero length")
    return performer, t_ns, layout


@dataclass
class _Checked:
    performer: str
    t_ns: int
    source: str
    root: Any
    layout: PoseLayout
    values: np.ndarray


def _checked_scalars(fields: Mapping[str, Any]) -> tuple[str, int, str, Any]:
    """performer, t_ns, source and root, each checked (the part of a header that changes with every pose)."""
    performer = fields.get("performer")
    if not isinstance(performer, str) or not performer:
        raise PoseWireError(f"MOCAP.performer must be a non-empty str, got {performer!r}")
    if len(performer) * 4 > MAX_PERFORMER_BYTES and len(performer.encode("utf-8")) > MAX_PERFORMER_BYTES:
        raise PoseWireError(f"MOCAP.performer is longer than {MAX_PERFORMER_BYTES} bytes")
    t_ns = fields.get("t_ns")
    if isinstance(t_ns, bool) or not isinstance(t_ns, int):
        raise PoseWireError(f"MOCAP.t_ns must be an int, got {t_ns!r}")
    source = fields.get("source", "")
    if not isinstance(source, str):
        raise PoseWireError(f"MOCAP.source must be a str, got {type(source).__name__}")
    root = fields.get("root")
    if not isinstance(root, (list, tuple)) or len(root) != 7:
        raise PoseWireError(f"MOCAP.root must be an array of 7 numbers (x, y, z, qx, qy, qz, qw), got {root!r}")
    for v in root:
        if type(v) is not float and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise PoseWireError(f"MOCAP.root must be an array of 7 numbers (x, y, z, qx, qy, qz, qw), got {root!r}")
    if not all(map(math.isfinite, root)):
        raise PoseWireError(f"MOCAP.root holds non-finite values {list(root)}")
    _x, _y, _z, qx, qy, qz, qw = root
    if qx * qx + qy * qy + qz * qz + qw * qw < 1e-12:
        raise PoseWireError("MOCAP.root rotation has zero length")
    return performer, t_ns, source, root


def _checked_layout(fields: Mapping[str, Any]) -> PoseLayout:
    """The name lists: types, known bone names, no repeats, at most MAX_BLENDSHAPES blendshapes."""
    bones = _str_list(fields, "bones", required=True)
    positions = _str_list(fields, "positions", required=False)
    blend_names = _str_list(fields, "blendshapes", required=False)
    if len(blend_names) > MAX_BLENDSHAPES:
        raise PoseWireError(f"MOCAP.blendshapes lists {len(blend_names)} names, at most {MAX_BLENDSHAPES}")
    for key, names in (("bones", bones), ("positions", positions)):
        for name in names:
            if name not in HUMAN_BONE_INDEX:
                raise PoseWireError(f"MOCAP.{key} names unknown bone {name!r} (not a Unity HumanBodyBones name)")
    with_confidence = fields.get("confidence", False)
    if not isinstance(with_confidence, bool):
        raise PoseWireError(f"MOCAP.confidence must be a bool, got {with_confidence!r}")
    return PoseLayout(bones, positions, blend_names, with_confidence)


def _checked_values(layout: PoseLayout, payload: bytes | bytearray | memoryview) -> np.ndarray:
    """The part as float64 values: exactly the size the layout needs, every value finite."""
    value_count = layout.value_count
    size = memoryview(payload).nbytes
    if size != 4 * value_count:
        raise PoseWireError(
            f"MOCAP pose part is {size} bytes; {len(layout.bones)} bones, {len(layout.positions)} positions, "
            f"{len(layout.blend_names)} blendshapes{' and confidences' if layout.with_confidence else ''} "
            f"need {4 * value_count}",
            size_mismatch=True,
        )
    values = np.frombuffer(payload, dtype=_F32_LE, count=value_count).astype(np.float64)
    if not math.isfinite(float(values.dot(values))):  # a NaN or an infinity makes the sum of squares non-finite
        raise PoseWireError("MOCAP pose part holds non-finite values")
    return values


def _checked(fields: Mapping[str, Any], payload: bytes | bytearray | memoryview) -> _Checked:
    performer, t_ns, source, root = _checked_scalars(fields)
    layout = _checked_layout(fields)
    return _Checked(performer, t_ns, source, root, layout, _checked_values(layout, payload))


def pose_from_wire(fields: Mapping[str, Any], payload: bytes | bytearray | memoryview) -> HumanoidPose:
    """Inverse of `pose_to_wire`; raises `PoseWireError` naming the bad field or the size mismatch."""
    c = _checked(fields, payload)
    performer, t_ns, source, root, values = c.performer, c.t_ns, c.source, c.root, c.values
    layout = c.layout
    bones, positions, blend_names, with_confidence = (
        layout.bones, layout.positions, layout.blend_names, layout.with_confidence)
    bone_count, position_count, blend_count = len(bones), len(positions), len(blend_names)
    rotations = values[: 4 * bone_count].reshape(-1, 4)
    norms = np.linalg.norm(rotations, axis=1)
    if np.any(norms < 1e-6):
        bad = bones[int(np.argmin(norms))]
        raise PoseWireError(f"MOCAP rotation of {bad!r} has zero length")
    rotations = rotations / norms[:, None]
    offset = 4 * bone_count
    position_values = values[offset : offset + 3 * position_count].reshape(-1, 3)
    offset += 3 * position_count
    blend_values = values[offset : offset + blend_count]
    offset += blend_count
    confidence_values = values[offset:] if with_confidence else np.zeros(0)
    root_values = np.asarray(root, dtype=np.float64)
    root_rotation = root_values[3:]
    root_norm = float(np.linalg.norm(root_rotation))
    if root_norm < 1e-6:
        raise PoseWireError("MOCAP.root rotation has zero length")
    return HumanoidPose(
        performer_id=performer,
        timestamp_ns=t_ns,
        root_position_m=root_values[:3].copy(),
        root_rotation=root_rotation / root_norm,
        bone_rotations={name: rotations[row] for row, name in enumerate(bones)},
        bone_positions_m={name: position_values[row] for row, name in enumerate(positions)},
        blendshapes={name: float(blend_values[row]) for row, name in enumerate(blend_names)},
        source=source,
        confidence={name: float(confidence_values[row]) for row, name in enumerate(bones)} if with_confidence else {},
    )
