"""Head frame, measurements and blendshape formulas on constructed meshes (no model needed)."""

from __future__ import annotations

import numpy as np
import pytest

from mocap import quaternion as quat
from mocap.face_capture.blendshapes import (
    ARKIT_BLENDSHAPE_NAMES,
    DEFAULT_NEUTRAL,
    EYE_CLOSED_OPEN_RATIO,
    MEASUREMENT_NAMES,
    FaceCalibration,
    blendshapes_from_measurements,
    measure_face,
)
from mocap.face_capture.face_tracker import (
    FaceCaptureSettings,
    FaceFrame,
    FaceTracker,
    merge_face_into_body,
    split_head_turn,
)
from mocap.face_capture.head_pose import (
    SYMMETRIC_RIGID_PAIRS,
    UP_BOTTOM_POINT,
    UP_TOP_POINTS,
    head_euler_deg,
    head_pose_from_mesh,
)
from mocap.live_link_face import ARKIT_BLENDSHAPES
from mocap.markerless.landmarks import canonical_to_mediapipe
from mocap.skeleton import forward_kinematics, t_pose


def _upright_mesh(seed: int = 0) -> np.ndarray:
    """A (478, 3) mesh in MediaPipe pixel axes whose rigid frame is exactly upright and frontal."""
    rng = np.random.default_rng(seed)
    canonical = rng.uniform(-50.0, 50.0, size=(478, 3))
    for right, left in SYMMETRIC_RIGID_PAIRS:
        canonical[left] = canonical[right] * [-1.0, 1.0, 1.0]
        canonical[right, 0] = abs(canonical[right, 0]) + 5.0
        canonical[left, 0] = -canonical[right, 0]
    for index in (*UP_TOP_POINTS, UP_BOTTOM_POINT):
        canonical[index, 0] = 0.0
    canonical[list(UP_TOP_POINTS), 1] = [30.0, 40.0, 50.0]
    canonical[list(UP_TOP_POINTS), 2] = 10.0
    canonical[UP_BOTTOM_POINT] = [0.0, -20.0, 10.0]
    return canonical_to_mediapipe(canonical) + [320.0, 240.0, 0.0]


def _rotate_mesh(mesh: np.ndarray, rotation: np.ndarray, scale: float = 1.0, shift=(0.0, 0.0, 0.0)) -> np.ndarray:
    centre = mesh.mean(axis=0)
    return (mesh - centre) @ quat.to_matrix(rotation).T * scale + centre + np.asarray(shift)


def test_upright_mesh_reads_as_identity():
    head = head_pose_from_mesh(_upright_mesh())
    assert quat.angle_between_deg(head.rotation, quat.IDENTITY) < 1e-9


@pytest.mark.parametrize("seed", range(5))
def test_head_rotation_follows_any_rigid_turn(seed):
    rng = np.random.default_rng(seed)
    turn = quat.from_axis_angle(rng.normal(size=3), np.radians(rng.uniform(5, 60)))
    # negating every axis (MediaPipe -> canonical) leaves a rotation matrix unchanged
    head = head_pose_from_mesh(_rotate_mesh(_upright_mesh(seed), turn, scale=1.7, shift=(40, -10, 5)))
    assert quat.angle_between_deg(head.rotation, turn) < 1e-6


@pytest.mark.parametrize("picture_deg", [20.0, -20.0])
def test_picture_rotation_is_head_roll_with_the_documented_sign(picture_deg):
    """A picture turned counter-clockwise on screen (OpenCV's positive angle, y down) tilts the head
    clockwise as the camera sees it: roll towards the performer's right shoulder, negative."""
    mesh = _upright_mesh()
    a = np.radians(picture_deg)
    rotation_2d = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])  # cv2.getRotationMatrix2D
    turned = mesh.copy()
    centre = mesh[:, :2].mean(axis=0)
    turned[:, :2] = (mesh[:, :2] - centre) @ rotation_2d.T + centre
    yaw, pitch, roll = head_euler_deg(head_pose_from_mesh(turned).rotation)
    assert roll == pytest.approx(-picture_deg, abs=1e-6)
    assert abs(yaw) < 1e-6 and abs(pitch) < 1e-6


