"""Face alignment: similarity transforms to the ArcFace 5-point template, crops and paste-back.

A face is aligned by the similarity transform (rotation, uniform scale,
translation; no shear, no mirror) that best maps its five points (eyes, nose
tip, mouth corners) onto a template, in the least-squares sense (Umeyama 1991).

* ``arcface_template(112)`` is the template ArcFace recognisers were trained
  on.  Other sizes follow insightface's ``estimate_norm``: a multiple of 112
  scales it; a multiple of 128 scales by size/128 and shifts x by 8 px per 128
  (so at 128 px the 112 template sits unscaled, shifted 8 px right: the
  inswapper_128 input).
* ``whole_face_transform`` is the whole-face variant DeepFaceLive models take:
  DeepFaceLab's landmark box with ``padding`` around it (0.40 for its
  "whole face" type), so forehead, jaw and some hair are in the crop.

``paste_back`` / ``crop_to_frame`` map a crop back through the inverse
transform into the bounding box it covers in the frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

ARCFACE_TEMPLATE_112 = np.array(
    [
        [38.2946, 51.6963],  # image-left eye
        [73.5318, 51.5014],  # image-right eye
        [56.0252, 71.7366],  # nose tip
        [41.5493, 92.3655],  # image-left mouth corner
        [70.7299, 92.2041],  # image-right mouth corner
    ],
    dtype=np.float64,
)
DFL_WHOLE_FACE_PADDING = 0.40
DFL_BOX_112_PX = 67.7  # DeepFaceLab's mean-face landmark box, measured in ArcFace-112 pixels (approximate)
DFL_BOX_CENTRE_112 = np.array([56.0, 70.5])


def arcface_template(size_px: int) -> np.ndarray:
    """The 5-point template (5x2, pixels) for a square crop of ``size_px``."""
    if size_px <= 0:
        raise ValueError(f"crop size must be positive, got {size_px}")
    if size_px % 112 == 0:
        ratio, shift_x = size_px / 112.0, 0.0
    elif size_px % 128 == 0:
        ratio = size_px / 128.0
        shift_x = 8.0 * ratio
    else:
        raise ValueError(f"ArcFace-template crops are a multiple of 112 or 128 px, got {size_px}")
    template = ARCFACE_TEMPLATE_112 * ratio
    template[:, 0] += shift_x
    return template


def whole_face_template(size_px: int, padding: float = DFL_WHOLE_FACE_PADDING) -> np.ndarray:
    """The 5 points for a whole-face crop of ``size_px`` with DeepFaceLab-style ``padding``.

    DeepFaceLab measures padding against the box of its mean landmark face
    (brows to chin; the eye centres are about 0.52 of its width apart) and makes the crop ``1 + 2 * sqrt(2) * padding`` boxes wide,
    centred on the box.  In ArcFace-112 pixels that box is about 67.7 px wide
    with its centre at (56, 70.5).
    """
    if size_px <= 0 or padding < 0:
        raise ValueError(f"whole-face crop needs size_px > 0 and padding >= 0, got {size_px}, {padding}")
    crop_in_112_px = DFL_BOX_112_PX * (1.0 + 2.0 * np.sqrt(2.0) * padding)
    return (ARCFACE_TEMPLATE_112 - DFL_BOX_CENTRE_112) / crop_in_112_px * size_px + size_px / 2.0


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 similarity matrix mapping ``src`` points onto ``dst`` with least squared error (Umeyama)."""
    src = np.asarray(src, dtype=np.float64)[:, :2]
    dst = np.asarray(dst, dtype=np.float64)[:, :2]
    if src.shape != dst.shape or src.shape[0] < 2:
        raise ValueError(f"need matching point sets of at least 2 points, got {src.shape} and {dst.shape}")
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - mu_s, dst - mu_d
    var_s = (s**2).sum() / len(s)
    if var_s < 1e-12:
        raise ValueError("the source points coincide; no transform fits them")
    cov = d.T @ s / len(s)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1.0
    rot = u @ sign @ vt
    scale = float(np.trace(np.diag(sig) @ sign)) / var_s
    matrix = np.empty((2, 3), dtype=np.float64)
    matrix[:, :2] = scale * rot
    matrix[:, 2] = mu_d - matrix[:, :2] @ mu_s
    return matrix


