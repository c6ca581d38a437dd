"""The ``landmark`` swapper: the identity's own face warped onto the performer's mesh, triangle by triangle.

No weights: the identity comes from reference photos.  The reference's mesh
points are triangulated once (Delaunay over its 2-D points); because MediaPipe
numbers mesh points the same way on every face, the same triangles exist on
the performer's mesh.  Each performer triangle then gets the affine map that
takes it onto its reference triangle (piecewise affine), and one ``cv2.remap``
pulls the reference pixels into the performer's face:

1. rasterise the performer's triangles into a triangle-id image covering the
   face's box, far triangles first (mesh z), so where a turned head folds the
   mesh the near side wins;
2. per pixel, apply its triangle's 2x3 map (frame pixel -> reference pixel);
3. remap the reference photo through those coordinates.

Triangles spanning the mouth opening (all three corners on the inner lip
line) are left out and the performer's inner-lip polygon is cut out of the
coverage, so the performer's own mouth interior (teeth, tongue) shows when
they speak.  Iris points are used when both meshes have them, so the identity's
eyes look where the performer looks.  The result is a :class:`FrameRegion`
(warped face + coverage) that the merge step colour-corrects and blends.
"""

from __future__ import annotations

import cv2
import numpy as np

from realtime_models.face.alignment import FrameRegion
from realtime_models.face.identity import Identity, ReferenceFace
from realtime_models.face.mesh_topology import LIPS_INNER, MESH_POINTS, bounding_box

_INNER_LIPS = frozenset(LIPS_INNER)
_INNER_LIPS_ORDER = np.array(LIPS_INNER)
_SUBPIXEL_SHIFT = 4  # fillConvexPoly works on fixed-point coordinates with this many fraction bits
_SUBPIXEL = float(1 << _SUBPIXEL_SHIFT)


def delaunay_triangles(points_xy: np.ndarray) -> np.ndarray:
    """Delaunay triangles (T, 3) over 2-D points, less those spanning the mouth opening and slivers."""
    from scipy.spatial import Delaunay  # imported on first use: loading a pipeline catalog should not pay for it

    tri = Delaunay(points_xy.astype(np.float64)).simplices.astype(np.int32)
    keep = np.array([not (a in _INNER_LIPS and b in _INNER_LIPS and c in _INNER_LIPS) for a, b, c in tri])
    tri = tri[keep]
    p = points_xy[tri]
    area = 0.5 * np.abs((p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1])
                        - (p[:, 2, 0] - p[:, 0, 0]) * (p[:, 1, 1] - p[:, 0, 1]))
    return tri[area > 1e-3]


def reference_triangles(ref: ReferenceFace, points: int) -> np.ndarray:
    """The reference's triangulation over its first ``points`` mesh points (cached on the reference)."""
    tri = ref.triangulations.get(points)
    if tri is None:
        tri = delaunay_triangles(ref.landmarks_px[:points, :2])
        ref.triangulations[points] = tri
    return tri


def piecewise_affine_maps(dst_tri_px: np.ndarray, src_tri_px: np.ndarray) -> np.ndarray:
    """Per triangle the 2x3 map taking destination pixels onto source pixels, (T, 2, 3) float32.

    With edges e1, e2 of the destination triangle and f1, f2 of the source one,
    the linear part is [f1 f2] @ inverse([e1 e2]).  Degenerate destination
    triangles (no area) map every pixel to the source triangle's first corner.
    """
    d = dst_tri_px.astype(np.float64)
    s = src_tri_px.astype(np.float64)
    e1, e2 = d[:, 1] - d[:, 0], d[:, 2] - d[:, 0]
    f1, f2 = s[:, 1] - s[:, 0], s[:, 2] - s[:, 0]
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    bad = np.abs(det) < 1e-9
    inv_det = np.where(bad, 0.0, 1.0 / np.where(bad, 1.0, det))
    # inverse([e1 e2]) = [[e2y, -e2x], [-e1y, e1x]] / det
    i00, i01 = e2[:, 1] * inv_det, -e2[:, 0] * inv_det
    i10, i11 = -e1[:, 1] * inv_det, e1[:, 0] * inv_det
    maps = np.empty((len(d), 2, 3), np.float64)
    for row in range(2):
        maps[:, row, 0] = f1[:, row] * i00 + f2[:, row] * i10
        maps[:, row, 1] = f1[:, row] * i01 + f2[:, row] * i11
        maps[:, row, 2] = s[:, 0, row] - maps[:, row, 0] * d[:, 0, 0] - maps[:, row, 1] * d[:, 0, 1]
    return maps.astype(np.float32)


