"""Bone solver: landmark sets made from known poses of the canonical skeleton solve back to them."""

from __future__ import annotations

import numpy as np
import pytest

from mocap import quaternion as quat
from mocap.markerless import rotation_math as rm
from mocap.markerless.bone_solver import BodySolver, swing_rotation
from mocap.markerless.confidence_hold import ConfidenceHold
from mocap.markerless.landmarks import (
    POSE,
    BodyLandmarks,
    HandLandmarks,
    canonical_to_mediapipe,
    mediapipe_to_canonical,
    reference_hand_landmarks,
    reference_landmarks,
)
from mocap.skeleton import FINGER_NAMES, HumanoidPose, forward_kinematics, t_pose

LIMBS = ("UpperArm", "LowerArm", "Hand", "UpperLeg", "LowerLeg", "Foot")


def _body(points: np.ndarray, visibility: float | np.ndarray = 1.0) -> BodyLandmarks:
    vis = np.full(33, visibility) if np.isscalar(visibility) else np.asarray(visibility)
    return BodyLandmarks(points, np.zeros((33, 2)), vis, (640, 480))


def _solve(pose: HumanoidPose, **kwargs) -> dict[str, np.ndarray]:
    body = _body(reference_landmarks(pose))
    return BodySolver().solve(body, ConfidenceHold(), 0.0, **kwargs).local_rotations


def _axis_angle(axis, deg):
    return quat.from_axis_angle(np.asarray(axis, dtype=float), np.radians(deg))


def _solver_consistent_pose(rng: np.random.Generator) -> HumanoidPose:
    """A pose the solver can represent exactly: the torso twists in equal thirds about the spine
    (a forward bend is read as the pelvis tilting), neck = half the head turn, elbows and knees
    bent about their T-pose hinge axes."""
    pose = t_pose("test")

    def rnd(max_deg):
        return _axis_angle(rng.normal(size=3), rng.uniform(5.0, max_deg))

    pose.bone_rotations["Hips"] = rnd(40)
    third = _axis_angle([0, 1, 0], rng.uniform(-15, 15))
    for bone in ("Spine", "Chest", "UpperChest"):
        pose.bone_rotations[bone] = third
    half = rnd(20)
    pose.bone_rotations["Neck"] = half
    pose.bone_rotations["Head"] = half
    for side in ("Left", "Right"):
        pose.bone_rotations[f"{side}UpperArm"] = rnd(80)
        pose.bone_rotations[f"{side}LowerArm"] = _axis_angle([0, 1 if side == "Left" else -1, 0], rng.uniform(40, 120))
        pose.bone_rotations[f"{side}Hand"] = rnd(40)
        pose.bone_rotations[f"{side}UpperLeg"] = rnd(50)
        pose.bone_rotations[f"{side}LowerLeg"] = _axis_angle([1, 0, 0], rng.uniform(35, 100))
        pose.bone_rotations[f"{side}Foot"] = rnd(30)
    return pose


def test_t_pose_landmarks_solve_to_identity():
    local = _solve(t_pose("t"))
    for bone, rotation in local.items():
        assert quat.angle_between_deg(rotation, quat.IDENTITY) < 1e-6, bone


@pytest.mark.parametrize("seed", range(6))
def test_solver_consistent_poses_round_trip_exactly(seed):
    pose = _solver_consistent_pose(np.random.default_rng(seed))
    local = _solve(pose)
    for bone in ("Hips", "Spine", "Chest", "UpperChest", "Neck", "Head",
                 *(f"{side}{limb}" for side in ("Left", "Right") for limb in LIMBS)):  # fmt: skip
        assert quat.angle_between_deg(local[bone], pose.rotation(bone)) < 1e-5, bone


