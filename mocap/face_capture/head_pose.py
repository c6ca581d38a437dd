"""Head rotation from a MediaPipe face mesh, and the head-local frame the blendshapes are measured in.

The mesh (478 points, picture pixels, z in the x-pixel scale and growing away from the camera)
is converted to the canonical axes with the same negation as the body landmarks
(`mocap.markerless.landmarks.mediapipe_to_canonical`). Then a rigid frame is fitted to parts of
the face that expressions do not move:

* X (the performer's right) is the sum of ``right - left`` over `SYMMETRIC_RIGID_PAIRS`
  (eye corners, temples, cheek outline, nose wings): bilateral symmetry makes it exact without
  any reference face;
* Y (up) is from the subnasale (2) to the mean of the glabella and forehead midline points
  (168, 9, 151), made perpendicular to X — on frontal portraits this line is within a few
  degrees of vertical;
* Z = X x Y (forward, out of the face).

The head's rotation in the canonical camera-aligned world is the matrix [X Y Z] (the frame of a
face looking straight into the camera, upright, is the identity). `head_euler_deg` gives
Unity's Euler angles (``Quaternion.Euler(pitch, yaw, roll)``, R = Ry Rx Rz): positive yaw turns
the face to the performer's right, positive pitch tilts it down, positive roll tilts it towards
the performer's left shoulder (clockwise in the unmirrored picture).

Landmarks expressed in this frame (`to_head_local`), relative to the glabella and divided by the
outer-eye-corner distance, are what `mocap.face_capture.blendshapes` measures: they do not
change when the head turns or the picture is scaled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mocap import quaternion as quat
from mocap.markerless.landmarks import mediapipe_to_canonical

FACE_MESH_POINTS = 478

SYMMETRIC_RIGID_PAIRS: tuple[tuple[int, int], ...] = (
    (33, 263), (133, 362), (234, 454), (127, 356), (93, 323), (162, 389), (21, 251),
    (98, 327), (129, 358), (64, 294), (116, 345), (123, 352),
)  # fmt: skip
"""(performer's right, performer's left) mesh points that expressions barely move."""

UP_TOP_POINTS = (168, 9, 151)
UP_BOTTOM_POINT = 2
ANCHOR_POINT = 168
RIGHT_EYE_OUTER = 33
LEFT_EYE_OUTER = 263


@dataclass
class HeadPose:
    """Head rotation (canonical world, quaternion xyzw), its frame matrix (columns X, Y, Z), the
    mesh's scale (outer-eye-corner distance in pixels) and its anchor (glabella, canonical px)."""

    rotation: np.ndarray
    frame: np.ndarray
    eye_distance_px: float
    anchor_px: np.ndarray


def check_face_mesh(mesh_px: np.ndarray) -> np.ndarray:
    mesh = np.asarray(mesh_px, dtype=np.float64)
    if mesh.shape != (FACE_MESH_POINTS, 3):
        raise ValueError(f"face mesh must be a (478, 3) array (MediaPipe face mesh with iris), got {mesh.shape}")
    if not np.all(np.isfinite(mesh)):
        raise ValueError("face mesh contains non-finite coordinates")
    return mesh


_RIGHT = np.array([pair[0] for pair in SYMMETRIC_RIGID_PAIRS])
_LEFT = np.array([pair[1] for pair in SYMMETRIC_RIGID_PAIRS])


def head_pose_from_mesh(mesh_px: np.ndarray) -> HeadPose:
    """The head's rigid frame and rotation from a (478, 3) MediaPipe mesh (see module doc)."""
    points = mediapipe_to_canonical(check_face_mesh(mesh_px))
    lateral = (points[_RIGHT] - points[_LEFT]).sum(axis=0)
    lateral_norm = float(np.linalg.norm(lateral))
    if lateral_norm < 1e-6:
        raise ValueError("degenerate face mesh: no left-right extent")
    x_axis = lateral / lateral_norm
    up = points[list(UP_TOP_POINTS)].mean(axis=0) - points[UP_BOTTOM_POINT]
    up = up - float(up @ x_axis) * x_axis
    up_norm = float(np.linalg.norm(up))
    if up_norm < 1e-6:
        raise ValueError("degenerate face mesh: no vertical extent")
    y_axis = up / up_norm
    z_axis = np.cross(x_axis, y_axis)
    frame = np.column_stack([x_axis, y_axis, z_axis])
    eye_distance = float(np.linalg.norm(points[RIGHT_EYE_OUTER] - points[LEFT_EYE_OUTER]))
    if eye_distance < 1e-6:
        raise ValueError("degenerate face mesh: eye corners coincide")
    return HeadPose(rotation=quat.from_matrix(frame), frame=frame, eye_distance_px=eye_distance,
                    anchor_px=points[ANCHOR_POINT].copy())


def to_head_local(mesh_px: np.ndarray, head: HeadPose) -> np.ndarray:
    """Mesh points in the head frame: relative to the glabella, in outer-eye-corner distances
    (x performer's right, y up, z forward)."""
    points = mediapipe_to_canonical(check_face_mesh(mesh_px))
    return (points - head.anchor_px) @ head.frame / head.eye_distance_px


def head_euler_deg(rotation: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) degrees of a canonical head rotation, Unity's Euler convention (see module doc)."""
    yaw, pitch, roll = quat.to_euler_deg(rotation, "YXZ")
    return float(yaw), float(pitch), float(roll)
