"""The one skeleton model of `mocap/`: a humanoid pose on Unity's HumanBodyBones.

Canonical space (every source converts into it, every output converts out of it):
Unity's — left-handed, X right, Y up, Z forward, metres. A character in its bind pose
stands in a T-pose facing +Z, so its left arm points along -X and its right arm along +X.

`HumanoidPose` fields:

* ``root_position_m`` / ``root_rotation``: world transform of the character root (the object
  that carries the skeleton, as VMC's ``/VMC/Ext/Root/Pos``).
* ``bone_rotations[name]``: local rotation of a bone relative to its parent, *relative to the
  T-pose bind*: identity for every bone is the T-pose (as VMC and Unity's humanoid muscle-free
  retargeting use it). ``bone_rotations["Hips"]`` is the hips relative to the root.
* ``bone_positions_m[name]`` (optional): local translation of a bone in its parent's frame; a
  bone without one uses `T_POSE_OFFSETS_M` (or the consumer's own avatar). The hips' world
  position is ``root_position_m + rotate(root_rotation, bone_positions_m.get("Hips", 0))``:
  a source either puts the pelvis in the root (no "Hips" position) or keeps the root on the
  floor and gives the hips' local position (as VMC does).
* Missing bones mean "identity" (not tracked); ``confidence`` says how sure a source was.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from mocap import quaternion as quat

_BODY_BONES: tuple[str, ...] = (
    "Hips",
    "LeftUpperLeg",
    "RightUpperLeg",
    "LeftLowerLeg",
    "RightLowerLeg",
    "LeftFoot",
    "RightFoot",
    "Spine",
    "Chest",
    "Neck",
    "Head",
    "LeftShoulder",
    "RightShoulder",
    "LeftUpperArm",
    "RightUpperArm",
    "LeftLowerArm",
    "RightLowerArm",
    "LeftHand",
    "RightHand",
    "LeftToes",
    "RightToes",
    "LeftEye",
    "RightEye",
    "Jaw",
)
FINGER_NAMES: tuple[str, ...] = ("Thumb", "Index", "Middle", "Ring", "Little")
FINGER_PHALANGES: tuple[str, ...] = ("Proximal", "Intermediate", "Distal")
_FINGER_BONES: tuple[str, ...] = tuple(
    f"{side}{finger}{phalanx}"
    for side in ("Left", "Right")
    for finger in FINGER_NAMES
    for phalanx in FINGER_PHALANGES
)

HUMAN_BONES: tuple[str, ...] = _BODY_BONES + _FINGER_BONES + ("UpperChest",)
"""Unity ``HumanBodyBones`` names in the enum's order (index == Unity enum value, 0..54)."""

HUMAN_BONE_INDEX: dict[str, int] = {name: index for index, name in enumerate(HUMAN_BONES)}


def _build_parents() -> dict[str, str | None]:
    parents: dict[str, str | None] = {
        "Hips": None,
        "Spine": "Hips",
        "Chest": "Spine",
        "UpperChest": "Chest",
        "Neck": "UpperChest",
        "Head": "Neck",
        "LeftEye": "Head",
        "RightEye": "Head",
        "Jaw": "Head",
    }
    for side in ("Left", "Right"):
        parents[f"{side}UpperLeg"] = "Hips"
        parents[f"{side}LowerLeg"] = f"{side}UpperLeg"
        parents[f"{side}Foot"] = f"{side}LowerLeg"
        parents[f"{side}Toes"] = f"{side}Foot"
        parents[f"{side}Shoulder"] = "UpperChest"
        parents[f"{side}UpperArm"] = f"{side}Shoulder"
        parents[f"{side}LowerArm"] = f"{side}UpperArm"
        parents[f"{side}Hand"] = f"{side}LowerArm"
        for finger in FINGER_NAMES:
            parents[f"{side}{finger}Proximal"] = f"{side}Hand"
            parents[f"{side}{finger}Intermediate"] = f"{side}{finger}Proximal"
            parents[f"{side}{finger}Distal"] = f"{side}{finger}Intermediate"
    return {name: parents[name] for name in HUMAN_BONES}