@pytest.mark.parametrize("seed", range(6))
def test_any_pose_reproduces_every_limb_direction(seed):
    """Arbitrary local rotations (twists the landmarks cannot see included): the solved skeleton
    points every limb segment where the landmarks say."""
    rng = np.random.default_rng(100 + seed)
    pose = t_pose("any")
    for bone in list(pose.bone_rotations):
        pose.bone_rotations[bone] = _axis_angle(rng.normal(size=3), rng.uniform(0, 60))
    landmarks = reference_landmarks(pose)
    solved = HumanoidPose("s", 0, np.zeros(3), quat.identity(), _solve(pose))
    again = reference_landmarks(solved)
    for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle"),
                 ("heel", "foot_index"), ("wrist", "index")):  # fmt: skip
        for side in ("left", "right"):
            want = landmarks[POSE[f"{side}_{b}"]] - landmarks[POSE[f"{side}_{a}"]]
            got = again[POSE[f"{side}_{b}"]] - again[POSE[f"{side}_{a}"]]
            assert rm.angle_deg(want, got) < 1e-4, (side, a, b)
    # hip and shoulder lines keep their directions too
    for a, b in (("left_hip", "right_hip"), ("left_shoulder", "right_shoulder"), ("left_ear", "right_ear")):
        want = landmarks[POSE[b]] - landmarks[POSE[a]]
        got = again[POSE[b]] - again[POSE[a]]
        assert rm.angle_deg(want, got) < 1e-4, (a, b)


def test_straight_arm_takes_no_twist_from_the_noisy_hinge():
    pose = t_pose("arm")
    pose.bone_rotations["LeftUpperArm"] = _axis_angle([0, 0, 1], 60)  # arm lowered, elbow straight
    pose.bone_rotations["LeftLowerArm"] = _axis_angle([0, 1, 0], 3)  # 3 degrees: below min_bend_deg
    local = _solve(pose)
    # the swing-only solution keeps the upper arm's rotation a pure swing about the forward axis
    assert quat.angle_between_deg(local["LeftUpperArm"], pose.rotation("LeftUpperArm")) < 1.0


def test_mediapipe_axes_convert_to_the_performers_sides():
    """MediaPipe: the performer faces the camera, their left hip is at picture +x, up is -y."""
    mp_points = canonical_to_mediapipe(reference_landmarks(t_pose("t")))
    assert mp_points[POSE["left_hip"], 0] > mp_points[POSE["right_hip"], 0]  # picture right
    assert mp_points[POSE["nose"], 1] < mp_points[POSE["left_hip"], 1]  # y down: head has smaller y
    assert mp_points[POSE["nose"], 2] < 0.0  # nose is closer to the camera than the hips
    # a left arm raised straight up in MediaPipe coordinates: wrist above the shoulder (smaller y)
    mp_points[POSE["left_elbow"]] = mp_points[POSE["left_shoulder"]] + [0.0, -0.28, 0.0]
    mp_points[POSE["left_wrist"]] = mp_points[POSE["left_elbow"]] + [0.0, -0.25, 0.0]
    solved = BodySolver().solve(_body(mediapipe_to_canonical(mp_points)), ConfidenceHold(), 0.0)
    world = forward_kinematics(HumanoidPose("s", 0, np.zeros(3), quat.identity(), solved.local_rotations))
    arm = world["LeftLowerArm"][0] - world["LeftUpperArm"][0]
    assert arm[1] > 0.27  # canonical +Y: up
    right_arm = world["RightLowerArm"][0] - world["RightUpperArm"][0]
    assert right_arm[0] > 0.27  # the right arm still points along +X (the character's right)


def test_fingers_follow_the_hand_landmarks():
    pose = t_pose("hand")
    rng = np.random.default_rng(7)
    for side in ("Left", "Right"):
        for finger in FINGER_NAMES:
            for phalanx, limit in (("Proximal", 50), ("Intermediate", 70), ("Distal", 40)):
                pose.bone_rotations[f"{side}{finger}{phalanx}"] = _axis_angle([0, 0, 1], rng.uniform(0, limit))
    body = _body(reference_landmarks(pose))
    hands = {side: HandLandmarks(reference_hand_landmarks(pose, side), np.zeros((21, 2)), side, 0.95)
             for side in ("Left", "Right")}  # fmt: skip
    solved = BodySolver().solve(body, ConfidenceHold(), 0.0, hands=hands, solve_fingers=True)
    for side in ("Left", "Right"):
        for finger in FINGER_NAMES:
            for phalanx in ("Proximal", "Intermediate", "Distal"):
                bone = f"{side}{finger}{phalanx}"
                assert quat.angle_between_deg(solved.local_rotations[bone], pose.rotation(bone)) < 1e-5, bone
                assert solved.confidence[bone] == pytest.approx(0.95)


