from __future__ import annotations

import time

import numpy as np
import pytest

from mocap import quaternion as quat
from mocap.bvh import (
    BvhFormatError,
    BvhPlayerSource,
    BvhRecorder,
    bvh_to_poses,
    parse_bvh,
    poses_to_bvh,
    read_bvh,
    write_bvh,
)
from mocap.skeleton import HUMAN_BONES, forward_kinematics, t_pose

# Hand-written: channel orders differ per joint, one joint has position channels, End Sites,
# a CMU/Mixamo-style naming, 2 frames, 30 fps.
HAND_WRITTEN = """HIERARCHY
ROOT Hips
{
  OFFSET 0.0 0.0 0.0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Spine
  {
    OFFSET 0.0 10.0 0.0
    CHANNELS 3 Xrotation Yrotation Zrotation
    JOINT Head
    {
      OFFSET 0.0 50.0 0.0
      CHANNELS 3 Yrotation Xrotation Zrotation
      End Site
      {
        OFFSET 0.0 15.0 0.0
      }
    }
  }
  JOINT LeftUpLeg
  {
    OFFSET 9.0 -5.0 0.0
    CHANNELS 3 Zrotation Yrotation Xrotation
    JOINT LeftLeg
    {
      OFFSET 0.0 -42.0 0.0
      CHANNELS 4 Xposition Zrotation Xrotation Yrotation
      End Site
      {
        OFFSET 0.0 -42.0 0.0
      }
    }
  }
  JOINT LeftArm
  {
    OFFSET 15.0 45.0 0.0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 28.0 0.0 0.0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.0333333
1.0 95.0 -2.0  0.0 0.0 0.0   0.0 0.0 0.0   0.0 0.0 0.0   0.0 0.0 0.0   0.0 0.0 0.0 0.0   0.0 0.0 0.0
2.0 96.0 -3.0  10.0 20.0 30.0   5.0 0.0 0.0   0.0 45.0 0.0   0.0 0.0 0.0   1.5 0.0 0.0 0.0   90.0 0.0 0.0
"""


def test_hand_written_file_loads_with_hierarchy_and_channels():
    bvh = parse_bvh(HAND_WRITTEN)
    assert [joint.name for joint in bvh.joints()] == ["Hips", "Spine", "Head", "LeftUpLeg", "LeftLeg", "LeftArm"]
    assert bvh.root.channels == ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")
    joints = {joint.name: joint for joint in bvh.joints()}
    assert joints["Head"].channels == ("Yrotation", "Xrotation", "Zrotation")
    assert joints["LeftLeg"].channels == ("Xposition", "Zrotation", "Xrotation", "Yrotation")
    assert joints["Head"].parent == "Spine" and joints["LeftLeg"].parent == "LeftUpLeg"
    np.testing.assert_allclose(joints["LeftUpLeg"].offset, [9.0, -5.0, 0.0])
    np.testing.assert_allclose(joints["Head"].end_site, [0.0, 15.0, 0.0])
    assert joints["Spine"].end_site is None
    assert bvh.channel_count == 6 + 3 + 3 + 3 + 4 + 3
    assert bvh.frames.shape == (2, 22)
    assert bvh.frame_time_s == pytest.approx(0.0333333)
    layout = bvh.channel_layout()
    assert layout["LeftLeg"][0] == 15
    assert bvh.frames[1, layout["LeftArm"][0]] == 90.0


def test_hand_written_file_converts_to_poses():
    poses = bvh_to_poses(parse_bvh(HAND_WRITTEN), "cmu", units_per_m=100.0, start_ns=1_000)
    assert len(poses) == 2 and poses[1].timestamp_ns == 1_000 + 33_333_300
    first, second = poses
    # BVH (right-handed, +X = character's left, cm) -> Unity (+X = right, metres)
    np.testing.assert_allclose(first.root_position_m, [-0.01, 0.95, -0.02], atol=1e-9)
    for name in ("Hips", "Spine", "Head", "LeftUpperLeg", "LeftLowerLeg", "LeftUpperArm"):
        assert quat.angle_between_deg(first.bone_rotations[name], quat.IDENTITY) < 1e-9
    # frame 2: LeftArm Zrotation 90 in BVH turns +X (left) into +Y (up): the arm is raised
    world = forward_kinematics(second)
    arm = world["LeftLowerArm"][0] - world["LeftUpperArm"][0]
    hips_rotation = second.bone_rotations["Hips"]
    arm_local = quat.rotate_vector(quat.conjugate(hips_rotation), arm)  # undo the hips' own turn
    np.testing.assert_allclose(arm_local / np.linalg.norm(arm_local), [0.0, 1.0, 0.0], atol=1e-9)
    # Head: Yrotation 45 is a yaw of 45 degrees
    assert quat.angle_between_deg(second.bone_rotations["Head"], quat.IDENTITY) == pytest.approx(45.0)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("ROOT Hips {", "expected 'HIERARCHY'"),
        ("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0\n}", "must be a number"),
        ("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 1 Wrotation\n}\nMOTION", "line 5: Hips: unknown channel 'Wrotation'"),
        ("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 1 Xrotation\n}\nMOTION\nFrames: 2\nFrame Time: 0.1\n1\n",
         "2 frames x 1 channels = 2 values, the file has 1"),
        ("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 1 Xrotation\n}\nMOTION\nFrames: 1\nFrame Time: 0\n1\n",
         "frame time must be positive"),
        ("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 1 Xrotation\n}\nMOTION\nFrames: 1\nFrame Time: 0.1\nabc\n",
         "not a number: 'abc'"),
        ("HIERARCHY\nROOT A\n{\n OFFSET 0 0 0\n JOINT A\n {\n OFFSET 0 0 0\n }\n}\nMOTION", "joint name 'A' appears twice"),
        ("HIERARCHY\nROOT A\n{\n OFFSET 0 0 0\n", "unexpected end of file"),
    ],
)
def test_format_errors_name_line_and_cause(text, fragment):
    with pytest.raises(BvhFormatError, match=fragment):
        parse_bvh(text)


