"""One-Euro smoothing and the confidence-aware hold."""

from __future__ import annotations

import numpy as np
import pytest

from mocap import quaternion as quat
from mocap.markerless.body_tracker import MarkerlessBodySettings, MarkerlessBodyTracker
from mocap.markerless.confidence_hold import ConfidenceHold, HoldSettings
from mocap.markerless.landmarks import POSE, BodyLandmarks, reference_landmarks
from mocap.markerless.one_euro import OneEuroFilter, OneEuroRotationFilter, OneEuroSettings
from mocap.skeleton import t_pose

FPS = 30.0


def test_one_euro_reduces_jitter_of_a_still_signal():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(33, 3))
    f = OneEuroFilter(OneEuroSettings(min_cutoff_hz=1.0, beta=0.5))
    raw = [truth + rng.normal(scale=0.01, size=truth.shape) for _ in range(120)]
    out = [f(x, i / FPS) for i, x in enumerate(raw)]
    raw_jitter = np.mean([np.abs(b - a).mean() for a, b in zip(raw[20:], raw[21:])])
    out_jitter = np.mean([np.abs(b - a).mean() for a, b in zip(out[20:], out[21:])])
    assert out_jitter < 0.3 * raw_jitter
    assert np.abs(out[-1] - truth).mean() < 0.01  # no bias


def test_one_euro_beta_cuts_the_lag_of_fast_motion():
    ramp = [np.array([[2.0 * i / FPS, 0.0, 0.0]]) for i in range(60)]  # 2 units per second
    slow = OneEuroFilter(OneEuroSettings(min_cutoff_hz=1.0, beta=0.0))
    fast = OneEuroFilter(OneEuroSettings(min_cutoff_hz=1.0, beta=5.0))
    lag_slow = [x[0, 0] - slow(x, i / FPS)[0, 0] for i, x in enumerate(ramp)][-1]
    lag_fast = [x[0, 0] - fast(x, i / FPS)[0, 0] for i, x in enumerate(ramp)][-1]
    assert lag_fast < 0.25 * lag_slow
    assert lag_fast < 0.05


def test_one_euro_rows_have_their_own_cutoff():
    """A landmark that moves must not make a still one follow the noise: per-row speeds."""
    f = OneEuroFilter(OneEuroSettings(min_cutoff_hz=1.0, beta=5.0))
    rng = np.random.default_rng(1)
    still_out = []
    for i in range(60):
        x = np.array([[3.0 * i / FPS, 0, 0], [0.0, 0.0, 0.0]])
        x[1] += rng.normal(scale=0.01, size=3)
        still_out.append(f(x, i / FPS)[1])
    assert np.std(np.diff(np.array(still_out[10:]), axis=0)) < 0.006


def test_one_euro_rotation_filter_stays_unit_and_handles_sign_flips():
    f = OneEuroRotationFilter(OneEuroSettings(min_cutoff_hz=1.0, beta=0.1))
    target = quat.from_axis_angle(np.array([0.0, 1.0, 0.0]), np.radians(30))
    out = None
    for i in range(90):
        q = target if i % 2 else -target  # the same rotation with alternating signs
        out = f(q, i / FPS)
        assert abs(np.linalg.norm(out) - 1.0) < 1e-9
    assert quat.angle_between_deg(out, target) < 1e-6


def test_one_euro_rejects_bad_settings_and_shapes():
    with pytest.raises(ValueError, match="min_cutoff_hz > 0"):
        OneEuroSettings(min_cutoff_hz=0.0)
    with pytest.raises(ValueError, match="beta >= 0"):
        OneEuroSettings(beta=-1.0)
    with pytest.raises(ValueError, match="quaternion"):
        OneEuroRotationFilter()(np.zeros(3), 0.0)


