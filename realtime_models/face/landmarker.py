"""478-point face meshes with MediaPipe's shipped face-landmark model.

``PhotoLandmarker`` finds every face in a still picture (detection then mesh,
MediaPipe's static-image mode): for reference photos and tests.

``CropLandmarker`` follows one face through a video.  Each frame it cuts a
square window around where the face was (``centre_px``, ``side_px``), scales it
to ``crop_px`` and runs MediaPipe's face mesh in video mode on it: MediaPipe
then derives the next region of interest from the previous mesh and skips its
own detector while the face stays found, which is the "track between
detections" half of the tracker.  Because the window follows the face, the face
sits near the window's centre at a constant size, which keeps MediaPipe's
internal tracking well-conditioned.  Points come back in frame pixels; z is in
the same pixel scale (MediaPipe's z grows away from the camera).
"""

from __future__ import annotations

import cv2
import numpy as np

from realtime_models.face.mediapipe_runtime import import_mediapipe_solutions
from realtime_models.face.mesh_topology import MESH_POINTS, MESH_POINTS_WITH_IRIS


def _mesh_array(face_landmarks, width: float, height: float) -> np.ndarray:
    pts = np.array([(p.x, p.y, p.z) for p in face_landmarks.landmark], dtype=np.float32)
    pts[:, 0] *= width
    pts[:, 1] *= height
    pts[:, 2] *= width
    return pts


def _check_rgb(rgb: np.ndarray) -> None:
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(
            f"face landmarks need an RGB uint8 HxWx3 picture, got {getattr(rgb, 'dtype', type(rgb))} "
            f"{getattr(rgb, 'shape', '')}"
        )


class PhotoLandmarker:
    """Meshes of all faces (up to ``max_faces``) in still pictures, largest first."""

    def __init__(self, max_faces: int = 4, refine_landmarks: bool = True, min_confidence: float = 0.5) -> None:
        solutions = import_mediapipe_solutions()
        self.points = MESH_POINTS_WITH_IRIS if refine_landmarks else MESH_POINTS
        self._mesh = solutions.face_mesh.FaceMesh(
            static_image_mode=True, max_num_faces=max_faces, refine_landmarks=refine_landmarks,
            min_detection_confidence=min_confidence,
        )

    def meshes(self, rgb: np.ndarray) -> list[np.ndarray]:
        _check_rgb(rgb)
        height, width = rgb.shape[:2]
        result = self._mesh.process(np.ascontiguousarray(rgb))
        meshes = [_mesh_array(f, width, height) for f in result.multi_face_landmarks or ()]
        meshes.sort(key=lambda m: -float(np.ptp(m[:, 0]) * np.ptp(m[:, 1])))
        return meshes

    def close(self) -> None:
        self._mesh.close()

    def __enter__(self) -> PhotoLandmarker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CropLandmarker:
    """One face followed through a video, meshed on a window that moves with it."""

    def __init__(self, refine_landmarks: bool = True, crop_px: int = 256, min_confidence: float = 0.5) -> None:
        if crop_px < 64:
            raise ValueError(f"crop_px must be at least 64, got {crop_px}")
        solutions = import_mediapipe_solutions()
        self.crop_px = crop_px
        self.points = MESH_POINTS_WITH_IRIS if refine_landmarks else MESH_POINTS
        self._mesh = solutions.face_mesh.FaceMesh(
            static_image_mode=False, max_num_faces=1, refine_landmarks=refine_landmarks,
            min_detection_confidence=min_confidence, min_tracking_confidence=min_confidence,
        )

    def window_matrix(self, centre_px: tuple[float, float], side_px: float) -> np.ndarray:
        """Frame -> window matrix (2x3) for a square of ``side_px`` centred on ``centre_px``."""
        scale = self.crop_px / max(float(side_px), 1.0)
        half = self.crop_px / 2.0
        return np.array(
            [[scale, 0.0, half - scale * centre_px[0]], [0.0, scale, half - scale * centre_px[1]]], dtype=np.float64
        )

    def landmarks(self, rgb: np.ndarray, centre_px: tuple[float, float], side_px: float) -> np.ndarray | None:
        """The face's mesh (points x 3, frame pixels), or None when no face is found in the window."""
        _check_rgb(rgb)
        matrix = self.window_matrix(centre_px, side_px)
        window = cv2.warpAffine(rgb, matrix, (self.crop_px, self.crop_px), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        result = self._mesh.process(window)
        if not result.multi_face_landmarks:
            return None
        pts = _mesh_array(result.multi_face_landmarks[0], self.crop_px, self.crop_px)
        scale = matrix[0, 0]
        pts[:, 0] = (pts[:, 0] - matrix[0, 2]) / scale
        pts[:, 1] = (pts[:, 1] - matrix[1, 2]) / scale
        pts[:, 2] /= scale
        return pts

    def reset(self) -> None:
        """Forget the tracked face (the next call detects inside the window again)."""
        self._mesh.reset()

    def close(self) -> None:
        self._mesh.close()