def arcface_transform(points5: np.ndarray, size_px: int = 112) -> np.ndarray:
    """Frame -> aligned ``size_px`` ArcFace crop."""
    return similarity_transform(points5, arcface_template(size_px))


def whole_face_transform(points5: np.ndarray, size_px: int, padding: float = DFL_WHOLE_FACE_PADDING) -> np.ndarray:
    """Frame -> aligned ``size_px`` whole-face crop (DeepFaceLab style padding around the face box)."""
    return similarity_transform(points5, whole_face_template(size_px, padding))


def transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64)[:, :2]
    return pts @ matrix[:, :2].T + matrix[:, 2]


def warp_crop(frame: np.ndarray, matrix: np.ndarray, size_px: int) -> np.ndarray:
    """The aligned square crop (edges outside the frame repeat the border pixels)."""
    return cv2.warpAffine(frame, matrix, (size_px, size_px), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def feathered_crop_mask(size_px: int, erode_frac: float = 0.1, blur_frac: float = 0.05) -> np.ndarray:
    """A float32 mask for a crop: 1 inside, eroded by ``erode_frac`` of the size, edges blurred by ``blur_frac``."""
    mask = np.zeros((size_px, size_px), np.float32)
    margin = int(round(size_px * erode_frac))
    if margin * 2 >= size_px:
        raise ValueError(f"erode_frac {erode_frac} leaves nothing of a {size_px} px crop")
    mask[margin: size_px - margin, margin: size_px - margin] = 1.0
    sigma = size_px * blur_frac / 2.0
    if sigma > 0.3:
        mask = cv2.GaussianBlur(mask, (0, 0), sigma)
    return mask


@dataclass
class FrameRegion:
    """A picture covering frame pixels [y0:y1, x0:x1]; ``alpha`` (float32 0..1) says where it is valid."""

    x0: int
    y0: int
    image: np.ndarray
    alpha: np.ndarray

    @property
    def x1(self) -> int:
        return self.x0 + self.image.shape[1]

    @property
    def y1(self) -> int:
        return self.y0 + self.image.shape[0]


def crop_box_in_frame(matrix: np.ndarray, size_px: int, frame_shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """The frame box (x0, y0, x1, y1) a crop covers, clipped to the frame; None when it is outside."""
    inverse = cv2.invertAffineTransform(matrix)
    corners = transform_points(inverse, np.array([[0, 0], [size_px, 0], [0, size_px], [size_px, size_px]], float))
    height, width = frame_shape[:2]
    x0 = max(0, int(np.floor(corners[:, 0].min())))
    y0 = max(0, int(np.floor(corners[:, 1].min())))
    x1 = min(width, int(np.ceil(corners[:, 0].max())) + 1)
    y1 = min(height, int(np.ceil(corners[:, 1].max())) + 1)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def crop_to_frame(crop: np.ndarray, matrix: np.ndarray, frame_shape: tuple[int, ...],
                  crop_mask: np.ndarray | None = None) -> FrameRegion | None:
    """Warp a crop (and its mask; default: all ones) back into the frame region it came from."""
    size_px = crop.shape[0]
    if crop.shape[1] != size_px:
        raise ValueError(f"crops are square, got {crop.shape}")
    box = crop_box_in_frame(matrix, size_px, frame_shape)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    inverse = cv2.invertAffineTransform(matrix)
    inverse[:, 2] -= (x0, y0)
    size = (x1 - x0, y1 - y0)
    image = cv2.warpAffine(crop, inverse, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    mask = np.ones((size_px, size_px), np.float32) if crop_mask is None else crop_mask.astype(np.float32, copy=False)
    alpha = cv2.warpAffine(mask, inverse, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return FrameRegion(x0, y0, image, alpha)


def paste_back(frame: np.ndarray, crop: np.ndarray, matrix: np.ndarray,
               crop_mask: np.ndarray | None = None) -> np.ndarray:
    """A copy of ``frame`` with ``crop`` blended back through the inverse of ``matrix``."""
    out = frame.copy()
    region = crop_to_frame(crop, matrix, frame.shape, crop_mask)
    if region is None:
        return out
    target = out[region.y0: region.y1, region.x0: region.x1]
    a = region.alpha[..., None]
    target[:] = np.clip(region.image * a + target * (1.0 - a) + 0.5, 0, 255).astype(np.uint8)
    return out
