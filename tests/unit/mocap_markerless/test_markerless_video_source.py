"""`WebcamPoseSource` on a real video file: a CC0 photo of a man moved and scaled over the frames,
written with cv2.VideoWriter and read back through the source."""

from __future__ import annotations

import threading

import numpy as np
import pytest

pytest.importorskip("mediapipe")

import cv2  # noqa: E402
import skimage.data  # noqa: E402

from mocap import quaternion as quat  # noqa: E402
from mocap.markerless.body_tracker import MarkerlessBodySettings  # noqa: E402
from mocap.markerless.video_capture import FrameReader  # noqa: E402
from mocap.markerless.webcam_source import WebcamPoseSource  # noqa: E402
from mocap.pose_wire import pose_from_wire, pose_to_wire  # noqa: E402
from mocap.source import MocapSource  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:SymbolDatabase.GetPrototype")

FRAMES = 30
FPS = 30.0
SMOOTHED_MEAN_JITTER_BOUND_DEG = 1.5
SMOOTHED_P95_JITTER_BOUND_DEG = 5.0
SMOOTHING_GAIN = 0.5  # smoothed mean jitter must be under half the unsmoothed one
PICTURE_SHIFT_PX = 40.0


def _write_video(path) -> list[float]:
    """A clip of the photo drifting sideways and breathing in scale; returns each frame's x shift."""
    photo = cv2.cvtColor(skimage.data.camera(), cv2.COLOR_GRAY2BGR)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (640, 480))
    assert writer.isOpened()
    shifts = []
    for i in range(FRAMES):
        phase = 2 * np.pi * i / FRAMES
        scale = 0.85 + 0.06 * np.sin(phase)
        shift = PICTURE_SHIFT_PX * np.sin(phase)
        matrix = np.array([[scale, 0, 320 + shift - 256 * scale], [0, scale, 250 - 256 * scale]], np.float32)
        writer.write(cv2.warpAffine(photo, matrix, (640, 480), borderValue=(128, 128, 128)))
        shifts.append(shift)
    writer.release()
    return shifts


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    path = tmp_path_factory.mktemp("markerless") / "moving_photo.avi"
    shifts = _write_video(path)
    return path, shifts


def _capture_all(path, settings: MarkerlessBodySettings):
    """Every published pose, and the index of the video frame each came from (read on the capture thread)."""
    source = WebcamPoseSource(path, performer_id="actor", settings=settings)
    frame_indices = []
    source.add_listener(lambda pose: frame_indices.append(source.last_captured.index))
    stream = source.poses(timeout_s=30.0)
    source.start()
    poses = list(stream)
    assert source.finished.wait(10.0)
    source.stop()
    return source, poses, frame_indices


def _jitter_deg(poses) -> np.ndarray:
    """Frame-to-frame rotation change of every bone confidently seen in both frames."""
    steps = []
    for a, b in zip(poses, poses[1:]):
        for bone, rotation in b.bone_rotations.items():
            if a.confidence.get(bone, 0.0) >= 0.5 and b.confidence.get(bone, 0.0) >= 0.5:
                steps.append(quat.angle_between_deg(a.bone_rotations[bone], rotation))
    return np.array(steps)


@pytest.fixture(scope="module")
def runs(video):
    path, _ = video
    smoothed = _capture_all(path, MarkerlessBodySettings())
    raw = _capture_all(path, MarkerlessBodySettings(landmark_smoothing=None, root_smoothing=None))
    return smoothed, raw


def test_video_source_is_a_mocap_source_and_delivers_every_frame(runs):
    (source, poses, frame_indices), _ = runs
    assert isinstance(source, MocapSource)
    # MediaPipe's detector may miss the odd frame (here the first, before tracking starts)
    assert len(poses) >= FRAMES - 2 and len(frame_indices) == len(poses)
    stats = source.stats()
    assert stats.inputs == FRAMES and stats.rejected == 0
    assert stats.poses + stats.skipped == FRAMES
    assert stats.performers["actor"].poses == len(poses)
    assert all(p.performer_id == "actor" and p.source == "markerless" for p in poses)
    assert [p.timestamp_ns for p in poses] == sorted(p.timestamp_ns for p in poses)
    for pose in poses:
        pose.validate()
    assert source.last_process_ms > 0.0
    # the poses travel as MOCAP messages unchanged (float32 on the wire)
    back = pose_from_wire(*pose_to_wire(poses[-1]))
    assert set(back.bone_rotations) == set(poses[-1].bone_rotations)
    for bone, rotation in poses[-1].bone_rotations.items():
        np.testing.assert_allclose(back.bone_rotations[bone], rotation, atol=1e-6)
        assert back.confidence[bone] == pytest.approx(poses[-1].confidence[bone], abs=1e-6)


