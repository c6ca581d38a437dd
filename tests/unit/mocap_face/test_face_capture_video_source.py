"""`WebcamFaceSource` on a video file: the astronaut portrait turning in the picture plane."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mediapipe")

import cv2  # noqa: E402
import skimage.data  # noqa: E402

from mocap import quaternion as quat  # noqa: E402
from mocap.face_capture.head_pose import head_euler_deg  # noqa: E402
from mocap.face_capture.webcam_face_source import WebcamFaceSource  # noqa: E402
from mocap.live_link_face import ARKIT_BLENDSHAPES  # noqa: E402
from mocap.source import MocapSource  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:SymbolDatabase.GetPrototype")

FRAMES = 24
TURN_DEG = 15.0
ROLL_TOLERANCE_DEG = 6.0  # includes the One-Euro filter's lag at 45 degrees per second


@pytest.fixture(scope="module")
def turning_clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("face") / "turning_face.avi"
    photo = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (640, 480))
    angles = []
    for i in range(FRAMES):
        angle = -TURN_DEG + 2 * TURN_DEG * i / (FRAMES - 1)
        matrix = cv2.getRotationMatrix2D((220.0, 130.0), angle, 1.0)
        matrix[:, 2] += (320 - 220, 200 - 130)  # face near the middle of a 640x480 frame
        writer.write(cv2.warpAffine(photo, matrix, (640, 480), borderMode=cv2.BORDER_REFLECT))
        angles.append(angle)
    writer.release()
    return path, np.array(angles)


def test_face_source_follows_the_head_roll_through_a_video(turning_clip):
    path, angles = turning_clip
    source = WebcamFaceSource(path, performer_id="face-actor")
    assert isinstance(source, MocapSource)
    stream = source.poses(timeout_s=30.0)
    source.start()
    poses = list(stream)
    source.stop()
    assert len(poses) == FRAMES
    rolls = []
    for pose in poses:
        pose.validate()
        assert pose.performer_id == "face-actor" and pose.source == "face_capture"
        assert set(pose.blendshapes) == set(ARKIT_BLENDSHAPES)
        assert {"Neck", "Head", "LeftEye", "RightEye"} <= set(pose.bone_rotations)
        head_turn = quat.multiply(pose.rotation("Neck"), pose.rotation("Head"))
        rolls.append(head_euler_deg(head_turn)[2])
    rolls = np.array(rolls)
    expected = rolls[FRAMES // 2] - (angles - angles[FRAMES // 2])
    assert np.abs(rolls[3:] - expected[3:]).max() < ROLL_TOLERANCE_DEG
    assert rolls[0] - rolls[-1] > 2 * TURN_DEG - 2 * ROLL_TOLERANCE_DEG
    assert source.stats().poses == FRAMES


def test_face_source_calibrates_on_its_first_frames(turning_clip):
    path, _ = turning_clip
    source = WebcamFaceSource(path, performer_id="calibrated", calibrate_frames=2)
    stream = source.poses(timeout_s=30.0)
    source.start()
    poses = list(stream)
    source.stop()
    assert len(poses) == FRAMES
    assert poses[0].blendshapes["mouthSmileLeft"] > 0.5  # before calibration: a broad smile
    # calibrated on her smiling face: from the third frame on the smile is her neutral
    assert max(p.blendshapes["mouthSmileLeft"] for p in poses[2:]) < 0.3


def test_face_source_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="calibrate_frames"):
        WebcamFaceSource(0, calibrate_frames=-1)
    with pytest.raises(FileNotFoundError, match="absent.avi"):
        WebcamFaceSource(tmp_path / "absent.avi").start()