def test_measurements_do_not_change_with_head_turn_scale_or_position():
    mesh = _upright_mesh(3)
    base = measure_face(mesh)
    turned = measure_face(_rotate_mesh(mesh, quat.from_euler_deg(np.array([25.0, -10.0, 15.0]), "YXZ"), 0.6, (80, 30, 0)))
    assert set(base) == set(MEASUREMENT_NAMES)
    for name in MEASUREMENT_NAMES:
        assert turned[name] == pytest.approx(base[name], abs=1e-9), name


def test_neutral_face_gives_zero_coefficients_for_all_52():
    shapes = blendshapes_from_measurements(dict(DEFAULT_NEUTRAL))
    assert tuple(shapes) == ARKIT_BLENDSHAPE_NAMES == ARKIT_BLENDSHAPES
    assert all(value == 0.0 for value in shapes.values())


def test_formulas_move_the_right_coefficients_on_the_right_side():
    def shapes(**changes):
        m = dict(DEFAULT_NEUTRAL)
        m.update(changes)
        return blendshapes_from_measurements(m)

    closed = shapes(eye_open_R=EYE_CLOSED_OPEN_RATIO)
    assert closed["eyeBlinkRight"] == pytest.approx(1.0) and closed["eyeBlinkLeft"] == 0.0
    half = shapes(eye_open_L=0.5 * (DEFAULT_NEUTRAL["eye_open_L"] + EYE_CLOSED_OPEN_RATIO))
    assert half["eyeBlinkLeft"] == pytest.approx(0.5)
    jaw = [shapes(jaw_drop=DEFAULT_NEUTRAL["jaw_drop"] + d, lip_gap=d)["jawOpen"] for d in (0.0, 0.1, 0.2, 0.3)]
    assert jaw == sorted(jaw) and jaw[0] == 0.0 and jaw[-1] > 0.8
    closed_lips = shapes(jaw_drop=DEFAULT_NEUTRAL["jaw_drop"] + 0.2)
    assert closed_lips["mouthClose"] > 0.5  # jaw down, lips together
    smile = shapes(corner_L=0.06)
    assert smile["mouthSmileLeft"] > 0.7 and smile["mouthSmileRight"] == 0.0 and smile["mouthFrownLeft"] == 0.0
    frown = shapes(corner_R=-0.05)
    assert frown["mouthFrownRight"] > 0.8 and frown["mouthSmileRight"] == 0.0
    brows = shapes(brow_inner_R=DEFAULT_NEUTRAL["brow_inner_R"] + 0.07, brow_inner_L=DEFAULT_NEUTRAL["brow_inner_L"] + 0.07)
    assert brows["browInnerUp"] == pytest.approx(1.0)
    down = shapes(brow_inner_L=DEFAULT_NEUTRAL["brow_inner_L"] - 0.05)
    assert down["browDownLeft"] == pytest.approx(1.0) and down["browDownRight"] == 0.0
    outer = shapes(brow_outer_R=DEFAULT_NEUTRAL["brow_outer_R"] + 0.035)
    assert outer["browOuterUpRight"] == pytest.approx(0.5)
    pucker = shapes(mouth_width=0.75 * DEFAULT_NEUTRAL["mouth_width"])
    assert pucker["mouthPucker"] > 0.7 and pucker["mouthFunnel"] == 0.0
    funnel = shapes(mouth_width=0.75 * DEFAULT_NEUTRAL["mouth_width"], lip_gap=0.2)
    assert funnel["mouthFunnel"] > 0.7 and funnel["mouthPucker"] < 0.1
    look = shapes(iris_h_R=DEFAULT_NEUTRAL["iris_h_R"] + 0.18, iris_h_L=DEFAULT_NEUTRAL["iris_h_L"] - 0.18)
    assert look["eyeLookOutRight"] == pytest.approx(1.0) and look["eyeLookInLeft"] == pytest.approx(1.0)
    assert all(0.0 <= v <= 1.0 for v in shapes(eye_open_R=-5.0, jaw_drop=9.0, corner_L=float("nan")).values())


def test_calibration_takes_the_median_and_names_what_is_missing():
    frames = [dict(DEFAULT_NEUTRAL, jaw_drop=v) for v in (0.70, 0.72, 0.99)]
    assert FaceCalibration.from_measurements(frames).neutral["jaw_drop"] == pytest.approx(0.72)
    with pytest.raises(ValueError, match="at least one"):
        FaceCalibration.from_measurements([])
    incomplete = dict(DEFAULT_NEUTRAL)
    del incomplete["lip_gap"]
    with pytest.raises(ValueError, match="lip_gap"):
        FaceCalibration(incomplete)
    with pytest.raises(ValueError, match=r"\(478, 3\)"):
        head_pose_from_mesh(np.zeros((468, 3)))


