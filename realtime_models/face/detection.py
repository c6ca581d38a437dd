"""Face detection with MediaPipe's shipped BlazeFace models (``mediapipe.solutions.face_detection``).

Two models ship inside the mediapipe package: ``short`` range (faces within
about 2 m of the camera, 128x128 input, a few ms on a CPU) and ``full`` range
(up to about 5 m, slower).  The detector returns every face with its box, its
score and six keypoints (image-left eye, image-right eye, nose tip, mouth
centre, image-left ear, image-right ear), all in frame pixels.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from realtime_models.face.mediapipe_runtime import import_mediapipe_solutions

log = logging.getLogger(__name__)

DETECTOR_RANGES = ("short", "full")


@dataclass(frozen=True)
class FaceDetection:
    box_px: tuple[float, float, float, float]  # x0, y0, x1, y1
    score: float
    keypoints_px: np.ndarray  # (6, 2)

    @property
    def centre_px(self) -> tuple[float, float]:
        return (self.box_px[0] + self.box_px[2]) / 2.0, (self.box_px[1] + self.box_px[3]) / 2.0

    @property
    def size_px(self) -> float:
        return max(self.box_px[2] - self.box_px[0], self.box_px[3] - self.box_px[1])


class FaceDetector:
    """Finds faces in RGB uint8 frames.  Not thread-safe: use one per worker."""

    def __init__(self, detector_range: str = "short", min_confidence: float = 0.5) -> None:
        if detector_range not in DETECTOR_RANGES:
            raise ValueError(f"detector range must be one of {', '.join(DETECTOR_RANGES)}, got {detector_range!r}")
        if not 0.0 < min_confidence < 1.0:
            raise ValueError(f"min_confidence must be between 0 and 1, got {min_confidence}")
        solutions = import_mediapipe_solutions()
        self.detector_range = detector_range
        self.min_confidence = min_confidence
        self._detector = solutions.face_detection.FaceDetection(
            model_selection=0 if detector_range == "short" else 1, min_detection_confidence=min_confidence
        )

    def detect(self, rgb: np.ndarray) -> list[FaceDetection]:
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"face detection needs an RGB uint8 HxWx3 frame, got {rgb.dtype} {rgb.shape}")
        height, width = rgb.shape[:2]
        result = self._detector.process(np.ascontiguousarray(rgb))
        faces: list[FaceDetection] = []
        for det in result.detections or ():
            box = det.location_data.relative_bounding_box
            x0 = max(0.0, box.xmin * width)
            y0 = max(0.0, box.ymin * height)
            x1 = min(float(width), (box.xmin + box.width) * width)
            y1 = min(float(height), (box.ymin + box.height) * height)
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            keypoints = np.array(
                [[kp.x * width, kp.y * height] for kp in det.location_data.relative_keypoints], dtype=np.float32
            )
            faces.append(FaceDetection((x0, y0, x1, y1), float(det.score[0]), keypoints))
        faces.sort(key=lambda f: -f.score)
        return faces

    def close(self) -> None:
        self._detector.close()

    def __enter__(self) -> FaceDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