class LandmarkSwapper:
    """Warps reference faces onto performer meshes; keeps per-face reference choice for hysteresis."""

    name = "landmark"
    needs_identity = True

    def __init__(self, switch_margin: float = 0.15) -> None:
        self.switch_margin = switch_margin
        self._current_reference: dict[tuple[int, int], int] = {}  # (track id, identity id) -> reference index
        self.last_reference_index: dict[int, int] = {}

    def forget(self, live_track_ids: set[int]) -> None:
        self._current_reference = {k: v for k, v in self._current_reference.items() if k[0] in live_track_ids}
        self.last_reference_index = {k: v for k, v in self.last_reference_index.items() if k in live_track_ids}

    def close(self) -> None:
        self._current_reference.clear()

    def swap(self, frame_rgb: np.ndarray, landmarks_px: np.ndarray, identity: Identity | None,
             track_id: int = 0) -> FrameRegion | None:
        if identity is None:
            raise ValueError("the landmark swapper needs an identity (reference photos) to swap to")
        key = (track_id, id(identity))
        index = identity.best_reference(landmarks_px, self._current_reference.get(key), self.switch_margin)
        self._current_reference[key] = index
        self.last_reference_index[track_id] = index
        return warp_reference(identity.faces[index], landmarks_px, frame_rgb.shape)


def warp_reference(ref: ReferenceFace, landmarks_px: np.ndarray, frame_shape: tuple[int, ...]) -> FrameRegion | None:
    """The reference face warped onto the performer mesh ``landmarks_px`` (frame pixels)."""
    points = min(len(ref.landmarks_px), len(landmarks_px))
    if points < MESH_POINTS:
        raise ValueError(f"the landmark swap needs full face meshes, got {points} points")
    tri = reference_triangles(ref, points)
    height, width = frame_shape[:2]
    bx0, by0, bx1, by1 = bounding_box(landmarks_px[:points])
    x0, y0 = max(0, int(np.floor(bx0))), max(0, int(np.floor(by0)))
    x1, y1 = min(width, int(np.ceil(bx1)) + 1), min(height, int(np.ceil(by1)) + 1)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    dst = landmarks_px[:points, :2].astype(np.float32) - (x0, y0)
    dst_tri = dst[tri]  # (T, 3, 2)
    depth = landmarks_px[:points, 2][tri].mean(axis=1) if landmarks_px.shape[1] > 2 else np.zeros(len(tri))
    order = np.argsort(-depth, kind="stable")  # far (large z) first, near last
    ids = np.zeros((y1 - y0, x1 - x0), np.int32)
    fixed = np.round(dst_tri * _SUBPIXEL).astype(np.int32)
    fill = cv2.fillConvexPoly
    for polygon, value in zip(list(fixed[order]), (order + 1).tolist()):
        fill(ids, polygon, value, cv2.LINE_8, _SUBPIXEL_SHIFT)
    maps = piecewise_affine_maps(dst_tri, ref.landmarks_px[:points, :2][tri])
    table = np.empty((len(tri) + 1, 6), np.float32)
    table[0] = (0, 0, -10.0, 0, 0, -10.0)  # uncovered pixels sample outside the picture (black, alpha 0)
    table[1:] = maps.reshape(len(tri), 6)
    per_pixel = table[ids]  # (h, w, 6)
    xs = np.arange(x1 - x0, dtype=np.float32)[None, :]
    ys = np.arange(y1 - y0, dtype=np.float32)[:, None]
    map_x = per_pixel[..., 0] * xs + per_pixel[..., 1] * ys + per_pixel[..., 2]
    map_y = per_pixel[..., 3] * xs + per_pixel[..., 4] * ys + per_pixel[..., 5]
    image = cv2.remap(ref.image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    coverage = (ids > 0).astype(np.float32)
    # the performer's mouth opening is theirs: triangles of the identity's lips may stretch across it
    cv2.fillPoly(coverage, [np.round(dst[_INNER_LIPS_ORDER] * _SUBPIXEL).astype(np.int32)], 0.0, cv2.LINE_8,
                 _SUBPIXEL_SHIFT)
    return FrameRegion(x0, y0, image, coverage)
