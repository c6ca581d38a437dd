"""MediaPipe detection and 478-point meshes on real portraits and rotated/scaled/cropped/relit variants."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from realtime_models.face.detection import FaceDetector
from realtime_models.face.mesh_topology import MESH_POINTS_WITH_IRIS, five_points, head_pose_deg


def _rotated(img: np.ndarray, deg: float) -> tuple[np.ndarray, np.ndarray]:
    h, w = img.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0)
    return cv2.warpAffine(img, matrix, (w, h), borderMode=cv2.BORDER_REFLECT), matrix


def _variants(img: np.ndarray):
    """(name, picture, 2x3 matrix taking original pixels to the variant's) for each variant."""
    h, w = img.shape[:2]
    ident = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    yield "original", img, ident
    for deg in (25, -30):
        rotated, matrix = _rotated(img, deg)
        yield f"rotated {deg} deg", rotated, matrix
    yield "half size", cv2.resize(img, (w // 2, h // 2), interpolation=cv2.INTER_AREA), ident * 0.5
    yield "1.6x", cv2.resize(img, None, fx=1.6, fy=1.6, interpolation=cv2.INTER_LINEAR), ident * 1.6
    y0, x0 = h // 10, w // 5
    yield "cropped", np.ascontiguousarray(img[y0: h * 6 // 10, x0: w * 4 // 5]), np.array([[1.0, 0, -x0], [0, 1.0, -y0]])
    yield "dark", (img * 0.35).astype(np.uint8), ident
    yield "bright", np.clip(img.astype(np.int32) + 70, 0, 255).astype(np.uint8), ident
    yield "warm cast", np.clip(img * np.array([1.2, 1.0, 0.7]), 0, 255).astype(np.uint8), ident
    yield "side light", np.clip(img * np.linspace(0.3, 1.3, w)[None, :, None], 0, 255).astype(np.uint8), ident


@pytest.fixture(scope="module")
def detector():
    with FaceDetector("short", 0.5) as det:
        yield det


@pytest.mark.parametrize("portrait", ["astronaut_rgb", "grace_rgb"])
def test_detection_and_mesh_find_the_face_in_every_variant(portrait, request, detector, photo_landmarker):
    img = request.getfixturevalue(portrait)
    reference = photo_landmarker.meshes(img)[0]
    ref_centre = five_points(reference).mean(axis=0)
    for name, picture, matrix in _variants(img):
        faces = detector.detect(picture)
        assert len(faces) == 1, f"{portrait} {name}: {len(faces)} faces"
        face = faces[0]
        x0, y0, x1, y1 = face.box_px
        assert face.score > 0.7, f"{name}: score {face.score}"
        # the box is where the face went: the original face centre mapped through the variant's transform
        expected_centre = matrix[:, :2] @ ref_centre + matrix[:, 2]
        assert np.hypot(*(np.array(face.centre_px) - expected_centre)) < 0.2 * face.size_px, name

        meshes = photo_landmarker.meshes(picture)
        assert len(meshes) == 1, f"{portrait} {name}: {len(meshes)} meshes"
        mesh = meshes[0]
        assert mesh.shape == (MESH_POINTS_WITH_IRIS, 3)
        pts = mesh[:, :2]
        inside = (pts[:, 0] >= x0) & (pts[:, 0] <= x1) & (pts[:, 1] >= y0) & (pts[:, 1] <= y1)
        assert inside.mean() > 0.85, f"{name}: only {inside.mean():.2f} of the mesh inside the face box"
        w, h = x1 - x0, y1 - y0
        near = (pts[:, 0] >= x0 - 0.25 * w) & (pts[:, 0] <= x1 + 0.25 * w) & (pts[:, 1] >= y0 - 0.25 * h) & (
            pts[:, 1] <= y1 + 0.25 * h)
        assert near.all(), f"{name}: mesh points far outside the face box"
        five = five_points(mesh)
        assert ((five[:, 0] > x0) & (five[:, 0] < x1) & (five[:, 1] > y0) & (five[:, 1] < y1)).all(), name
        # eyes above the mouth and in the order the template expects, in the face's own frame
        expected_five = five_points(reference) @ matrix[:, :2].T + matrix[:, 2]
        assert np.abs(five - expected_five).max() < 0.12 * face.size_px, f"{name}: mesh does not follow the face"


def test_keypoints_are_eyes_nose_mouth_in_image_order(detector, grace_rgb):
    face = detector.detect(grace_rgb)[0]
    left_eye, right_eye, nose, mouth = face.keypoints_px[:4]
    assert left_eye[0] < nose[0] < right_eye[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < mouth[1]


def test_no_face_in_a_picture_without_one(detector, photo_landmarker, astronaut_rgb):
    flag = np.ascontiguousarray(astronaut_rgb[250:500, 0:150])  # the flag and the suit, no face
    noise = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    for picture in (flag, noise, np.zeros((120, 160, 3), np.uint8)):
        assert detector.detect(picture) == []
        assert photo_landmarker.meshes(picture) == []


def test_several_faces_in_one_frame(detector, photo_landmarker, astronaut_rgb, grace_rgb):
    left = cv2.resize(astronaut_rgb[30:330, 75:375], (300, 300), interpolation=cv2.INTER_AREA)
    right = cv2.resize(grace_rgb[80:480, 70:470], (300, 300), interpolation=cv2.INTER_AREA)
    frame = np.zeros((320, 640, 3), np.uint8)
    frame[10:310, 10:310] = left
    frame[10:310, 330:630] = right
    faces = detector.detect(frame)
    assert len(faces) == 2
    assert sorted(f.centre_px[0] < 320 for f in faces) == [False, True]
    meshes = photo_landmarker.meshes(frame)
    assert len(meshes) == 2


def test_head_pose_follows_rotation(photo_landmarker, grace_rgb):
    yaw0, pitch0, roll0 = head_pose_deg(photo_landmarker.meshes(grace_rgb)[0])
    rotated, _ = _rotated(grace_rgb, 20)  # counter-clockwise on screen: the eye line tilts up to the right
    _, _, roll = head_pose_deg(photo_landmarker.meshes(rotated)[0])
    assert abs(yaw0) < 15 and abs(pitch0) < 25
    assert roll - roll0 == pytest.approx(-20, abs=4)


def test_bad_pictures_are_refused_with_the_cause(detector, photo_landmarker):
    with pytest.raises(ValueError, match="RGB uint8"):
        detector.detect(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="RGB uint8"):
        photo_landmarker.meshes(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(ValueError, match="detector range"):
        FaceDetector("medium")
