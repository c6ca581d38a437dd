"""Root position: camera estimate, foot contact and foot locking (no sliding, no floating)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mocap import quaternion as quat
from mocap.markerless.body_tracker import MarkerlessBodySettings, MarkerlessBodyTracker
from mocap.markerless.landmarks import BodyLandmarks, canonical_to_mediapipe, reference_landmarks
from mocap.markerless.root_motion import RootMotionSettings, RootMotionSolver, estimate_hips_from_camera
from mocap.skeleton import forward_kinematics, t_pose

FPS = 30.0
WIDTH, HEIGHT = 640, 480
FOV_DEG = 60.0


def _project(world_canonical: np.ndarray, hips_camera_m: np.ndarray) -> np.ndarray:
    """Pinhole picture (pixels) of canonical hip-centred landmarks whose hips sit at ``hips_camera_m``
    (camera axes: x right, y down, z away)."""
    focal = (WIDTH / 2) / math.tan(math.radians(FOV_DEG) / 2)
    camera = canonical_to_mediapipe(world_canonical) + hips_camera_m
    return np.column_stack([focal * camera[:, 0] / camera[:, 2] + WIDTH / 2, focal * camera[:, 1] / camera[:, 2] + HEIGHT / 2])


def _standing_pose():
    pose = t_pose("p")
    for side, sign in (("Left", 1.0), ("Right", -1.0)):
        pose.bone_rotations[f"{side}UpperArm"] = quat.from_axis_angle(np.array([0, 0, 1.0]), sign * np.radians(70))
    return pose


def test_camera_estimate_finds_where_the_hips_are():
    world = reference_landmarks(_standing_pose())
    hips_camera = np.array([0.4, 0.15, 3.0])
    body = BodyLandmarks(world, _project(world, hips_camera), np.ones(33), (WIDTH, HEIGHT))
    estimate = estimate_hips_from_camera(body, FOV_DEG)
    assert estimate is not None
    expected = -hips_camera  # canonical: performer's right = picture left, up, towards the camera
    assert estimate.hips_m[2] == pytest.approx(expected[2], rel=0.05)
    np.testing.assert_allclose(estimate.hips_m[:2], expected[:2], atol=0.03)
    assert estimate.residual_px < 6.0  # weak perspective vs the true pinhole: a few pixels on a 300 px person
    nobody = BodyLandmarks(world, _project(world, hips_camera), np.zeros(33), (WIDTH, HEIGHT))
    assert estimate_hips_from_camera(nobody, FOV_DEG) is None


def _feet(left_ankle: np.ndarray, right_ankle: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    toe = np.array([0.0, -0.06, 0.13])
    return {"Left": (left_ankle, left_ankle + toe), "Right": (right_ankle, right_ankle + toe)}


STAND_LEFT = np.array([-0.09, -0.89, 0.0])
STAND_RIGHT = np.array([0.09, -0.89, 0.0])
BOTH = {"Left": True, "Right": True}


def test_standing_still_does_not_slide_when_the_camera_estimate_drifts():
    solver = RootMotionSolver()
    feet_world = []
    for i in range(60):
        drift = np.array([0.0, 0.0, -0.1 * i / 60])  # depth estimate creeps 10 cm over 2 s
        result = solver.update(i / FPS, drift, _feet(STAND_LEFT, STAND_RIGHT), BOTH)
        feet_world.append([result.root_m + STAND_LEFT, result.root_m + STAND_RIGHT])
        if i > 0:
            assert result.contacts == {"Left": True, "Right": True}
    feet_world = np.array(feet_world)
    assert np.abs(feet_world - feet_world[0]).max() < 1e-9  # locked: no sliding at all
    assert feet_world[0, 0, 1] == pytest.approx(0.06)  # ankles at their rest height: feet on the floor


def test_a_step_keeps_the_standing_foot_locked_and_plants_the_other():
    solver = RootMotionSolver()
    left_world = []
    contacts = []
    hips_z = 0.0
    right_world_z = 0.0
    for i in range(75):
        t = i / FPS
        if 15 <= i < 45:  # the body moves 0.3 m forward while the right foot swings 0.6 m
            u = (i - 15) / 30
            hips_z = 0.3 * u
            right_world_z = 0.6 * u
            lift = 0.12 * math.sin(math.pi * u)
        else:
            lift = 0.0
        left_rel = STAND_LEFT + [0.0, 0.0, -hips_z]  # left foot stays where it is in the world
        right_rel = STAND_RIGHT + [0.0, lift, right_world_z - hips_z]
        result = solver.update(t, np.array([0.0, 0.0, hips_z]), _feet(left_rel, right_rel), BOTH)
        left_world.append(result.root_m + left_rel)
        contacts.append(dict(result.contacts))
    left_world = np.array(left_world)
    assert np.abs(left_world - left_world[1]).max() < 1e-6
    assert all(c["Left"] for c in contacts[1:])
    assert not any(c["Right"] for c in contacts[20:40])  # swinging: not planted
    assert contacts[-1]["Right"]  # landed: planted again
    final_right = result.root_m + right_rel
    assert final_right[1] == pytest.approx(0.06, abs=1e-6)  # on the floor
    assert final_right[2] == pytest.approx(right_world_z, abs=0.01)
    assert result.root_m[2] == pytest.approx(hips_z, abs=0.01)


def test_feet_neither_float_nor_sink():
    solver = RootMotionSolver(RootMotionSettings(contact_speed_m_s=0.35))
    # camera says the hips are 4 cm too high while the feet are still: the planted foot lands on the floor
    result = None
    for i in range(5):
        result = solver.update(i / FPS, np.array([0.0, 0.04, 0.0]) if i else np.zeros(3), _feet(STAND_LEFT, STAND_RIGHT), BOTH)
    assert result is not None and result.contacts["Left"]
    assert result.root_m[1] + STAND_LEFT[1] == pytest.approx(0.06, abs=1e-9)
    # a crouch (feet relatively higher, camera lower): the root goes down with the feet kept on the floor
    crouch = _feet(STAND_LEFT + [0, 0.2, 0], STAND_RIGHT + [0, 0.2, 0])
    for i in range(5, 40):
        result = solver.update(i / FPS, np.array([0.0, -0.35, 0.0]), crouch, BOTH)
    assert result.root_m[1] + crouch["Left"][0][1] >= 0.06 - 1e-9  # never below the floor
    assert result.root_m[1] == pytest.approx(0.75, abs=0.01)


def test_tracker_places_a_standing_performer_on_the_floor_and_keeps_still():
    rng = np.random.default_rng(5)
    pose = _standing_pose()
    world = reference_landmarks(pose)
    tracker = MarkerlessBodyTracker("p", MarkerlessBodySettings())
    roots = []
    for i in range(45):
        noisy = world + rng.normal(scale=0.004, size=world.shape)  # 4 mm landmark noise
        image = _project(world, np.array([0.0, 0.1, 3.0])) + rng.normal(scale=1.0, size=(33, 2))
        frame = tracker.update(BodyLandmarks(noisy, image, np.ones(33), (WIDTH, HEIGHT)), i / FPS)
        roots.append(frame.pose.root_position_m)
        frame.pose.validate()
    assert frame.contacts == {"Left": True, "Right": True}
    roots = np.array(roots)
    assert np.abs(roots[15:] - roots[15]).max() < 0.01  # no sliding under landmark and camera noise
    fk = forward_kinematics(frame.pose)
    lowest = min(fk["LeftToes"][0][1], fk["RightToes"][0][1], fk["LeftFoot"][0][1], fk["RightFoot"][0][1])
    assert lowest == pytest.approx(0.0, abs=0.01)  # standing on the floor, not floating
    assert fk["Head"][0][1] > fk["Hips"][0][1] + 0.3


def test_settings_are_checked():
    with pytest.raises(ValueError, match="contact limits"):
        RootMotionSettings(contact_height_m=0.0)
    with pytest.raises(ValueError, match="fov_deg"):
        RootMotionSettings(fov_deg=5.0)
