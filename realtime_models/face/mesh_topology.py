"""Named regions of MediaPipe's 468/478-point face mesh and the points derived from them.

MediaPipe's face mesh numbers its vertices the same way on every face, so the
face outline, the eyes and the lips are fixed index lists.  "Right" and "left"
are the subject's: the subject's right eye appears on the image's left.  With
``refine_landmarks`` the mesh has 478 points; 468..472 are the subject's right
iris (centre first) and 473..477 the left iris.

The five alignment points (ArcFace order: image-left eye, image-right eye, nose
tip, image-left mouth corner, image-right mouth corner) come from the eye
contour centroids, the nose point 4 and mouth corners 61 and 291.  Point 4
(just above the tip) rather than the tip 1: measured on the test portraits,
point 1 lands 4-6 px (at 112 px) below the template's nose and point 4 within
about 2 px, because the template's nose comes from detector annotations, not
from the mesh's tip.
"""

from __future__ import annotations

import numpy as np

MESH_POINTS = 468
MESH_POINTS_WITH_IRIS = 478

# Closed outline of the face, clockwise from the top of the forehead.
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)
# Eye openings (lid contours), subject's right eye = image left.
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
RIGHT_EYEBROW = (46, 53, 52, 65, 55, 70, 63, 105, 66, 107)
LEFT_EYEBROW = (276, 283, 282, 295, 285, 300, 293, 334, 296, 336)
# Lips: the outer outline and the inner opening, each a closed polygon.
LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
LIPS_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191)
NOSE_TIP = 1
ALIGNMENT_NOSE = 4
MOUTH_CORNER_IMAGE_LEFT = 61
MOUTH_CORNER_IMAGE_RIGHT = 291
FOREHEAD_TOP = 10
CHIN_BOTTOM = 152
CHEEK_IMAGE_LEFT = 234
CHEEK_IMAGE_RIGHT = 454

# A sparse, well-spread subset used to compare head poses between faces.
POSE_POINTS = (
    *FACE_OVAL[::3], 33, 133, 362, 263, 1, 4, 6, 168, 61, 291, 13, 14, 70, 105, 300, 334, 152, 10,
)

_RIGHT_EYE_IDX = np.array(RIGHT_EYE)
_LEFT_EYE_IDX = np.array(LEFT_EYE)


def check_mesh(landmarks: np.ndarray) -> None:
    if not isinstance(landmarks, np.ndarray) or landmarks.ndim != 2 or landmarks.shape[0] not in (
        MESH_POINTS, MESH_POINTS_WITH_IRIS
    ) or landmarks.shape[1] < 2:
        shape = getattr(landmarks, "shape", None)
        raise ValueError(f"landmarks must be a (468|478, 2|3) array of face-mesh points, got shape {shape}")


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """The 5 ArcFace alignment points (5x2 float32, pixels) from a face mesh."""
    check_mesh(landmarks)
    xy = landmarks[:, :2]
    return np.array(
        [
            xy[_RIGHT_EYE_IDX].mean(axis=0),
            xy[_LEFT_EYE_IDX].mean(axis=0),
            xy[ALIGNMENT_NOSE],
            xy[MOUTH_CORNER_IMAGE_LEFT],
            xy[MOUTH_CORNER_IMAGE_RIGHT],
        ],
        dtype=np.float32,
    )


def face_size_px(landmarks: np.ndarray) -> float:
    """A rotation-independent face size: the larger of forehead-chin and cheek-cheek distance."""
    xy = landmarks[:, :2]
    height = float(np.linalg.norm(xy[FOREHEAD_TOP] - xy[CHIN_BOTTOM]))
    width = float(np.linalg.norm(xy[CHEEK_IMAGE_LEFT] - xy[CHEEK_IMAGE_RIGHT]))
    return max(height, width, 1.0)


def bounding_box(points: np.ndarray) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of a point set's first two columns."""
    xy = points[:, :2]
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def box_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def head_pose_deg(landmarks: np.ndarray) -> tuple[float, float, float]:
    """Approximate (yaw, pitch, roll) in degrees from the mesh's 3-D points.

    Roll is the eye line's angle; yaw and pitch come from the face's depth
    axis, the normal of the plane through the cheeks, forehead and chin.
    MediaPipe's z grows away from the camera.  Good enough to compare poses,
    not a calibrated head pose.
    """
    check_mesh(landmarks)
    pts = landmarks[:, :3] if landmarks.shape[1] >= 3 else np.c_[landmarks[:, :2], np.zeros(len(landmarks))]
    right = pts[CHEEK_IMAGE_RIGHT] - pts[CHEEK_IMAGE_LEFT]
    down = pts[CHIN_BOTTOM] - pts[FOREHEAD_TOP]
    normal = np.cross(down, right)  # points towards the camera (negative z) for a frontal face
    normal = normal / (np.linalg.norm(normal) + 1e-9)
    yaw = float(np.degrees(np.arctan2(normal[0], -normal[2])))
    pitch = float(np.degrees(np.arctan2(normal[1], -normal[2])))
    eyes = five_points(landmarks)
    dx, dy = eyes[1] - eyes[0]
    roll = float(np.degrees(np.arctan2(dy, dx)))
    return yaw, pitch, roll
