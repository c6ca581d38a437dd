"""Alignment to the ArcFace template (112/128), the whole-face variant, and paste-back."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from realtime_models.face.alignment import (
    ARCFACE_TEMPLATE_112,
    arcface_template,
    arcface_transform,
    crop_to_frame,
    feathered_crop_mask,
    paste_back,
    similarity_transform,
    transform_points,
    warp_crop,
    whole_face_template,
    whole_face_transform,
)
from realtime_models.face.detection import FaceDetector
from realtime_models.face.merge import face_hull_mask
from realtime_models.face.mesh_topology import five_points


def test_templates_follow_insightface_sizes():
    assert np.allclose(arcface_template(112), ARCFACE_TEMPLATE_112)
    t128 = arcface_template(128)  # 128 = 128 * 1: the 112 template unscaled, shifted 8 px right
    assert np.allclose(t128, ARCFACE_TEMPLATE_112 + [8.0, 0.0])
    assert np.allclose(arcface_template(224), ARCFACE_TEMPLATE_112 * 2)
    assert np.allclose(arcface_template(256), ARCFACE_TEMPLATE_112 * 2 + [16.0, 0.0])
    with pytest.raises(ValueError, match="multiple of 112 or 128"):
        arcface_template(100)
    whole = whole_face_template(224, 0.4)
    # DeepFaceLab whole face: the eyes about a quarter of the crop apart, centred left-right, eyes above centre
    eye_gap = whole[1, 0] - whole[0, 0]
    assert 0.22 * 224 < eye_gap < 0.27 * 224
    assert whole[:, 0].mean() == pytest.approx(112, abs=1.0)
    assert whole[0, 1] < 112 < whole[3, 1]
    assert (whole_face_template(224, 0.2)[1, 0] - whole_face_template(224, 0.2)[0, 0]) > eye_gap  # less padding


def test_similarity_transform_recovers_a_known_transform():
    rng = np.random.default_rng(3)
    src = rng.uniform(0, 200, (5, 2))
    angle, scale, shift = np.radians(23), 0.7, np.array([12.0, -40.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = src @ rot.T + shift
    matrix = similarity_transform(src, dst)
    assert np.allclose(matrix[:, :2], rot, atol=1e-9) and np.allclose(matrix[:, 2], shift, atol=1e-7)
    # a mirrored target is fitted by a proper rotation, never a reflection
    mirrored = similarity_transform(src, dst * [-1, 1])
    assert np.linalg.det(mirrored[:, :2]) > 0
    with pytest.raises(ValueError, match="coincide"):
        similarity_transform(np.ones((5, 2)), dst)


def _magnified_view(picture: np.ndarray, matrix: np.ndarray, size_px: int, zoom: int = 4) -> tuple[np.ndarray, int]:
    """The aligned crop rendered ``zoom`` times larger with context around it, so detectors can see it."""
    pad = size_px * zoom // 2
    view_matrix = matrix * zoom
    view_matrix[:, 2] += pad
    side = size_px * zoom + 2 * pad
    return cv2.warpAffine(picture, view_matrix, (side, side), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE), pad


@pytest.mark.parametrize("portrait", ["astronaut_rgb", "grace_rgb"])
@pytest.mark.parametrize("size_px", [112, 128])
@pytest.mark.parametrize("rotation_deg", [0, 25])
def test_aligned_crop_puts_eyes_and_mouth_on_the_template(portrait, size_px, rotation_deg, request, photo_landmarker):
    img = request.getfixturevalue(portrait)
    if rotation_deg:
        h, w = img.shape[:2]
        img = cv2.warpAffine(img, cv2.getRotationMatrix2D((w / 2, h / 2), rotation_deg, 1.0), (w, h),
                             borderMode=cv2.BORDER_REFLECT)
    mesh = photo_landmarker.meshes(img)[0]
    matrix = arcface_transform(five_points(mesh), size_px)
    crop = warp_crop(img, matrix, size_px)
    assert crop.shape == (size_px, size_px, 3)
    template = arcface_template(size_px)
    # Independent check: find the face again in (a magnified view of) the aligned crop with the detector
    view, pad = _magnified_view(img, matrix, size_px)
    with FaceDetector() as detector:
        faces = detector.detect(view)
    assert len(faces) == 1
    keypoints = (faces[0].keypoints_px - pad) / 4.0
    # (BlazeFace keypoints are coarse: a few px at 112 is their own spread)
    assert np.linalg.norm(keypoints[0] - template[0]) < 5.0, "image-left eye"
    assert np.linalg.norm(keypoints[1] - template[1]) < 5.0, "image-right eye"
    assert np.linalg.norm(keypoints[3] - (template[3] + template[4]) / 2) < 5.5, "mouth centre"
    # ... and with the mesh: the crop shows exactly the geometry the transform promises
    again = photo_landmarker.meshes(view)[0]
    seen = (five_points(again) - pad) / 4.0
    promised = transform_points(matrix, five_points(mesh))
    assert np.abs(seen - promised).max() < 1.5
    assert np.linalg.norm(seen[:2] - template[:2], axis=1).max() < 4.0


def test_whole_face_crop_contains_the_whole_face(photo_landmarker, grace_rgb):
    mesh = photo_landmarker.meshes(grace_rgb)[0]
    matrix = whole_face_transform(five_points(mesh), 224)
    inside = transform_points(matrix, mesh)
    assert inside.min() > 0 and inside.max() < 224, "forehead, chin and cheeks all inside the crop"
    span = inside.max(axis=0) - inside.min(axis=0)
    assert 0.5 * 224 < span.max() < 0.8 * 224, "the face fills over half the crop, with margin around it"


@pytest.mark.parametrize("size_px", [112, 128, 224])
def test_paste_back_of_an_unmodified_crop_reproduces_the_frame(size_px, photo_landmarker, astronaut_frame):
    frame = astronaut_frame
    mesh = photo_landmarker.meshes(frame)[0]
    matrix = arcface_transform(five_points(mesh), size_px)
    crop = warp_crop(frame, matrix, size_px)
    mask = feathered_crop_mask(size_px, 0.1, 0.05)
    pasted = paste_back(frame, crop, matrix, mask)
    region = crop_to_frame(crop, matrix, frame.shape, mask)
    assert region is not None
    hull = face_hull_mask(mesh[:, :2], frame.shape[:2]) > 0
    inside = hull & (np.pad(region.alpha, ((region.y0, frame.shape[0] - region.y1),
                                           (region.x0, frame.shape[1] - region.x1))) > 0.5)
    assert inside.sum() > 2000
    error = np.abs(pasted.astype(np.int32) - frame.astype(np.int32))
    assert error[inside].mean() < 4.0, f"mean error {error[inside].mean():.2f} inside the mask"
    assert np.percentile(error[inside], 99) < 40
    outside = np.ones(frame.shape[:2], bool)
    outside[region.y0: region.y1, region.x0: region.x1] = False
    assert np.array_equal(pasted[outside], frame[outside]), "nothing outside the crop's box may change"


def test_crop_entirely_outside_the_frame_pastes_nothing():
    frame = np.full((60, 80, 3), 77, np.uint8)
    matrix = np.array([[1.0, 0, 500.0], [0, 1.0, 500.0]])  # the crop window lies far off-frame
    assert crop_to_frame(np.zeros((112, 112, 3), np.uint8), matrix, frame.shape) is None
    assert np.array_equal(paste_back(frame, np.zeros((112, 112, 3), np.uint8), matrix), frame)
