from __future__ import annotations

import struct

import msgpack
import numpy as np
import pytest

from mocap import quaternion as quat
from mocap.pose_wire import PoseWireError, pose_from_wire, pose_to_wire
from mocap.skeleton import HUMAN_BONES, t_pose


def _pose():
    pose = t_pose("alice", timestamp_ns=1_700_000_000_123_456_789, source="xsens")
    rng = np.random.default_rng(2)
    for name in HUMAN_BONES:
        pose.bone_rotations[name] = quat.normalise(rng.normal(size=4))
    pose.bone_positions_m["LeftHand"] = np.array([-0.25, 0.01, 0.02])
    pose.blendshapes = {"jawOpen": 0.25, "eyeBlinkLeft": 1.0}
    pose.confidence = {"Head": 0.5}
    pose.root_position_m = np.array([1.0, 0.0, -2.0])
    pose.root_rotation = quat.from_axis_angle([0, 1, 0], 0.3)
    return pose


def test_round_trip_through_msgpack():
    pose = _pose()
    fields, payload = pose_to_wire(pose)
    assert list(fields) == ["performer", "t_ns", "source", "root", "bones", "positions", "blendshapes", "confidence"]
    assert fields["bones"] == list(HUMAN_BONES)  # HumanBodyBones order
    assert fields["positions"] == ["Hips", "LeftHand"]
    assert len(payload) == 4 * (4 * 55 + 3 * 2 + 2 + 55)
    header = msgpack.unpackb(msgpack.packb(fields, use_bin_type=True), raw=False)
    back = pose_from_wire(header, payload)
    assert back.performer_id == "alice" and back.timestamp_ns == pose.timestamp_ns and back.source == "xsens"
    np.testing.assert_allclose(back.root_position_m, pose.root_position_m)
    np.testing.assert_allclose(back.root_rotation, pose.root_rotation, atol=1e-12)
    for name in HUMAN_BONES:
        np.testing.assert_allclose(back.bone_rotations[name], pose.bone_rotations[name], atol=1e-6)
    np.testing.assert_allclose(back.bone_positions_m["LeftHand"], [-0.25, 0.01, 0.02], atol=1e-7)
    assert back.blendshapes == pytest.approx({"jawOpen": 0.25, "eyeBlinkLeft": 1.0})
    assert back.confidence["Head"] == 0.5 and back.confidence["Hips"] == 1.0


def test_payload_layout_is_little_endian_float32_sections():
    pose = t_pose("p")
    pose.bone_rotations = {"Head": np.array([0.0, 0.6, 0.0, 0.8]), "Hips": np.array([0.0, 0.0, 0.0, 1.0])}
    pose.bone_positions_m = {"Hips": np.array([0.0, 0.95, 0.0])}
    pose.blendshapes = {"jawOpen": 0.5}
    fields, payload = pose_to_wire(pose)
    assert fields["bones"] == ["Hips", "Head"] and fields["confidence"] is False
    expected = struct.pack("<4f", 0, 0, 0, 1) + struct.pack("<4f", 0, 0.6, 0, 0.8) + struct.pack(
        "<3f", 0, 0.95, 0
    ) + struct.pack("<f", 0.5)
    assert payload == expected


def test_bad_payload_sizes_are_rejected():
    fields, payload = pose_to_wire(_pose())
    with pytest.raises(PoseWireError, match=rf"part is {len(payload) - 4} bytes; 55 bones, 2 positions, 2 blendshapes and confidences need {len(payload)}"):
        pose_from_wire(fields, payload[:-4])
    with pytest.raises(PoseWireError, match="need"):
        pose_from_wire(fields, payload + b"\x00" * 4)
    with pytest.raises(PoseWireError, match="need"):
        pose_from_wire({**fields, "confidence": False}, payload)


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"performer": ""}, "MOCAP.performer must be a non-empty str"),
        ({"t_ns": 1.5}, "MOCAP.t_ns must be an int"),
        ({"root": [0, 0, 0, 0, 0, 0]}, "MOCAP.root must be an array of 7 numbers"),
        ({"root": [0, 0, 0, 0, 0, 0, 0]}, "root rotation has zero length"),
        ({"bones": ["Hips", "Tail"]}, "MOCAP.bones names unknown bone 'Tail'"),
        ({"bones": ["Hips", "Hips"]}, r"MOCAP.bones repeats \['Hips'\]"),
        ({"bones": "Hips"}, "MOCAP.bones must be an array of str"),
        ({"positions": [3]}, r"MOCAP.positions\[0\] must be a str"),
        ({"confidence": 1}, "MOCAP.confidence must be a bool"),
    ],
)
def test_bad_fields_are_named(change, fragment):
    pose = t_pose("p")
    pose.bone_rotations = {"Hips": quat.identity(), "Spine": quat.identity()}
    pose.bone_positions_m = {}
    fields, payload = pose_to_wire(pose)
    fields.update(change)
    with pytest.raises(PoseWireError, match=fragment):
        pose_from_wire(fields, payload)


def test_missing_bones_field_and_zero_or_nan_rotation():
    pose = t_pose("p")
    pose.bone_rotations = {"Hips": quat.identity()}
    pose.bone_positions_m = {}
    fields, payload = pose_to_wire(pose)
    with pytest.raises(PoseWireError, match="MOCAP.bones is missing"):
        pose_from_wire({k: v for k, v in fields.items() if k != "bones"}, payload)
    with pytest.raises(PoseWireError, match="rotation of 'Hips' has zero length"):
        pose_from_wire(fields, struct.pack("<4f", 0, 0, 0, 0))
    with pytest.raises(PoseWireError, match="non-finite"):
        pose_from_wire(fields, struct.pack("<4f", 0, 0, float("nan"), 1))