def test_smoothing_holds_rotation_jitter_under_the_bound(runs):
    (_, smoothed, _), (_, raw, _) = runs
    smoothed_jitter = _jitter_deg(smoothed)
    raw_jitter = _jitter_deg(raw)
    assert smoothed_jitter.size > 10 * (FRAMES - 3)  # many confident bones were compared
    assert smoothed_jitter.mean() < SMOOTHED_MEAN_JITTER_BOUND_DEG
    assert np.percentile(smoothed_jitter, 95) < SMOOTHED_P95_JITTER_BOUND_DEG
    assert smoothed_jitter.mean() < SMOOTHING_GAIN * raw_jitter.mean()


def test_root_follows_the_performer_across_the_picture(runs, video):
    (_, poses, frame_indices), _ = runs
    _, shifts = video
    root_x = np.array([p.root_position_m[0] for p in poses])
    # the photo moving to picture-right is the performer moving to his left: canonical -X
    correlation = np.corrcoef(np.array(shifts)[frame_indices], root_x)[0, 1]
    assert correlation < -0.8
    assert np.ptp(root_x) > 0.05


def test_looping_and_pacing_a_file(video):
    path, _ = video
    source = WebcamPoseSource(path, loop=True, pace=True)
    got = []
    done = threading.Event()

    def listener(pose):
        got.append(pose)
        if len(got) >= FRAMES + 5:
            done.set()

    source.add_listener(listener)
    source.start()
    try:
        assert done.wait(60.0), "the looped file stopped delivering"
    finally:
        source.stop()
    assert source.frames_read >= FRAMES + 5


def test_a_performer_who_leaves_is_held_for_a_while_then_dropped(tmp_path):
    """Person for 10 frames, then an empty backdrop for 45 frames (1.5 s at 30 fps): the held pose
    keeps coming with decaying confidence for ``lost_publish_s`` (1 s), then nothing."""
    path = tmp_path / "leaving.avi"
    photo = cv2.cvtColor(skimage.data.camera(), cv2.COLOR_GRAY2BGR)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (640, 480))
    person = cv2.copyMakeBorder(cv2.resize(photo, (440, 440)), 20, 20, 100, 100, cv2.BORDER_CONSTANT, value=(128,) * 3)
    for i in range(55):
        writer.write(person if i < 10 else np.full((480, 640, 3), 128, np.uint8))
    writer.release()
    source, poses, frame_indices = _capture_all(path, MarkerlessBodySettings())
    seen = [p for p, i in zip(poses, frame_indices) if i < 10]
    held = [(p, i) for p, i in zip(poses, frame_indices) if i >= 10]
    assert len(seen) >= 8
    assert held and max(i for _, i in held) <= 10 + FPS * 1.0 + 1  # no poses after the hold time
    assert min(i for _, i in held) == 10
    last_seen = seen[-1]
    for pose, index in held:
        assert pose.confidence["Head"] < last_seen.confidence["Head"]
        assert quat.angle_between_deg(pose.rotation("Head"), last_seen.rotation("Head")) < 1e-6
    assert held[-1][0].confidence["Head"] < 0.5 * last_seen.confidence["Head"]
    stats = source.stats()
    assert stats.skipped >= 55 - 10 - int(FPS) - 1 and "nobody found" in stats.last_skip_reason


def test_missing_or_broken_inputs_fail_with_the_cause(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing_here.mp4"):
        WebcamPoseSource(tmp_path / "nothing_here.mp4").start()
    broken = tmp_path / "broken.avi"
    broken.write_bytes(b"this is not a video" * 100)
    with pytest.raises(ValueError, match="cannot decode video file"):
        FrameReader(broken)
    with pytest.raises(ValueError, match="webcam index"):
        FrameReader(-1)
    with pytest.raises(ValueError, match="performer_id"):
        WebcamPoseSource(0, performer_id="")