def test_tracker_calibration_removes_the_performers_offsets():
    pitched = quat.from_euler_deg(np.array([0.0, 12.0, 0.0]), "YXZ")  # camera above the screen
    mesh = _rotate_mesh(_upright_mesh(4), pitched)
    tracker = FaceTracker("f", FaceCaptureSettings(blendshape_smoothing=None, head_smoothing=None))
    tracker.begin_calibration(3)
    for i in range(3):
        tracker.update(mesh, i / 30.0)
    assert not tracker.calibrating
    frame = tracker.update(mesh, 0.1)
    assert quat.angle_between_deg(frame.head_rotation, quat.IDENTITY) < 1e-6
    assert max(frame.blendshapes.values()) < 1e-9
    turned = tracker.update(_rotate_mesh(mesh, quat.from_euler_deg(np.array([20.0, 0.0, 0.0]), "YXZ")), 0.2)
    assert turned.head_euler_deg[0] == pytest.approx(20.0, abs=0.5)
    lost = tracker.update(None, 0.3)
    assert not lost.found and lost.blendshapes == turned.blendshapes


def test_face_pose_splits_the_turn_over_neck_and_head():
    tracker = FaceTracker("f", FaceCaptureSettings(blendshape_smoothing=None, head_smoothing=None, neck_share=0.4))
    turn = quat.from_euler_deg(np.array([30.0, -10.0, 5.0]), "YXZ")
    frame = tracker.update(_rotate_mesh(_upright_mesh(), turn), 0.0)
    pose = tracker.face_pose(frame)
    pose.validate()
    combined = quat.multiply(pose.rotation("Neck"), pose.rotation("Head"))
    assert quat.angle_between_deg(combined, turn) < 1e-6
    assert quat.angle_between_deg(pose.rotation("Neck"), quat.IDENTITY) == pytest.approx(
        0.4 * quat.angle_between_deg(turn, quat.IDENTITY), abs=1e-6
    )
    assert set(pose.blendshapes) == set(ARKIT_BLENDSHAPES)
    parts = split_head_turn(turn, 0.0)
    assert quat.angle_between_deg(parts["Neck"], quat.IDENTITY) < 1e-9


def test_merge_puts_the_face_head_turn_on_a_leaning_body():
    body = t_pose("actor", source="markerless")
    body.bone_rotations["Hips"] = quat.from_euler_deg(np.array([0.0, 15.0, 0.0]), "YXZ")
    body.bone_rotations["Chest"] = quat.from_euler_deg(np.array([25.0, 0.0, 0.0]), "YXZ")
    head_world = quat.from_euler_deg(np.array([-10.0, 5.0, 8.0]), "YXZ")
    face = FaceFrame(True, 0.0, 1, dict.fromkeys(ARKIT_BLENDSHAPES, 0.25), head_world, head_euler_deg(head_world))
    merged = merge_face_into_body(body, face)
    merged.validate()
    assert quat.angle_between_deg(forward_kinematics(merged)["Head"][1], head_world) < 1e-6
    assert merged.blendshapes["jawOpen"] == 0.25 and merged.source == "markerless+face_capture"
    assert quat.angle_between_deg(merged.rotation("Chest"), body.rotation("Chest")) < 1e-12


def test_visemes_pick_the_vowel_of_the_mouth_shape():
    from mocap.face_capture.blendshapes import VRM_VISEMES, visemes_from_blendshapes

    def top(**shapes):
        visemes = visemes_from_blendshapes(shapes)
        assert set(visemes) == set(VRM_VISEMES)
        assert all(0.0 <= v <= 1.0 for v in visemes.values())
        return max(visemes, key=visemes.get)

    assert top(jawOpen=0.8) == "aa"
    assert top(jawOpen=0.4, mouthFunnel=0.8) == "oh"
    assert top(mouthPucker=0.9) == "ou"
    assert top(jawOpen=0.35, mouthStretchLeft=0.8, mouthStretchRight=0.8) == "ee"
    assert top(mouthStretchLeft=0.6, mouthStretchRight=0.6, jawOpen=0.05) == "ih"
    assert max(visemes_from_blendshapes({}).values()) == 0.0
