"""Masks and merge: where the swapped face replaces the performer's, and how it is blended in.

The face's alpha is built in a working box around the face (so erosion and
blur see real borders):

1. the convex hull of the performer's face outline (mesh ``FACE_OVAL``),
   eroded by ``mask_erode_frac`` and feathered by ``mask_blur_frac`` (both
   fractions of the face size, so a close-up and a wide shot look alike);
2. times the swapper's own coverage (where it produced pixels: the warped
   triangles, or the model's mask);
3. times ``1 - mouth mask`` when ``mouth_mask`` is on: the outer lip polygon,
   dilated and feathered, so the performer's real mouth (lip sync) stays;
4. times the occluder mask (person segmentation or the engine's actor mask):
   whatever is not the performer, e.g. a prop in front of the face, stays;
5. times ``opacity``.

Inside that alpha the swapped face is colour-matched to the performer's face
(``rct`` / ``lct`` / ``none``) and blended: ``alpha`` (feathered alpha blend)
or ``seamless`` (Poisson cloning with ``cv2.seamlessClone``, then the same
feathered alpha, so the edge stays soft and opacity still works).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from realtime_models.face.alignment import FrameRegion
from realtime_models.face.color_transfer import COLOR_TRANSFER_MODES, transfer_color
from realtime_models.face.mesh_topology import FACE_OVAL, LIPS_OUTER, face_size_px

BLEND_MODES = ("alpha", "seamless")
_OVAL = np.array(FACE_OVAL)
_LIPS = np.array(LIPS_OUTER)


@dataclass(frozen=True)
class MergeSettings:
    color_transfer: str = "rct"
    mask_erode_frac: float = 0.03  # of the face size
    mask_blur_frac: float = 0.08  # width of the soft edge, of the face size
    mouth_mask: bool = False
    mouth_dilate_frac: float = 0.03
    blend: str = "alpha"
    opacity: float = 1.0

    def __post_init__(self) -> None:
        if self.color_transfer not in COLOR_TRANSFER_MODES:
            raise ValueError(f"color_transfer must be one of {', '.join(COLOR_TRANSFER_MODES)}, got {self.color_transfer!r}")
        if self.blend not in BLEND_MODES:
            raise ValueError(f"blend must be one of {', '.join(BLEND_MODES)}, got {self.blend!r}")
        if not 0.0 <= self.opacity <= 1.0:
            raise ValueError(f"opacity must be within 0..1, got {self.opacity}")
        for name in ("mask_erode_frac", "mask_blur_frac", "mouth_dilate_frac"):
            if not 0.0 <= getattr(self, name) <= 0.5:
                raise ValueError(f"{name} must be within 0..0.5, got {getattr(self, name)}")


@dataclass
class MergedFace:
    """Where a face went: frame box (x0, y0) of ``alpha`` (float32, the final blend weight)."""

    x0: int
    y0: int
    alpha: np.ndarray


def _ellipse(radius_px: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius_px + 1, 2 * radius_px + 1))


def _feather(mask: np.ndarray, width_px: float) -> np.ndarray:
    sigma = width_px / 2.0
    return cv2.GaussianBlur(mask, (0, 0), sigma) if sigma > 0.3 else mask


def face_hull_mask(landmarks_xy: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """uint8 0/255: the convex hull of the face outline (points already in the mask's coordinates)."""
    mask = np.zeros(shape, np.uint8)
    hull = cv2.convexHull(np.round(landmarks_xy[_OVAL] * 16).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 255, cv2.LINE_AA, 4)
    return mask


def mouth_region_mask(landmarks_xy: np.ndarray, shape: tuple[int, int], dilate_px: int, feather_px: float) -> np.ndarray:
    """float32 0..1: the outer lip polygon, dilated and feathered."""
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(landmarks_xy[_LIPS] * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    if dilate_px > 0:
        mask = cv2.dilate(mask, _ellipse(dilate_px))
    return _feather(mask.astype(np.float32) * np.float32(1 / 255), feather_px)


def _occluder_alpha(occluder: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    part = occluder[y0:y1, x0:x1]
    if part.ndim == 3:
        part = part[..., 0]
    if part.dtype == np.uint8:
        return part.astype(np.float32) * np.float32(1 / 255)
    return np.clip(part.astype(np.float32), 0.0, 1.0)


def merge_face(out: np.ndarray, region: FrameRegion, landmarks_px: np.ndarray, settings: MergeSettings,
               occluder: np.ndarray | None = None) -> MergedFace | None:
    """Blend ``region`` (the swapped face) into ``out`` (RGB uint8, modified in place)."""
    height, width = out.shape[:2]
    size = face_size_px(landmarks_px)
    erode_px = int(round(settings.mask_erode_frac * size))
    feather_px = settings.mask_blur_frac * size
    margin = erode_px + int(np.ceil(feather_px * 1.5)) + 3
    x0, y0 = max(0, region.x0 - margin), max(0, region.y0 - margin)
    x1, y1 = min(width, region.x1 + margin), min(height, region.y1 + margin)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    shape = (y1 - y0, x1 - x0)
    ry0, rx0 = region.y0 - y0, region.x0 - x0
    face = np.zeros((*shape, 3), np.uint8)
    face[ry0: ry0 + region.image.shape[0], rx0: rx0 + region.image.shape[1]] = region.image
    coverage = np.zeros(shape, np.float32)
    coverage[ry0: ry0 + region.alpha.shape[0], rx0: rx0 + region.alpha.shape[1]] = region.alpha
    lm = landmarks_px[:, :2].astype(np.float32) - (x0, y0)

    hull = face_hull_mask(lm, shape)
    if erode_px > 0:
        hull = cv2.erode(hull, _ellipse(erode_px))
    alpha = _feather(hull.astype(np.float32) * np.float32(1 / 255), feather_px)
    alpha *= _feather(coverage, max(1.0, 0.01 * size))
    if settings.mouth_mask:
        dilate = int(round(settings.mouth_dilate_frac * size))
        alpha *= 1.0 - mouth_region_mask(lm, shape, dilate, max(1.0, feather_px * 0.5))
    if occluder is not None:
        alpha *= _occluder_alpha(occluder, (x0, y0, x1, y1))
    if not np.any(alpha > 1e-3):
        return MergedFace(x0, y0, np.zeros(shape, np.float32))

    target = out[y0:y1, x0:x1]
    face = transfer_color(settings.color_transfer, face, target, alpha)
    if settings.blend == "seamless":
        face = _seamless(face, target, alpha)
    alpha *= np.float32(settings.opacity)
    a = alpha[..., None]
    target[:] = np.clip(face * a + target * (1.0 - a) + 0.5, 0, 255).astype(np.uint8)
    return MergedFace(x0, y0, alpha)


def _seamless(face: np.ndarray, target: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Poisson-clone the face into the target inside alpha > 0.5 (kept 2 px off the box edges)."""
    mask = (alpha > 0.5).astype(np.uint8) * 255
    mask[:2, :] = 0
    mask[-2:, :] = 0
    mask[:, :2] = 0
    mask[:, -2:] = 0
    points = cv2.findNonZero(mask)
    if points is None or len(points) < 16:
        return face
    x, y, w, h = cv2.boundingRect(points)
    centre = (x + w // 2, y + h // 2)  # where OpenCV puts the centre of the mask box; any other point shifts it
    return cv2.seamlessClone(face, target.copy(), mask, centre, cv2.NORMAL_CLONE)