BONE_PARENTS: dict[str, str | None] = _build_parents()
"""Parent of every bone in Unity's humanoid hierarchy (UpperChest present between Chest and Neck)."""


def _topological_order() -> tuple[str, ...]:
    order: list[str] = []
    placed: set[str] = set()
    pending = list(HUMAN_BONES)
    while pending:
        for name in list(pending):
            parent = BONE_PARENTS[name]
            if parent is None or parent in placed:
                order.append(name)
                placed.add(name)
                pending.remove(name)
    return tuple(order)


BONES_PARENT_FIRST: tuple[str, ...] = _topological_order()
"""HUMAN_BONES ordered so that every parent comes before its children."""


def _build_t_pose_offsets() -> dict[str, np.ndarray]:
    """Local offsets (parent frame, metres, canonical space) of an average 1.75 m adult."""
    offsets: dict[str, tuple[float, float, float]] = {
        "Hips": (0.0, 0.95, 0.0),  # relative to a root on the floor
        "Spine": (0.0, 0.10, 0.0),
        "Chest": (0.0, 0.12, 0.0),
        "UpperChest": (0.0, 0.12, 0.0),
        "Neck": (0.0, 0.15, 0.0),
        "Head": (0.0, 0.10, 0.0),
        "Jaw": (0.0, -0.02, 0.04),
        "LeftEye": (-0.032, 0.07, 0.08),
        "RightEye": (0.032, 0.07, 0.08),
    }
    finger_roots = {
        "Thumb": (0.025, -0.01, 0.03),
        "Index": (0.09, 0.0, 0.03),
        "Middle": (0.09, 0.0, 0.01),
        "Ring": (0.085, 0.0, -0.01),
        "Little": (0.075, 0.0, -0.03),
    }
    for side, sign in (("Left", -1.0), ("Right", 1.0)):
        offsets[f"{side}UpperLeg"] = (sign * 0.09, -0.05, 0.0)
        offsets[f"{side}LowerLeg"] = (0.0, -0.42, 0.0)
        offsets[f"{side}Foot"] = (0.0, -0.42, 0.0)
        offsets[f"{side}Toes"] = (0.0, -0.06, 0.13)
        offsets[f"{side}Shoulder"] = (sign * 0.03, 0.10, 0.0)
        offsets[f"{side}UpperArm"] = (sign * 0.12, 0.0, 0.0)
        offsets[f"{side}LowerArm"] = (sign * 0.28, 0.0, 0.0)
        offsets[f"{side}Hand"] = (sign * 0.25, 0.0, 0.0)
        for finger, (x, y, z) in finger_roots.items():
            offsets[f"{side}{finger}Proximal"] = (sign * x, y, z)
            offsets[f"{side}{finger}Intermediate"] = (sign * 0.04, 0.0, 0.0)
            offsets[f"{side}{finger}Distal"] = (sign * 0.025, 0.0, 0.0)
    return {name: np.array(offsets[name], dtype=np.float64) for name in HUMAN_BONES}


T_POSE_OFFSETS_M: dict[str, np.ndarray] = _build_t_pose_offsets()
"""Default local bone translations in the T-pose bind (canonical space, metres)."""


