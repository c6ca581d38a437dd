"""MediaPipe's legacy solutions for the face stage (face detection, face mesh, selfie segmentation)."""

from __future__ import annotations

from types import ModuleType

from realtime_models.mediapipe_import import REQUIRED_MEDIAPIPE, import_mediapipe

__all__ = ["REQUIRED_MEDIAPIPE", "import_mediapipe_solutions"]


def import_mediapipe_solutions() -> ModuleType:
    """``mediapipe.solutions``, or an ImportError saying how to install the pinned version."""
    return import_mediapipe("the face stage").solutions