def test_swing_rotation_is_shortest_and_handles_opposites():
    q = swing_rotation(np.array([1.0, 0, 0]), np.array([0, 1.0, 0]))
    assert quat.angle_between_deg(q, quat.IDENTITY) == pytest.approx(90.0)
    np.testing.assert_allclose(quat.rotate_vector(q, [1.0, 0, 0]), [0, 1, 0], atol=1e-12)
    flip = swing_rotation(np.array([1.0, 0, 0]), np.array([-1.0, 0, 0]))
    np.testing.assert_allclose(quat.rotate_vector(flip, [1.0, 0, 0]), [-1, 0, 0], atol=1e-12)


def test_rotation_math_matches_the_reference_quaternions():
    rng = np.random.default_rng(3)
    for _ in range(20):
        a = quat.normalise(rng.normal(size=4))
        b = quat.normalise(rng.normal(size=4))
        v = rng.normal(size=3)
        np.testing.assert_allclose(rm.mul(a, b), quat.multiply(a, b), atol=1e-12)
        np.testing.assert_allclose(rm.rotate(a, v), quat.rotate_vector(a, v), atol=1e-12)
        np.testing.assert_allclose(rm.cross(v, a[:3]), np.cross(v, a[:3]), atol=1e-12)
        assert quat.angle_between_deg(rm.slerp(a, b, 0.3), quat.slerp(a, b, 0.3)) < 1e-6
    with pytest.raises(ValueError, match="cannot normalise"):
        rm.normalise([0.0, 0.0, 0.0, 0.0])


def test_bad_landmark_shapes_are_rejected_with_the_cause():
    with pytest.raises(ValueError, match=r"world_m must have shape \(33, 3\)"):
        BodyLandmarks(np.zeros((32, 3)), np.zeros((33, 2)), np.ones(33), (640, 480))
    with pytest.raises(ValueError, match="visibility"):
        BodyLandmarks(np.zeros((33, 3)), np.zeros((33, 2)), np.ones(5), (640, 480))
    bad = np.zeros((33, 3))
    bad[4, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        BodyLandmarks(bad, np.zeros((33, 2)), np.ones(33), (640, 480))
    with pytest.raises(ValueError, match="side"):
        HandLandmarks(np.zeros((21, 3)), np.zeros((21, 2)), "left", 1.0)


def test_hands_go_to_the_side_of_the_nearest_pose_wrist_whatever_their_label():
    from mocap.markerless.landmarks import assign_hands
    from mocap.markerless.mediapipe_runtime import RawHandLandmarks

    image = np.zeros((33, 2))
    image[POSE["left_wrist"]] = (500.0, 300.0)  # the performer's left hand is on picture-right
    image[POSE["right_wrist"]] = (140.0, 310.0)
    body = BodyLandmarks(reference_landmarks(t_pose("t")), image, np.ones(33), (640, 480))

    def hand(x: float, label: str, score: float) -> RawHandLandmarks:
        pixels = np.zeros((21, 3))
        pixels[:, 0] = x
        pixels[:, 1] = 300.0
        return RawHandLandmarks(np.full((21, 3), 0.01), pixels, label, score)

    assigned = assign_hands([hand(150.0, "Right", 0.9), hand(490.0, "Right", 0.8)], body)
    assert assigned["Right"].image_px[0, 0] == 150.0 and assigned["Left"].image_px[0, 0] == 490.0
    np.testing.assert_allclose(assigned["Left"].world_m, -0.01)  # converted to canonical axes
    # no body: MediaPipe's selfie label is un-mirrored ("Left" in a selfie is the right hand)
    alone = assign_hands([hand(150.0, "Left", 0.9)], None)
    assert list(alone) == ["Right"]