@dataclass
class HumanoidPose:
    """One performer's pose at one instant, in the canonical (Unity) space; see module doc."""

    performer_id: str
    timestamp_ns: int
    root_position_m: np.ndarray  # (3,) float64, canonical space
    root_rotation: np.ndarray  # (4,) quaternion x, y, z, w, canonical space
    bone_rotations: dict[str, np.ndarray]  # bone -> (4,) local rotation xyzw, identity = T-pose
    bone_positions_m: dict[str, np.ndarray] = field(default_factory=dict)  # optional local translations
    blendshapes: dict[str, float] = field(default_factory=dict)  # ARKit names, 0..1
    source: str = ""
    confidence: dict[str, float] = field(default_factory=dict)  # per bone 0..1, optional

    def validate(self) -> None:
        """Raise ValueError naming the first bad field (unknown bone, wrong shape, non-unit, NaN)."""
        _check_vector("root_position_m", self.root_position_m, 3)
        _check_quaternion("root_rotation", self.root_rotation)
        for name, rotation in self.bone_rotations.items():
            if name not in HUMAN_BONE_INDEX:
                raise ValueError(f"unknown bone {name!r} in bone_rotations")
            _check_quaternion(f"bone_rotations[{name!r}]", rotation)
        for name, position in self.bone_positions_m.items():
            if name not in HUMAN_BONE_INDEX:
                raise ValueError(f"unknown bone {name!r} in bone_positions_m")
            _check_vector(f"bone_positions_m[{name!r}]", position, 3)
        for name, value in self.blendshapes.items():
            if not np.isfinite(value):
                raise ValueError(f"blendshape {name!r} is not finite: {value}")

    def copy(self) -> HumanoidPose:
        """Deep copy (arrays included)."""
        return copy.deepcopy(self)

    def rotation(self, bone: str) -> np.ndarray:
        """Local rotation of ``bone`` (identity when the source did not set it)."""
        rotation = self.bone_rotations.get(bone)
        return quat.identity() if rotation is None else np.asarray(rotation, dtype=np.float64)


def _check_vector(label: str, value: np.ndarray, size: int) -> None:
    array = np.asarray(value)
    if array.shape != (size,):
        raise ValueError(f"{label} must have shape ({size},), got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{label} is not finite: {array.tolist()}")


def _check_quaternion(label: str, value: np.ndarray) -> None:
    _check_vector(label, value, 4)
    norm = float(np.linalg.norm(value))
    if abs(norm - 1.0) > 1e-3:
        raise ValueError(f"{label} is not a unit quaternion (norm {norm:.6f})")


def t_pose(performer_id: str, timestamp_ns: int = 0, source: str = "") -> HumanoidPose:
    """A T-pose with the root on the floor at the origin: body bones at identity, hips 0.95 m up."""
    return HumanoidPose(
        performer_id=performer_id,
        timestamp_ns=timestamp_ns,
        root_position_m=np.zeros(3),
        root_rotation=quat.identity(),
        bone_rotations={name: quat.identity() for name in _BODY_BONES if name not in ("LeftEye", "RightEye", "Jaw")},
        bone_positions_m={"Hips": T_POSE_OFFSETS_M["Hips"].copy()},
        source=source,
    )


