"""MediaPipe's legacy solutions for markerless capture: pose, hands, face mesh (models ship in the package).

``mediapipe==0.10.14`` still ships the ``mp.solutions`` graphs with their ``.tflite`` models
inside the wheel. Some settings name a model that is *not* shipped (pose ``model_complexity``
0 and 2): the graph would then download it at run time, which this project never does, so
`check_shipped_model` refuses such settings up front with the missing path in the message.

The wrappers here are pure: an RGB ``uint8`` array in, numpy arrays out (no threads, no
capture); every coordinate stays in MediaPipe's own axes (image: x right, y down; world and
depth: z away from the camera) and `mocap.markerless.landmarks` converts them once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from realtime_models.mediapipe_import import REQUIRED_MEDIAPIPE
from realtime_models.mediapipe_import import import_mediapipe as shared_import_mediapipe

log = logging.getLogger(__name__)


POSE_MODEL_FILES = {
    0: "pose_landmark/pose_landmark_lite.tflite",
    1: "pose_landmark/pose_landmark_full.tflite",
    2: "pose_landmark/pose_landmark_heavy.tflite",
}
HAND_MODEL_FILES = {0: "hand_landmark/hand_landmark_lite.tflite", 1: "hand_landmark/hand_landmark_full.tflite"}
FACE_MESH_MODEL_FILE = "face_landmark/face_landmark_with_attention.tflite"
POSE_DETECTOR_FILE = "pose_detection/pose_detection.tflite"


def import_mediapipe() -> ModuleType:
    """The ``mediapipe`` module, or an ImportError saying how to install the pinned version."""
    return shared_import_mediapipe("markerless and face capture")


def modules_dir() -> Path:
    """The folder of MediaPipe's shipped graphs and models (``mediapipe/modules``)."""
    mp = import_mediapipe()
    return Path(mp.__file__).resolve().parent / "modules"


def check_shipped_model(relative_path: str, what: str) -> Path:
    """Path of a model that ships in the mediapipe wheel; FileNotFoundError naming it if absent."""
    path = modules_dir() / relative_path
    if not path.is_file():
        raise FileNotFoundError(
            f"{what} needs the model file {path}, which this mediapipe install does not ship; "
            f"mediapipe would download it at run time and this project never downloads weights "
            f"(use a setting whose model ships with mediapipe=={REQUIRED_MEDIAPIPE})"
        )
    return path


