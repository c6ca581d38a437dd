"""Face capture on real portraits (MediaPipe face mesh with iris, shipped in mediapipe), and on
real-image variants: the photo turned in the picture plane, the mouth warped open, the lower face
stretched.

Portraits: scikit-image's ``astronaut`` (NASA, public domain: eyes open, broad smile, teeth
showing, jaw nearly closed) and matplotlib's ``grace_hopper.jpg`` (US Navy, public domain: eyes
open, mouth closed, near neutral).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mediapipe")

import cv2  # noqa: E402
import matplotlib.cbook  # noqa: E402
import skimage.data  # noqa: E402
from PIL import Image  # noqa: E402

from mocap.face_capture.face_tracker import FaceCapture, FaceCaptureSettings, FaceTracker  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:SymbolDatabase.GetPrototype")

FRONTAL_TOLERANCE_DEG = 12.0
ROLL_TOLERANCE_DEG = 5.0
PHOTOS = ("astronaut", "grace_hopper")


def _photo(name: str) -> np.ndarray:
    if name == "astronaut":
        return skimage.data.astronaut()
    with Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")) as image:
        return np.array(image.convert("RGB"))


@pytest.fixture(scope="module")
def capture():
    settings = FaceCaptureSettings(blendshape_smoothing=None, head_smoothing=None)
    with FaceCapture("portrait", settings, video=False) as c:
        yield c


@pytest.fixture(scope="module")
def baseline(capture):
    return {name: capture.process(_photo(name), 0.0) for name in PHOTOS}


def _rotate(rgb: np.ndarray, centre, degrees: float) -> np.ndarray:
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), degrees, 1.0)
    return cv2.warpAffine(rgb, matrix, (rgb.shape[1], rgb.shape[0]), borderMode=cv2.BORDER_REFLECT)


def _open_mouth(rgb: np.ndarray, mesh: np.ndarray, opening: float) -> np.ndarray:
    """Pull everything below the lips down by ``opening`` eye distances across the face's width and
    paint the gap as a dark mouth cavity: a real picture of a face with its mouth opened."""
    height, width = rgb.shape[:2]
    eye_distance = float(np.linalg.norm(mesh[33, :2] - mesh[263, :2]))
    drop = opening * eye_distance
    lip_y = 0.5 * float(mesh[13, 1] + mesh[14, 1])
    face_centre = 0.5 * float(mesh[234, 0] + mesh[454, 0])
    face_half_width = 0.5 * float(mesh[454, 0] - mesh[234, 0])
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    weight = np.clip(1.6 - np.abs(xs - face_centre) / face_half_width, 0.0, 1.0)
    source_y = np.where(ys > lip_y, ys - drop * weight, ys).astype(np.float32)
    out = cv2.remap(rgb, xs, source_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    corners_half = 0.5 * float(mesh[291, 0] - mesh[61, 0])
    centre = (int(0.5 * (mesh[61, 0] + mesh[291, 0])), int(lip_y + drop / 2))
    cv2.ellipse(out, centre, (int(0.9 * corners_half), max(1, int(drop / 2))), 0, 0, 360, (60, 20, 25), -1)
    return out


def _stretch_lower_face(rgb: np.ndarray, mesh: np.ndarray, factor: float) -> np.ndarray:
    """Stretch the face below the lips vertically by ``1 + factor`` (a longer, dropped jaw)."""
    height, width = rgb.shape[:2]
    lip_y = float(mesh[13, 1])
    span = float(mesh[152, 1]) - lip_y
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    source_y = np.where(ys > lip_y, lip_y + (ys - lip_y) / (1.0 + factor), ys)
    source_y = np.where(ys > lip_y + span * (1.0 + factor), ys - span * factor, source_y)
    face_centre = 0.5 * float(mesh[234, 0] + mesh[454, 0])
    face_half_width = 0.5 * float(mesh[454, 0] - mesh[234, 0])
    weight = np.clip(1.5 - np.abs(xs - face_centre) / face_half_width, 0.0, 1.0)
    source_y = (ys + (source_y - ys) * weight).astype(np.float32)
    return cv2.remap(rgb, xs, source_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


@pytest.mark.parametrize("name", PHOTOS)
def test_portrait_is_found_frontal_eyes_open_jaw_closed(baseline, name):
    frame = baseline[name]
    assert frame.found and frame.mesh_px is not None and frame.mesh_px.shape == (478, 3)
    yaw, pitch, roll = frame.head_euler_deg
    assert max(abs(yaw), abs(pitch), abs(roll)) < FRONTAL_TOLERANCE_DEG
    shapes = frame.blendshapes
    assert shapes["eyeBlinkLeft"] < 0.3 and shapes["eyeBlinkRight"] < 0.3
    assert shapes["jawOpen"] < 0.3
    assert len(shapes) == 52 and all(0.0 <= v <= 1.0 for v in shapes.values())


def test_expressions_rank_as_the_photos_show(baseline):
    astronaut, hopper = baseline["astronaut"].blendshapes, baseline["grace_hopper"].blendshapes
    for side in ("Left", "Right"):
        assert astronaut[f"mouthSmile{side}"] > 0.5  # broad smile
        assert hopper[f"mouthSmile{side}"] < astronaut[f"mouthSmile{side}"]
    assert hopper["mouthSmileLeft"] < 0.3 and hopper["mouthSmileRight"] < 0.3


@pytest.mark.parametrize("name", PHOTOS)
@pytest.mark.parametrize("picture_deg", [20.0, -20.0])
def test_turning_the_photo_rolls_the_head_by_the_same_angle(capture, baseline, name, picture_deg):
    base = baseline[name]
    turned = capture.process(_rotate(_photo(name), base.mesh_px[:, :2].mean(axis=0), picture_deg), 0.0)
    assert turned.found
    roll_change = turned.head_euler_deg[2] - base.head_euler_deg[2]
    # counter-clockwise on screen (positive OpenCV angle) is a roll towards the right shoulder: negative
    assert roll_change == pytest.approx(-picture_deg, abs=ROLL_TOLERANCE_DEG)
    assert turned.blendshapes["jawOpen"] < 0.35  # the expression does not change with the turn
    assert abs(turned.blendshapes["eyeBlinkLeft"] - base.blendshapes["eyeBlinkLeft"]) < 0.25


@pytest.mark.parametrize("name", PHOTOS)
def test_opening_the_mouth_opens_the_jaw(capture, baseline, name):
    base = baseline[name]
    values = [base.blendshapes["jawOpen"]]
    gaps = [base.measurements["lip_gap"]]
    for opening in (0.15, 0.3):
        frame = capture.process(_open_mouth(_photo(name), base.mesh_px, opening), 0.0)
        assert frame.found
        values.append(frame.blendshapes["jawOpen"])
        gaps.append(frame.measurements["lip_gap"])
    assert values[1] > values[0] + 0.05 and values[2] > values[1] + 0.05
    assert values[2] > 0.3
    assert gaps[2] > gaps[0] + 0.1  # the lips part (in eye distances)


@pytest.mark.parametrize("name", PHOTOS)
def test_stretching_the_lower_face_opens_the_jaw(capture, baseline, name):
    base = baseline[name]
    frame = capture.process(_stretch_lower_face(_photo(name), base.mesh_px, 0.3), 0.0)
    assert frame.found
    assert frame.blendshapes["jawOpen"] > base.blendshapes["jawOpen"] + 0.08


def test_calibrating_on_a_neutral_face_zeroes_it(capture, baseline):
    tracker = FaceTracker("calibrated", FaceCaptureSettings(blendshape_smoothing=None, head_smoothing=None))
    tracker.calibrate([baseline["grace_hopper"].mesh_px])
    again = tracker.update(capture.mesh(_photo("grace_hopper")), 1.0)
    assert max(again.blendshapes.values()) < 0.05
    assert max(abs(a) for a in again.head_euler_deg) < 1.0
    smiling = tracker.update(capture.mesh(_photo("astronaut")), 2.0)
    assert smiling.blendshapes["mouthSmileLeft"] > 0.5  # a smile still reads against her neutral face


def test_no_face_is_reported_not_raised(capture):
    frame = capture.process(np.full((480, 640, 3), 200, dtype=np.uint8), 3.0)
    assert not frame.found
    with pytest.raises(ValueError, match="RGB uint8"):
        capture.process(np.zeros((480, 640, 4), dtype=np.uint8), 3.1)
