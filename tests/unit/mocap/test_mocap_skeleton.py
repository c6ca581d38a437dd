from __future__ import annotations

import numpy as np
import pytest

from mocap import quaternion as quat
from mocap.skeleton import (
    BONE_PARENTS,
    BONES_PARENT_FIRST,
    HUMAN_BONES,
    HumanoidPose,
    forward_kinematics,
    local_from_global,
    local_from_global_arrays,
    merge_poses,
    t_pose,
)


def test_human_bones_follow_unity_enum_order():
    assert len(HUMAN_BONES) == 55
    assert HUMAN_BONES[:3] == ("Hips", "LeftUpperLeg", "RightUpperLeg")
    assert HUMAN_BONES[23] == "Jaw"
    assert HUMAN_BONES[24] == "LeftThumbProximal"
    assert HUMAN_BONES[38] == "LeftLittleDistal"
    assert HUMAN_BONES[39] == "RightThumbProximal"
    assert HUMAN_BONES[53] == "RightLittleDistal"
    assert HUMAN_BONES[54] == "UpperChest"


def test_parents_form_one_tree_rooted_at_hips():
    assert BONE_PARENTS["Hips"] is None
    assert [name for name, parent in BONE_PARENTS.items() if parent is None] == ["Hips"]
    assert BONE_PARENTS["Neck"] == "UpperChest"
    assert BONE_PARENTS["LeftIndexDistal"] == "LeftIndexIntermediate"
    assert BONE_PARENTS["RightThumbProximal"] == "RightHand"
    seen: set[str] = set()
    for name in BONES_PARENT_FIRST:
        parent = BONE_PARENTS[name]
        assert parent is None or parent in seen
        seen.add(name)
    assert seen == set(HUMAN_BONES)


def test_t_pose_forward_kinematics_places_limbs():
    world = forward_kinematics(t_pose("p"))
    hips, head = world["Hips"][0], world["Head"][0]
    assert head[1] > hips[1] + 0.4
    assert world["LeftHand"][0][0] < -0.5 and world["RightHand"][0][0] > 0.5  # left is -X in Unity
    assert world["LeftFoot"][0][1] < 0.2
    assert world["LeftToes"][0][2] > world["LeftFoot"][0][2]  # toes point forward (+Z)


def test_local_from_global_inverts_forward_kinematics_and_folds_missing_bones():
    rng = np.random.default_rng(11)
    pose = t_pose("p")
    for name in HUMAN_BONES:
        pose.bone_rotations[name] = quat.normalise(rng.normal(size=4))
    world = forward_kinematics(pose)
    globals_ = {name: rotation for name, (_, rotation) in world.items()}
    local = local_from_global(globals_)
    for name in HUMAN_BONES:
        assert quat.angle_between_deg(local[name], pose.bone_rotations[name]) < 1e-6
    # drop Chest: UpperChest's local becomes relative to Spine and carries Chest's rotation
    partial = {name: value for name, value in globals_.items() if name != "Chest"}
    folded = local_from_global(partial)
    expected = quat.multiply(pose.bone_rotations["Chest"], pose.bone_rotations["UpperChest"])
    assert quat.angle_between_deg(folded["UpperChest"], expected) < 1e-6
    names = tuple(partial)
    arrays = local_from_global_arrays(names, np.array([partial[n] for n in names]))
    for row, name in enumerate(names):
        assert quat.angle_between_deg(arrays[row], folded[name]) < 1e-6


def test_validate_names_the_bad_field():
    pose = t_pose("p")
    pose.validate()
    pose.bone_rotations["Tail"] = quat.identity()
    with pytest.raises(ValueError, match="unknown bone 'Tail'"):
        pose.validate()
    pose = t_pose("p")
    pose.bone_rotations["Head"] = np.array([0.0, 0.0, 0.0, 2.0])
    with pytest.raises(ValueError, match="Head.*not a unit quaternion"):
        pose.validate()
    pose = t_pose("p")
    pose.root_position_m = np.array([0.0, np.nan, 0.0])
    with pytest.raises(ValueError, match="root_position_m is not finite"):
        pose.validate()


def test_merge_poses_overlays_face_on_body():
    body = t_pose("alice", timestamp_ns=10, source="xsens")
    face = HumanoidPose("alice", 20, np.zeros(3), quat.identity(),
                        {"Head": quat.from_axis_angle([0, 1, 0], 0.3)}, blendshapes={"jawOpen": 0.5},
                        source="live_link_face")  # fmt: skip
    merged = merge_poses(body, face)
    assert merged.timestamp_ns == 20
    assert merged.blendshapes == {"jawOpen": 0.5}
    np.testing.assert_allclose(merged.bone_rotations["Head"], face.bone_rotations["Head"])
    assert "LeftUpperArm" in merged.bone_rotations
    np.testing.assert_allclose(merged.bone_positions_m["Hips"], body.bone_positions_m["Hips"])
    assert merged.source == "xsens+live_link_face"
