"""Markerless body capture on real photos of people (MediaPipe Pose, the model shipped in mediapipe).

Photos: scikit-image's ``camera`` (CC0, a man standing behind a tripod, visible from the head to
the thighs, hips in view) and ``astronaut`` (NASA, public domain, head and shoulders), and
matplotlib's ``grace_hopper.jpg`` (US Navy, public domain, head and shoulders). No full-body
photo (feet in view) ships in an installed package, so feet and contacts on real pictures are
not covered here; they are tested on landmark sets in test_markerless_root_motion.py.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mediapipe")

import cv2  # noqa: E402
import matplotlib.cbook  # noqa: E402
import skimage.data  # noqa: E402
from PIL import Image  # noqa: E402

from mocap import quaternion as quat  # noqa: E402
from mocap.markerless.body_tracker import MarkerlessBodyCapture, MarkerlessBodySettings  # noqa: E402
from mocap.markerless.landmarks import POSE  # noqa: E402
from mocap.markerless.mediapipe_runtime import MediaPipePose  # noqa: E402
from mocap.skeleton import forward_kinematics  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:SymbolDatabase.GetPrototype")

ARM_DIRECTION_TOLERANCE_DEG = 25.0


def _camera_man() -> np.ndarray:
    return cv2.cvtColor(skimage.data.camera(), cv2.COLOR_GRAY2RGB)


def _grace_hopper() -> np.ndarray:
    with Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")) as image:
        return np.array(image.convert("RGB"))


@pytest.fixture(scope="module")
def capture():
    with MarkerlessBodyCapture("photo", MarkerlessBodySettings(), video=False) as c:
        yield c


def _track(capture: MarkerlessBodyCapture, rgb: np.ndarray):
    capture.tracker.reset()
    frame = capture.process(rgb, 0.0)
    assert frame.found, "MediaPipe found nobody in the photo"
    frame.pose.validate()
    return frame


def _picture_angle_deg(frame, bone: str, child: str, start: str, end: str) -> float:
    """Angle between a bone of the solved skeleton, seen from the camera, and the landmarks' picture direction."""
    world = forward_kinematics(frame.pose)
    bone_dir = world[child][0] - world[bone][0]
    in_picture = np.array([-bone_dir[0], -bone_dir[1]])  # canonical -> picture (x right, y down)
    landmarks = frame.landmarks.image_px[POSE[end]] - frame.landmarks.image_px[POSE[start]]
    cosine = in_picture @ landmarks / (np.linalg.norm(in_picture) * np.linalg.norm(landmarks))
    return float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))))


def test_camera_man_skeleton_is_plausible(capture):
    frame = _track(capture, _camera_man())
    pose = frame.pose
    world = forward_kinematics(pose)
    assert pose.confidence["Hips"] > 0.8 and pose.confidence["Head"] > 0.8
    assert world["Head"][0][1] > world["Hips"][0][1] + 0.25  # head above hips
    assert world["Neck"][0][1] > world["Hips"][0][1]
    checked = 0
    for side in ("Left", "Right"):
        s = side.lower()
        for bone, child, a, b in (
            (f"{side}UpperArm", f"{side}LowerArm", f"{s}_shoulder", f"{s}_elbow"),
            (f"{side}LowerArm", f"{side}Hand", f"{s}_elbow", f"{s}_wrist"),
            (f"{side}UpperLeg", f"{side}LowerLeg", f"{s}_hip", f"{s}_knee"),
        ):
            if pose.confidence[bone] >= 0.5:
                assert _picture_angle_deg(frame, bone, child, a, b) < ARM_DIRECTION_TOLERANCE_DEG, bone
                checked += 1
    assert checked >= 4, "too few confident limbs to check"
    # he is turned towards picture-right (his left) in three-quarter view: his right shoulder is picture-left
    assert frame.landmarks.image_px[POSE["right_shoulder"], 0] < frame.landmarks.image_px[POSE["left_shoulder"], 0]
    right_hand = world["RightHand"][0]
    left_hand = world["LeftHand"][0]
    # both hands are raised to the camera in front of the chest: above the hips
    assert right_hand[1] > world["Hips"][0][1] and left_hand[1] > world["Hips"][0][1]


