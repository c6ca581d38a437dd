"""Joint-name aliases: names used by BVH exporters, Mixamo, CMU and Move -> canonical bones."""

from __future__ import annotations

from mocap.skeleton import HUMAN_BONES


def _alias_table() -> dict[str, str]:
    aliases = {name.lower(): name for name in HUMAN_BONES}
    aliases.update(
        {
            "hip": "Hips",
            "pelvis": "Hips",
            "root": "Hips",
            "spine1": "Chest",
            "spine2": "UpperChest",
            "spine3": "UpperChest",
            "chest2": "UpperChest",
            "upperchest": "UpperChest",
            "neck1": "Neck",
            "lhipjoint": "LeftUpperLeg",
            "rhipjoint": "RightUpperLeg",
        }
    )
    for side, short in (("Left", "l"), ("Right", "r")):
        per_side = {
            "upleg": "UpperLeg", "thigh": "UpperLeg", "upperleg": "UpperLeg", "femur": "UpperLeg",
            "leg": "LowerLeg", "shin": "LowerLeg", "calf": "LowerLeg", "knee": "LowerLeg", "lowerleg": "LowerLeg",
            "tibia": "LowerLeg",
            "foot": "Foot", "ankle": "Foot",
            "toebase": "Toes", "toe": "Toes", "toes": "Toes", "ball": "Toes",
            "collar": "Shoulder", "clavicle": "Shoulder", "shoulder": "Shoulder",
            "arm": "UpperArm", "upperarm": "UpperArm", "humerus": "UpperArm",
            "forearm": "LowerArm", "lowerarm": "LowerArm", "elbow": "LowerArm",
            "hand": "Hand", "wrist": "Hand",
        }  # fmt: skip
        for suffix, bone in per_side.items():
            for prefix in (side.lower(), f"{side.lower()}_", short, f"{short}_"):
                aliases.setdefault(prefix + suffix, side + bone)
            aliases.setdefault(suffix + side.lower(), side + bone)
            aliases.setdefault(f"{suffix}_{short}", side + bone)
        for finger in ("Thumb", "Index", "Middle", "Ring", "Pinky"):
            unity_finger = "Little" if finger == "Pinky" else finger
            for number, phalanx in ((1, "Proximal"), (2, "Intermediate"), (3, "Distal")):
                aliases[f"{side}Hand{finger}{number}".lower()] = f"{side}{unity_finger}{phalanx}"
                aliases[f"{side}{finger}{number}".lower()] = f"{side}{unity_finger}{phalanx}"
    return aliases


BONE_ALIASES: dict[str, str] = _alias_table()
"""Lower-case joint name (prefix such as ``mixamorig:`` removed, ``_`` and spaces kept) -> canonical bone."""


def canonical_bone_name(joint_name: str) -> str | None:
    """Canonical bone for a joint name from another tool, or None when it has no counterpart."""
    name = joint_name.rsplit(":", 1)[-1].replace(" ", "")
    lowered = name.lower()
    return BONE_ALIASES.get(lowered) or BONE_ALIASES.get(lowered.replace("_", ""))