def forward_kinematics(
    pose: HumanoidPose, offsets_m: dict[str, np.ndarray] | None = None
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """World (canonical space) position and rotation of every bone: name -> (position_m, rotation).

    Local translations come from ``pose.bone_positions_m`` where set, else from ``offsets_m``
    (default `T_POSE_OFFSETS_M`), except the hips: without ``bone_positions_m["Hips"]`` the
    hips sit exactly at the root (``root_position_m`` is then the pelvis position).
    """
    offsets = T_POSE_OFFSETS_M if offsets_m is None else offsets_m
    result: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    root_position = np.asarray(pose.root_position_m, dtype=np.float64)
    root_rotation = np.asarray(pose.root_rotation, dtype=np.float64)
    for name in BONES_PARENT_FIRST:
        parent = BONE_PARENTS[name]
        if name in pose.bone_positions_m:
            local_position = np.asarray(pose.bone_positions_m[name], dtype=np.float64)
        elif name == "Hips":
            local_position = np.zeros(3)
        else:
            local_position = offsets.get(name, np.zeros(3))
        local_rotation = pose.rotation(name)
        if parent is None:
            parent_position, parent_rotation = root_position, root_rotation
        else:
            parent_position, parent_rotation = result[parent]
        position = parent_position + quat.rotate_vector(parent_rotation, local_position)
        rotation = quat.multiply(parent_rotation, local_rotation)
        result[name] = (position, rotation)
    return result


def local_from_global(
    global_rotations: dict[str, np.ndarray], root_rotation: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Local rotations from world rotations (both relative to the T-pose bind).

    A bone whose parent has no world rotation is taken relative to its nearest ancestor that
    has one (or to ``root_rotation``, identity by default), so skipped bones stay identity.
    """
    root = quat.identity() if root_rotation is None else np.asarray(root_rotation, dtype=np.float64)
    local: dict[str, np.ndarray] = {}
    for name in BONES_PARENT_FIRST:
        if name not in global_rotations:
            continue
        ancestor = BONE_PARENTS[name]
        while ancestor is not None and ancestor not in global_rotations:
            ancestor = BONE_PARENTS[ancestor]
        parent_rotation = root if ancestor is None else global_rotations[ancestor]
        local[name] = quat.normalise(
            quat.multiply(quat.conjugate(parent_rotation), global_rotations[name])
        )
    return local


_LOCAL_SOLVER_CACHE: dict[tuple[str, ...], np.ndarray] = {}


def _nearest_ancestor_indices(bones: tuple[str, ...]) -> np.ndarray:
    cached = _LOCAL_SOLVER_CACHE.get(bones)
    if cached is not None:
        return cached
    position = {name: index for index, name in enumerate(bones)}
    parents = np.full(len(bones), -1, dtype=np.intp)
    for index, name in enumerate(bones):
        if name not in HUMAN_BONE_INDEX:
            raise ValueError(f"unknown bone {name!r}")
        ancestor = BONE_PARENTS[name]
        while ancestor is not None and ancestor not in position:
            ancestor = BONE_PARENTS[ancestor]
        parents[index] = -1 if ancestor is None else position[ancestor]
    if len(_LOCAL_SOLVER_CACHE) > 256:
        _LOCAL_SOLVER_CACHE.clear()
    _LOCAL_SOLVER_CACHE[bones] = parents
    return parents


def local_from_global_arrays(
    bones: tuple[str, ...], global_rotations: np.ndarray, root_rotation: np.ndarray | None = None
) -> np.ndarray:
    """Vectorised `local_from_global`: ``global_rotations`` (..., k, 4) for ``bones`` -> local (..., k, 4).

    Leading axes (e.g. frames) broadcast; ``root_rotation`` is (4,) or (..., 4).
    """
    parents = _nearest_ancestor_indices(tuple(bones))
    global_rotations = np.asarray(global_rotations, dtype=np.float64)
    root = quat.IDENTITY if root_rotation is None else np.asarray(root_rotation, dtype=np.float64)
    root = np.broadcast_to(root[..., None, :], global_rotations.shape)
    parent_rotations = np.where(
        (parents >= 0)[:, None], np.take(global_rotations, np.maximum(parents, 0), axis=-2), root
    )
    local = quat.multiply(quat.conjugate(parent_rotations), global_rotations)
    return local / np.linalg.norm(local, axis=-1, keepdims=True)


def merge_poses(base: HumanoidPose, overlay: HumanoidPose) -> HumanoidPose:
    """``base`` with ``overlay``'s bones, positions, blendshapes and confidences laid on top.

    For combining partial sources of one performer (e.g. a suit for the body and Live Link
    Face for the head and face): the result keeps ``base``'s root and identity, and the later
    of the two timestamps.
    """
    merged = HumanoidPose(
        performer_id=base.performer_id,
        timestamp_ns=max(base.timestamp_ns, overlay.timestamp_ns),
        root_position_m=np.asarray(base.root_position_m, dtype=np.float64).copy(),
        root_rotation=np.asarray(base.root_rotation, dtype=np.float64).copy(),
        bone_rotations={**base.bone_rotations, **overlay.bone_rotations},
        bone_positions_m={**base.bone_positions_m, **overlay.bone_positions_m},
        blendshapes={**base.blendshapes, **overlay.blendshapes},
        source=base.source if not overlay.source else f"{base.source}+{overlay.source}",
        confidence={**base.confidence, **overlay.confidence},
    )
    return merged