def test_hold_keeps_the_last_good_rotation_and_decays_confidence():
    hold = ConfidenceHold(HoldSettings(threshold=0.5, half_life_s=0.5, relax_after_s=None))
    good = quat.from_axis_angle(np.array([0.0, 0.0, 1.0]), 0.7)
    rotation, confidence = hold.update("LeftLowerArm", good, 0.9, 0.0)
    assert confidence == pytest.approx(0.9) and quat.angle_between_deg(rotation, good) < 1e-9
    noisy = quat.from_axis_angle(np.array([1.0, 0.0, 0.0]), 1.0)
    rotation, confidence = hold.update("LeftLowerArm", noisy, 0.2, 0.5)  # lost: held
    assert quat.angle_between_deg(rotation, good) < 1e-9
    assert confidence == pytest.approx(0.45)  # one half-life
    rotation, confidence = hold.update("LeftLowerArm", None, 0.0, 1.0)
    assert confidence == pytest.approx(0.225)
    assert hold.is_held("LeftLowerArm")
    # hysteresis: 0.55 is above the threshold but below threshold + hysteresis: still held
    rotation, _ = hold.update("LeftLowerArm", noisy, 0.55, 1.1)
    assert quat.angle_between_deg(rotation, good) < 1e-9
    rotation, confidence = hold.update("LeftLowerArm", noisy, 0.7, 1.2)
    assert quat.angle_between_deg(rotation, noisy) < 1e-9 and confidence == pytest.approx(0.7)


def test_hold_relaxes_to_rest_after_a_long_loss_and_starts_at_rest():
    hold = ConfidenceHold(HoldSettings(relax_after_s=1.0, relax_duration_s=1.0))
    rotation, confidence = hold.update("LeftUpperArm", None, 0.0, 0.0)  # never seen: arm hangs down
    assert confidence == 0.0
    np.testing.assert_allclose(quat.rotate_vector(rotation, [-1.0, 0, 0])[1], -np.sin(np.radians(75)), atol=1e-9)
    up = quat.from_axis_angle(np.array([0.0, 0.0, 1.0]), np.radians(-80))  # left arm raised
    hold.update("LeftUpperArm", up, 1.0, 0.0)
    mid, _ = hold.update("LeftUpperArm", None, 0.0, 1.5)
    end, _ = hold.update("LeftUpperArm", None, 0.0, 2.5)
    assert 10.0 < quat.angle_between_deg(mid, up) < quat.angle_between_deg(end, up)
    assert quat.angle_between_deg(end, hold.rest("LeftUpperArm")) < 1e-6


def test_tracker_holds_a_lost_arm_and_reports_it_in_confidence():
    pose = t_pose("p")
    pose.bone_rotations["LeftUpperArm"] = quat.from_axis_angle(np.array([0.0, 0.0, 1.0]), np.radians(40))
    points = reference_landmarks(pose)
    tracker = MarkerlessBodyTracker("p", MarkerlessBodySettings(landmark_smoothing=None, root_smoothing=None))
    seen = BodyLandmarks(points, np.zeros((33, 2)), np.ones(33), (640, 480))
    first = tracker.update(seen, 0.0).pose
    assert first.confidence["LeftUpperArm"] == pytest.approx(1.0)
    moved = points.copy()
    moved[POSE["left_elbow"]] = points[POSE["left_shoulder"]] + [0.0, 0.28, 0.0]  # garbage elbow
    vis = np.ones(33)
    vis[POSE["left_elbow"]] = 0.1
    later = [tracker.update(BodyLandmarks(moved, np.zeros((33, 2)), vis, (640, 480)), t).pose for t in (0.5, 1.0)]
    for frame in later:
        assert quat.angle_between_deg(frame.rotation("LeftUpperArm"), first.rotation("LeftUpperArm")) < 1e-6
    assert later[0].confidence["LeftUpperArm"] == pytest.approx(0.5, abs=1e-6)
    assert later[1].confidence["LeftUpperArm"] == pytest.approx(0.25, abs=1e-6)
    assert later[1].confidence["RightUpperArm"] == pytest.approx(1.0)
    lost = tracker.update(None, 1.5)  # nobody in view: everything held, nothing crashes
    assert not lost.found
    assert lost.pose.confidence["Hips"] == pytest.approx(0.5)  # last seen 0.5 s (one half-life) ago
    lost.pose.validate()