def check_rgb_frame(rgb: np.ndarray) -> None:
    """ValueError naming the problem unless ``rgb`` is an HxWx3 uint8 array."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(
            f"markerless capture needs an RGB uint8 HxWx3 frame, got {getattr(rgb, 'dtype', type(rgb).__name__)} "
            f"with shape {getattr(rgb, 'shape', None)}"
        )
    if rgb.shape[0] < 16 or rgb.shape[1] < 16:
        raise ValueError(f"frame of {rgb.shape[1]}x{rgb.shape[0]} px is too small for landmark models")


@dataclass
class RawPoseLandmarks:
    """MediaPipe Pose output for one person, in MediaPipe's axes.

    ``world_m``: (33, 3) metres, origin between the hips, x right / y down / z away from the
    camera (as seen in the image); ``image_px``: (33, 3) pixels x, y and a relative depth in
    pixels; ``visibility``: (33,) 0..1, how likely each landmark is visible (not occluded, in frame).
    """

    world_m: np.ndarray
    image_px: np.ndarray
    visibility: np.ndarray
    image_size: tuple[int, int]  # width, height


@dataclass
class RawHandLandmarks:
    """One MediaPipe hand: ``world_m`` (21, 3) metres around the hand's centre, ``image_px`` (21, 3),
    ``label`` as MediaPipe reports it (it assumes a mirrored selfie picture) and its ``score``."""

    world_m: np.ndarray
    image_px: np.ndarray
    label: str
    score: float


def _landmark_array(landmarks: object, width: float, height: float, count: int) -> np.ndarray:
    points = np.array([(p.x, p.y, p.z) for p in landmarks.landmark], dtype=np.float64)  # type: ignore[attr-defined]
    if points.shape != (count, 3):
        raise RuntimeError(f"MediaPipe returned {points.shape[0]} landmarks, expected {count}")
    points[:, 0] *= width
    points[:, 1] *= height
    points[:, 2] *= width
    return points


class MediaPipePose:
    """MediaPipe Pose (BlazePose GHUM full, the model that ships) with 3D world landmarks.

    ``video=True`` tracks between frames (the detector only runs when the person is lost);
    ``smooth_landmarks`` is off by default so `mocap.markerless.one_euro` is the one smoothing.
    """

    def __init__(
        self,
        video: bool = True,
        model_complexity: int = 1,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        smooth_landmarks: bool = False,
    ) -> None:
        if model_complexity not in POSE_MODEL_FILES:
            raise ValueError(f"pose model_complexity must be 0, 1 or 2, got {model_complexity}")
        mp = import_mediapipe()
        check_shipped_model(POSE_MODEL_FILES[model_complexity], f"pose model_complexity={model_complexity}")
        check_shipped_model(POSE_DETECTOR_FILE, "the pose detector")
        self._graph = mp.solutions.pose.Pose(
            static_image_mode=not video,
            model_complexity=model_complexity,
            smooth_landmarks=smooth_landmarks,
            enable_segmentation=False,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )

    def detect(self, rgb: np.ndarray) -> RawPoseLandmarks | None:
        """Landmarks of the most prominent person in ``rgb``, or None when nobody is found."""
        check_rgb_frame(rgb)
        height, width = rgb.shape[:2]
        result = self._graph.process(np.ascontiguousarray(rgb))
        if result.pose_landmarks is None or result.pose_world_landmarks is None:
            return None
        image = _landmark_array(result.pose_landmarks, width, height, 33)
        world = np.array([(p.x, p.y, p.z) for p in result.pose_world_landmarks.landmark], dtype=np.float64)
        visibility = np.array([p.visibility for p in result.pose_landmarks.landmark], dtype=np.float64)
        return RawPoseLandmarks(world_m=world, image_px=image, visibility=np.clip(visibility, 0.0, 1.0),
                                image_size=(width, height))

    def close(self) -> None:
        self._graph.close()

    def __enter__(self) -> MediaPipePose:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MediaPipeHands:
    """MediaPipe Hands (21 landmarks per hand, with world landmarks in metres)."""

    def __init__(self, video: bool = True, model_complexity: int = 1, max_hands: int = 2,
                 min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5) -> None:
        if model_complexity not in HAND_MODEL_FILES:
            raise ValueError(f"hand model_complexity must be 0 or 1, got {model_complexity}")
        mp = import_mediapipe()
        check_shipped_model(HAND_MODEL_FILES[model_complexity], f"hand model_complexity={model_complexity}")
        self._graph = mp.solutions.hands.Hands(
            static_image_mode=not video,
            model_complexity=model_complexity,
            max_num_hands=max_hands,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )

    def detect(self, rgb: np.ndarray) -> list[RawHandLandmarks]:
        check_rgb_frame(rgb)
        height, width = rgb.shape[:2]
        result = self._graph.process(np.ascontiguousarray(rgb))
        if not result.multi_hand_landmarks or not result.multi_hand_world_landmarks:
            return []
        hands = []
        for image_lm, world_lm, handedness in zip(
            result.multi_hand_landmarks, result.multi_hand_world_landmarks, result.multi_handedness
        ):
            classification = handedness.classification[0]
            hands.append(
                RawHandLandmarks(
                    world_m=np.array([(p.x, p.y, p.z) for p in world_lm.landmark], dtype=np.float64),
                    image_px=_landmark_array(image_lm, width, height, 21),
                    label=str(classification.label),
                    score=float(classification.score),
                )
            )
        return hands

    def close(self) -> None:
        self._graph.close()


class MediaPipeFaceMesh:
    """MediaPipe Face Mesh with iris refinement: (478, 3) pixel landmarks (z in the x pixel scale)."""

    def __init__(self, video: bool = True, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5) -> None:
        mp = import_mediapipe()
        check_shipped_model(FACE_MESH_MODEL_FILE, "face mesh with iris")
        self._graph = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=not video,
            max_num_faces=1,
            refine_landmarks=True,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )

    def detect(self, rgb: np.ndarray) -> np.ndarray | None:
        """(478, 3) landmarks of the face in ``rgb`` (pixels), or None when no face is found."""
        check_rgb_frame(rgb)
        height, width = rgb.shape[:2]
        result = self._graph.process(np.ascontiguousarray(rgb))
        if not result.multi_face_landmarks:
            return None
        return _landmark_array(result.multi_face_landmarks[0], width, height, 478)

    def close(self) -> None:
        self._graph.close()

    def __enter__(self) -> MediaPipeFaceMesh:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
