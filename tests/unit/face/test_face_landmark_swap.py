"""The ``landmark`` swapper and the merge on real portraits: astronaut performs, Grace Hopper is the identity.

"Closer to the identity" is measured without any face-embedding network, two ways:

* LBPH distance (local binary pattern histograms, Ahonen et al. 2006, the
  classic embedding-free face recogniser in OpenCV's ``cv2.face``) on the
  inner face (eyes to mouth) of 112 px ArcFace-aligned greyscale crops, with
  the identity photo scaled to the performer's face size so that photo
  resolution does not masquerade as identity.  Landmarks on the output are
  found afresh by MediaPipe, independent of the swap's own tracking.
* normalised cross-correlation of high-pass luminance (wrinkles, glasses,
  brows: the texture that makes a face someone's) after warping each face to
  the identity photo's geometry by its own freshly detected mesh.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from realtime_models.face.alignment import arcface_transform, warp_crop
from realtime_models.face.color_transfer import lct, rct
from realtime_models.face.identity import (
    Identity,
    IdentityError,
    load_identity,
    parse_identity_list,
    reference_from_photo,
)
from realtime_models.face.landmark_swapper import LandmarkSwapper, delaunay_triangles, warp_reference
from realtime_models.face.merge import MergeSettings, face_hull_mask
from realtime_models.face.mesh_topology import LIPS_INNER, LIPS_OUTER, face_size_px, five_points
from realtime_models.face.pipeline import FaceSwapPipeline, IdentityAssignment, assign_identities, parse_identity_map
from realtime_models.face.tracking import FaceTracker, TrackedFace, TrackerSettings


@pytest.fixture(scope="module")
def grace_identity(grace_rgb, photo_landmarker) -> Identity:
    return Identity("grace", [reference_from_photo(grace_rgb, photo_landmarker.meshes(grace_rgb)[0], "grace")])


def _swap(frame: np.ndarray, identities, merge: MergeSettings, frames: int = 3, **kwargs):
    pipeline = FaceSwapPipeline(FaceTracker(TrackerSettings(max_faces=4)), LandmarkSwapper())
    try:
        for i in range(frames):
            result = pipeline.process(frame, i / 30.0, identities, merge, **kwargs)
    finally:
        pipeline.tracker.close()
        pipeline.close()
    return result


def _full_alpha(result, shape) -> np.ndarray:
    alpha = np.zeros(shape[:2], np.float32)
    for merged in result.merged.values():
        h, w = merged.alpha.shape
        np.maximum(alpha[merged.y0: merged.y0 + h, merged.x0: merged.x0 + w], merged.alpha,
                   out=alpha[merged.y0: merged.y0 + h, merged.x0: merged.x0 + w])
    return alpha


def _inner_face(picture: np.ndarray, landmarker) -> np.ndarray:
    mesh = landmarker.meshes(picture)[0]
    crop = warp_crop(picture, arcface_transform(five_points(mesh), 112), 112)
    return cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)[28:100, 20:92]


def _lbph_distance(a: np.ndarray, b: np.ndarray) -> float:
    recogniser = cv2.face.LBPHFaceRecognizer_create(radius=1, neighbors=8, grid_x=6, grid_y=6)
    recogniser.train([a], np.array([0]))
    return float(recogniser.predict(b)[1])


def _high_pass(rgb: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return grey - cv2.GaussianBlur(grey, (0, 0), 3)


def test_landmark_swap_changes_identity(astronaut_frame, grace_rgb, grace_identity, photo_landmarker):
    result = _swap(astronaut_frame, [grace_identity], MergeSettings(color_transfer="rct"))
    out = result.image
    assert out is not None and len(result.faces) == 1
    # LBPH on the inner face, identity photo at the performer's face size
    scale = face_size_px(photo_landmarker.meshes(astronaut_frame)[0]) / face_size_px(photo_landmarker.meshes(grace_rgb)[0])
    grace_small = cv2.resize(grace_rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    performer, identity, swapped = (_inner_face(p, photo_landmarker) for p in (astronaut_frame, grace_small, out))
    to_performer, to_identity = _lbph_distance(performer, swapped), _lbph_distance(identity, swapped)
    assert to_identity < 0.8 * to_performer, f"LBPH: {to_identity:.1f} to identity vs {to_performer:.1f} to performer"
    # high-pass texture correlation in the identity's geometry
    grace_mesh = photo_landmarker.meshes(grace_rgb)[0]
    warped = {}
    for name, picture in (("performer", astronaut_frame), ("swapped", out)):
        mesh = photo_landmarker.meshes(picture)[0]
        ref = reference_from_photo(picture, mesh, name, max_face_px=10_000)
        warped[name] = warp_reference(ref, grace_mesh, grace_rgb.shape)
    region = warped["swapped"]
    identity_view = grace_rgb[region.y0: region.y1, region.x0: region.x1]
    identity_view = cv2.resize(cv2.resize(identity_view, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA),
                               identity_view.shape[1::-1])  # same detail level as the performer's face
    common = (warped["swapped"].alpha > 0) & (warped["performer"].alpha > 0)
    common = cv2.erode(common.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)

    def ncc(a: np.ndarray, b: np.ndarray) -> float:
        a, b = a[common] - a[common].mean(), b[common] - b[common].mean()
        return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))

    swapped_hp = _high_pass(warped["swapped"].image)
    with_identity = ncc(swapped_hp, _high_pass(identity_view))
    with_performer = ncc(swapped_hp, _high_pass(warped["performer"].image))
    assert with_identity > with_performer + 0.1, f"texture NCC {with_identity:.2f} vs performer {with_performer:.2f}"


@pytest.mark.parametrize("blend", ["alpha", "seamless"])
@pytest.mark.parametrize("color", ["rct", "lct", "none"])
def test_outside_the_mask_the_frame_is_untouched(astronaut_frame, grace_identity, blend, color):
    result = _swap(astronaut_frame, [grace_identity], MergeSettings(color_transfer=color, blend=blend), frames=2)
    alpha = _full_alpha(result, astronaut_frame.shape)
    out = result.image
    assert np.array_equal(out[alpha == 0], astronaut_frame[alpha == 0])
    inside = alpha > 0.95
    assert inside.sum() > 2500
    assert np.abs(out[inside].astype(int) - astronaut_frame[inside]).mean() > 8, "the face really changed"
    hull = face_hull_mask(result.faces[0].landmarks_px[:, :2], astronaut_frame.shape[:2]) > 0
    assert not (alpha > 0.01)[~cv2.dilate(hull.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)].any()


def test_colour_transfer_matches_the_performers_skin(astronaut_frame, grace_identity):
    def lab_mean(picture: np.ndarray, where: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(picture, cv2.COLOR_RGB2LAB)[where].astype(np.float64).mean(axis=0)

    results = {c: _swap(astronaut_frame, [grace_identity], MergeSettings(color_transfer=c), frames=2)
               for c in ("none", "rct", "lct")}
    core = _full_alpha(results["none"], astronaut_frame.shape) > 0.95
    performer = lab_mean(astronaut_frame, core)
    gap = {c: np.linalg.norm(lab_mean(r.image, core) - performer) for c, r in results.items()}
    assert gap["rct"] < 0.4 * gap["none"] and gap["lct"] < 0.4 * gap["none"], gap


def test_rct_and_lct_match_statistics_inside_the_mask():
    rng = np.random.default_rng(0)
    source = rng.normal([90, 140, 60], [10, 25, 5], (64, 64, 3)).clip(0, 255).astype(np.uint8)
    target = rng.normal([180, 100, 120], [30, 8, 20], (64, 64, 3)).clip(0, 255).astype(np.uint8)
    mask = np.zeros((64, 64), np.float32)
    mask[8:56, 8:56] = 1.0
    sel = mask > 0.5
    out_rct = rct(source, target, mask)
    lab = lambda p: cv2.cvtColor(p, cv2.COLOR_RGB2LAB)[sel].astype(float)  # noqa: E731
    assert np.allclose(lab(out_rct).mean(0), lab(target).mean(0), atol=2.0)
    assert np.allclose(lab(out_rct).std(0), lab(target).std(0), rtol=0.15, atol=1.0)
    out_lct = lct(source, target, mask)
    assert np.allclose(out_lct[sel].mean(0), target[sel].mean(0), atol=2.0)
    assert np.allclose(np.cov(out_lct[sel].T.astype(float)), np.cov(target[sel].T.astype(float)), rtol=0.15, atol=8)


def test_mouth_mask_keeps_the_performers_mouth(astronaut_frame, grace_identity):
    plain = _swap(astronaut_frame, [grace_identity], MergeSettings(), frames=2)
    kept = _swap(astronaut_frame, [grace_identity], MergeSettings(mouth_mask=True), frames=2)
    lips = np.zeros(astronaut_frame.shape[:2], np.uint8)
    cv2.fillPoly(lips, [np.round(kept.faces[0].landmarks_px[list(LIPS_OUTER), :2]).astype(np.int32)], 1)
    lips = lips.astype(bool)
    assert lips.sum() > 150
    diff_plain = np.abs(plain.image[lips].astype(int) - astronaut_frame[lips]).mean()
    diff_kept = np.abs(kept.image[lips].astype(int) - astronaut_frame[lips]).mean()
    assert diff_kept < 3.0 < diff_plain


def test_mouth_opening_is_not_covered_by_the_warp(grace_identity, astronaut_frame, photo_landmarker):
    tri = delaunay_triangles(grace_identity.faces[0].landmarks_px[:468, :2])
    inner = set(LIPS_INNER)
    assert not any(set(t) <= inner for t in tri.tolist())
    assert len(tri) > 800
    mesh = photo_landmarker.meshes(astronaut_frame)[0]  # she smiles: teeth between the lips
    region = warp_reference(grace_identity.faces[0], mesh, astronaut_frame.shape)
    opening = np.zeros(region.alpha.shape, np.uint8)
    cv2.fillPoly(opening, [np.round(mesh[list(LIPS_INNER), :2] - (region.x0, region.y0)).astype(np.int32)], 1)
    opening = cv2.erode(opening, np.ones((3, 3), np.uint8)).astype(bool)
    assert opening.sum() > 50
    assert not region.alpha[opening].any(), "the performer's teeth show through"
    assert region.alpha[~opening].mean() > 0.5


def test_occlusion_from_the_actor_mask_and_from_segmentation(astronaut_frame, grace_identity):
    plain = _swap(astronaut_frame, [grace_identity], MergeSettings(), frames=2)
    face = plain.faces[0]
    x0, y0, x1, y1 = (int(v) for v in face.box_px)
    actor = np.full(astronaut_frame.shape[:2], 255, np.uint8)
    prop_top = (y0 + y1) // 2
    actor[prop_top:, :] = 0  # a prop in front of the lower half of the face
    occluded = _swap(astronaut_frame, [grace_identity], MergeSettings(), frames=2, occlusion="actor_mask",
                     actor_mask=actor)
    assert np.array_equal(occluded.image[prop_top:], astronaut_frame[prop_top:])
    upper = slice(y0 + 5, prop_top - 10), slice(x0 + 10, x1 - 10)
    assert np.abs(occluded.image[upper].astype(int) - astronaut_frame[upper]).mean() > 8
    segmented = _swap(astronaut_frame, [grace_identity], MergeSettings(), frames=2, occlusion="segmentation")
    alpha_seg = _full_alpha(segmented, astronaut_frame.shape)
    alpha_plain = _full_alpha(plain, astronaut_frame.shape)
    assert (alpha_seg <= alpha_plain + 1e-4).all(), "segmentation only ever removes face pixels"
    assert (alpha_seg > 0.9).sum() > 0.8 * (alpha_plain > 0.9).sum(), "the face itself is the person"
    with pytest.raises(ValueError, match="actor mask"):
        _swap(astronaut_frame, [grace_identity], MergeSettings(), frames=1, occlusion="actor_mask")


def test_opacity_fades_between_performer_and_swap(astronaut_frame, grace_identity):
    full = _swap(astronaut_frame, [grace_identity], MergeSettings(opacity=1.0), frames=2).image.astype(int)
    half = _swap(astronaut_frame, [grace_identity], MergeSettings(opacity=0.5), frames=2).image.astype(int)
    none = _swap(astronaut_frame, [grace_identity], MergeSettings(opacity=0.0), frames=2).image
    assert np.array_equal(none, astronaut_frame)
    changed = np.abs(full - astronaut_frame).sum(axis=2) > 30
    expected = (full[changed] + astronaut_frame[changed]) / 2
    assert np.abs(half[changed] - expected).mean() < 2.0


def test_frames_without_a_face_pass_through(grace_identity):
    flat = np.full((480, 640, 3), 90, np.uint8)
    result = _swap(flat, [grace_identity], MergeSettings(), frames=2)
    assert result.image is None and result.faces == []


def _yawed(picture: np.ndarray, landmarker, yaw_deg: float) -> np.ndarray:
    """The face turned by ``yaw_deg``: its own texture re-rendered on its 3-D mesh rotated about the vertical."""
    mesh = landmarker.meshes(picture)[0]
    if yaw_deg == 0:
        return picture
    ref = reference_from_photo(picture, mesh, "yaw", max_face_px=10_000)
    centre = mesh[:, :3].mean(axis=0)
    a = np.radians(yaw_deg)
    rot = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    turned = ((mesh[:, :3] - centre) @ rot.T + centre).astype(np.float32)
    region = warp_reference(ref, turned, picture.shape)
    out = picture.copy()
    target = out[region.y0: region.y1, region.x0: region.x1]
    target[:] = np.where(region.alpha[..., None] > 0, region.image, target)
    return out


def test_micro_dataset_picks_the_reference_with_the_performers_pose(tmp_path, grace_rgb, astronaut_rgb,
                                                                    photo_landmarker):
    folder = tmp_path / "grace_dataset"
    folder.mkdir()
    for yaw in (0, 25, -25):
        cv2.imwrite(str(folder / f"grace_{yaw:+d}.png"), cv2.cvtColor(_yawed(grace_rgb, photo_landmarker, yaw),
                                                                      cv2.COLOR_RGB2BGR))
    (folder / "notes.txt").write_text("not a photo")
    cv2.imwrite(str(folder / "no_face.png"), np.full((200, 200, 3), 128, np.uint8))
    identity = load_identity(str(folder), photo_landmarker)
    assert [f.source.rsplit("/", 1)[-1] for f in identity.faces] == ["grace_+0.png", "grace_+25.png", "grace_-25.png"]
    swapper = LandmarkSwapper()
    for yaw, expected in ((0, 0), (25, 1), (-25, 2)):
        performer = _yawed(astronaut_rgb, photo_landmarker, yaw)
        mesh = photo_landmarker.meshes(performer)[0]
        assert identity.best_reference(mesh) == expected, f"performer yaw {yaw}"
        assert swapper.swap(performer, mesh, identity, track_id=7) is not None
        assert swapper.last_reference_index[7] == expected


def test_reference_choice_has_hysteresis(grace_identity):
    twin = Identity("twins", [grace_identity.faces[0], grace_identity.faces[0]])
    mesh = grace_identity.faces[0].landmarks_px
    assert twin.best_reference(mesh, current=1) == 1, "an equal reference never steals the current one"
    assert twin.best_reference(mesh, current=None) == 0


def test_identity_sources_are_checked_with_the_path_in_the_message(tmp_path, photo_landmarker):
    with pytest.raises(IdentityError, match="not found: .*missing.jpg"):
        parse_identity_list(str(tmp_path / "missing.jpg"))
    with pytest.raises(IdentityError, match="no photos"):
        parse_identity_list(str(tmp_path))
    with pytest.raises(IdentityError, match="unknown sample"):
        parse_identity_list("sample:nobody")
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(IdentityError, match="no face found in any photo.*blank.png"):
        load_identity(str(blank), photo_landmarker)
    assert parse_identity_list(f" sample:astronaut ; {blank}") == ["sample:astronaut", str(blank)]


def test_several_faces_map_to_their_own_identities(astronaut_rgb, grace_rgb, photo_landmarker, grace_identity):
    frame = np.zeros((320, 640, 3), np.uint8)
    frame[10:310, 10:310] = cv2.resize(astronaut_rgb[30:330, 75:375], (300, 300), interpolation=cv2.INTER_AREA)
    frame[10:310, 330:630] = cv2.resize(grace_rgb[80:480, 70:470], (300, 300), interpolation=cv2.INTER_AREA)
    astronaut_identity = load_identity("sample:astronaut", photo_landmarker)
    identities = [grace_identity, astronaut_identity]
    crossed = _swap(frame, identities, MergeSettings(),
                    assignment=IdentityAssignment("left_to_right", parse_identity_map("0, 1")))
    assert len(crossed.faces) == 2
    left = slice(10, 310), slice(10, 310)
    right = slice(10, 310), slice(330, 630)
    assert np.abs(crossed.image[left].astype(int) - frame[left]).mean() > 1.0
    assert np.abs(crossed.image[right].astype(int) - frame[right]).mean() > 1.0
    only_right = _swap(frame, identities, MergeSettings(),
                       assignment=IdentityAssignment("left_to_right", parse_identity_map("-1, 1")))
    assert np.array_equal(only_right.image[left], frame[left]), "-1 leaves the left face alone"
    assert np.abs(only_right.image[right].astype(int) - frame[right]).mean() > 1.0


def test_assignment_rules():
    def face(track_id: int, x: float) -> TrackedFace:
        return TrackedFace(track_id, np.zeros((478, 3)), np.zeros((478, 3)), (x - 10, 0, x + 10, 20), 20.0, 1)

    faces = [face(5, 400), face(2, 100), face(9, 250)]
    assert assign_identities(faces, 2, IdentityAssignment()) == {2: 0, 5: 1, 9: 0}
    assert assign_identities(faces, 2, IdentityAssignment("left_to_right")) == {2: 0, 9: 1, 5: 0}
    assert assign_identities(faces, 3, IdentityAssignment("left_to_right", (2, -1))) == {2: 2, 9: None, 5: 2}
    assert assign_identities(faces, 0, IdentityAssignment()) == {2: None, 5: None, 9: None}
    with pytest.raises(ValueError, match="comma-separated"):
        parse_identity_map("1, two")
    with pytest.raises(ValueError, match=">= -1"):
        parse_identity_map("-3")


@pytest.mark.parametrize("box", [(20, 30, 101, 91), (21, 31, 100, 91), (20, 30, 60, 91)])
def test_seamless_clone_of_the_same_picture_does_not_shift_it(box):
    from realtime_models.face.merge import _seamless

    rng = np.random.default_rng(0)
    picture = cv2.GaussianBlur(rng.integers(0, 255, (120, 140, 3), dtype=np.uint8), (0, 0), 3)
    alpha = np.zeros((120, 140), np.float32)
    cv2.rectangle(alpha, box[:2], box[2:], 1.0, -1)
    out = _seamless(picture.copy(), picture.copy(), alpha)
    assert np.abs(out.astype(int) - picture).max() <= 2, "an odd or even mask size must not move the clone"