def test_read_bvh_names_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="BVH file not found: .*missing.bvh"):
        read_bvh(tmp_path / "missing.bvh")


def test_write_then_read_is_lossless_to_the_printed_precision(tmp_path):
    bvh = parse_bvh(HAND_WRITTEN)
    rng = np.random.default_rng(3)
    bvh.frames = rng.uniform(-180.0, 180.0, size=(25, bvh.channel_count))
    path = tmp_path / "take.bvh"
    write_bvh(bvh, path, decimals=6)
    back = read_bvh(path)
    assert [(j.name, j.channels, j.parent) for j in back.joints()] == [(j.name, j.channels, j.parent) for j in bvh.joints()]
    assert np.max(np.abs(back.frames - bvh.frames)) <= 0.5e-6 + 1e-12
    assert back.frame_time_s == pytest.approx(bvh.frame_time_s, abs=1e-8)


def _random_poses(count: int, seed: int = 5):
    rng = np.random.default_rng(seed)
    poses = []
    for frame in range(count):
        pose = t_pose("p", timestamp_ns=frame * 10_000_000)
        pose.bone_positions_m = {}
        pose.root_position_m = rng.normal(size=3)
        for name in HUMAN_BONES:
            pose.bone_rotations[name] = quat.normalise(rng.normal(size=4))
        poses.append(pose)
    return poses


@pytest.mark.parametrize("order", ["ZXY", "XYZ", "YZX"])
def test_poses_to_bvh_to_poses_round_trip(order, tmp_path):
    poses = _random_poses(20)
    path = tmp_path / "round.bvh"
    write_bvh(poses_to_bvh(poses, frame_time_s=0.01, rotation_order=order), path)
    back = bvh_to_poses(read_bvh(path), "p")
    assert len(back) == len(poses)
    worst_deg = max(
        quat.angle_between_deg(a.bone_rotations[name], b.bone_rotations[name])
        for a, b in zip(poses, back)
        for name in HUMAN_BONES
    )
    assert worst_deg < 1e-4  # 6 decimals of degrees per channel
    worst_m = max(float(np.max(np.abs(a.root_position_m - b.root_position_m))) for a, b in zip(poses, back))
    assert worst_m < 1e-7  # 6 decimals of centimetres


def test_recorder_resamples_irregular_poses(tmp_path):
    recorder = BvhRecorder("p", interpolate=True)
    for timestamp_ms, angle in ((0, 0.0), (7, 0.35), (30, 1.5)):  # irregular arrival
        pose = t_pose("p", timestamp_ns=timestamp_ms * 1_000_000)
        pose.bone_rotations["Head"] = quat.from_axis_angle([0, 1, 0], angle)
        recorder(pose)
    recorder(t_pose("someone-else"))
    assert recorder.pose_count == 3
    path = tmp_path / "rec.bvh"
    frames = recorder.write(path, frame_time_s=0.01)
    assert frames == 4  # 0, 10, 20, 30 ms
    poses = bvh_to_poses(read_bvh(path), "p")
    angles = [quat.angle_between_deg(p.bone_rotations["Head"], quat.IDENTITY) for p in poses]
    np.testing.assert_allclose(angles, np.degrees([0.0, 0.35 + (1.15 * 3 / 23), 0.35 + 1.15 * 13 / 23, 1.5]), atol=1e-3)
    recorder.interpolate = False  # sample and hold: the latest pose at or before each instant
    held = [quat.angle_between_deg(p.bone_rotations["Head"], quat.IDENTITY) for p in recorder.resampled(0.01)]
    np.testing.assert_allclose(held, np.degrees([0.0, 0.35, 0.35, 1.5]), atol=1e-6)


def test_player_yields_every_frame_at_the_file_rate():
    poses = _random_poses(6)
    bvh = poses_to_bvh(poses, frame_time_s=0.05)
    player = BvhPlayerSource(bvh, performer_id="replay")
    stream = player.poses(timeout_s=5.0)
    started = time.monotonic()
    player.start()
    try:
        received = list(stream)  # ends when the take ends
    finally:
        player.stop()
    elapsed = time.monotonic() - started
    assert len(received) == 6 and all(p.performer_id == "replay" for p in received)
    assert elapsed >= 5 * 0.05 * 0.9  # six frames at 20 Hz span at least five frame times
    for sent, got in zip(poses, received):
        assert quat.angle_between_deg(sent.bone_rotations["LeftHand"], got.bone_rotations["LeftHand"]) < 1e-4
    stamps = [p.timestamp_ns for p in received]
    assert stamps == sorted(stamps)