@pytest.mark.parametrize("photo", ["astronaut", "grace_hopper"])
def test_head_and_shoulder_portraits_track_what_is_visible(capture, photo):
    rgb = skimage.data.astronaut() if photo == "astronaut" else _grace_hopper()
    frame = _track(capture, rgb)
    pose = frame.pose
    for bone in ("UpperChest", "Neck", "Head"):
        assert pose.confidence[bone] > 0.9, bone
    world = forward_kinematics(pose)
    chest_right = quat.rotate_vector(world["UpperChest"][1], [1.0, 0.0, 0.0])
    assert chest_right[0] > 0.85  # a frontal portrait: shoulders across the picture
    head_forward = quat.rotate_vector(world["Head"][1], [0.0, 0.0, 1.0])
    assert head_forward[2] > 0.8  # looking at the camera
    # legs are out of the picture: never seen, so they stay at rest with confidence 0
    for bone in ("LeftUpperLeg", "RightUpperLeg", "LeftLowerLeg", "RightLowerLeg"):
        assert pose.confidence[bone] == 0.0
        assert quat.angle_between_deg(pose.rotation(bone), quat.IDENTITY) < 1e-9
    for side in ("Left", "Right"):
        s = side.lower()
        if pose.confidence[f"{side}UpperArm"] >= 0.5:
            angle = _picture_angle_deg(frame, f"{side}UpperArm", f"{side}LowerArm", f"{s}_shoulder", f"{s}_elbow")
            assert angle < ARM_DIRECTION_TOLERANCE_DEG


def test_mirrored_photo_swaps_the_performers_sides(capture):
    photo = _camera_man()
    direct = _track(capture, photo)
    mirrored = _track(capture, np.ascontiguousarray(photo[:, ::-1]))
    # in the mirror image the man faces the other way: his shoulders swap picture sides
    width = photo.shape[1]
    np.testing.assert_allclose(
        width - mirrored.landmarks.image_px[POSE["left_shoulder"], 0],
        direct.landmarks.image_px[POSE["right_shoulder"], 0],
        atol=25.0,
    )
    yaw_direct = quat.to_euler_deg(forward_kinematics(direct.pose)["UpperChest"][1], "YXZ")[0]
    yaw_mirrored = quat.to_euler_deg(forward_kinematics(mirrored.pose)["UpperChest"][1], "YXZ")[0]
    assert np.sign(yaw_direct) == -np.sign(yaw_mirrored)
    assert abs(yaw_direct) > 15.0


def test_fingers_setting_runs_mediapipe_hands_and_holds_unseen_fingers():
    with MarkerlessBodyCapture("hands", MarkerlessBodySettings(fingers=True), video=False) as with_hands:
        frame = with_hands.process(_camera_man(), 0.0)  # gloved hands on a camera: no hand is found
    assert frame.found
    assert frame.pose.confidence["LeftIndexProximal"] == 0.0
    assert quat.angle_between_deg(frame.pose.rotation("RightThumbDistal"), quat.IDENTITY) < 1e-9


def test_bad_frames_and_unshipped_models_fail_with_the_cause():
    with MediaPipePose(video=False) as pose:
        with pytest.raises(ValueError, match="RGB uint8 HxWx3"):
            pose.detect(np.zeros((480, 640), dtype=np.uint8))
        with pytest.raises(ValueError, match="RGB uint8 HxWx3"):
            pose.detect(np.zeros((480, 640, 3), dtype=np.float32))
        assert pose.detect(np.full((480, 640, 3), 90, dtype=np.uint8)) is None  # nobody: None, no crash
    with pytest.raises(FileNotFoundError, match="pose_landmark_lite.tflite"):
        MediaPipePose(model_complexity=0)  # not shipped: would be downloaded, which is refused
    with pytest.raises(ValueError, match="model_complexity"):
        MediaPipePose(model_complexity=5)


def test_benchmark_reports_every_figure_beside_its_baseline():
    """The benchmark runs end to end (figures only; no timing is asserted)."""
    from mocap.markerless.benchmark import measure_markerless_costs, measure_webcam_pose_ms

    figures = measure_markerless_costs(frames=4, warmup=1)
    for key in ("webcam_pose_ms", "mediapipe_pose_ms", "pose_conversion_ms", "face_capture_ms",
                "mediapipe_face_mesh_ms", "face_conversion_ms"):  # fmt: skip
        assert isinstance(figures[key], float) and figures[key] > 0.0, key
    assert figures["face_frames_found"] >= 1 and figures["body_frames_found"] >= 1
    assert set(measure_webcam_pose_ms(frames=1, warmup=0)) >= {"webcam_pose_ms", "mediapipe_pose_ms"}
