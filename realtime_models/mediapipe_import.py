"""Importing the pinned MediaPipe, whose legacy ``mp.solutions`` ship their models inside the wheel.

mediapipe 0.10.14 still ships the solutions graphs with their .tflite models (face detection and
mesh, selfie segmentation, pose, hands); newer releases ship no models, so the version is pinned.
Shared by the face stage (``realtime_models.face``) and markerless capture (``mocap.markerless``).
"""

from __future__ import annotations

import logging
import os
import warnings
from types import ModuleType

log = logging.getLogger(__name__)

REQUIRED_MEDIAPIPE = "0.10.14"


def import_mediapipe(purpose: str) -> ModuleType:
    """The ``mediapipe`` module, or an ImportError saying ``purpose`` needs the pinned version."""
    os.environ.setdefault("GLOG_minloglevel", "2")  # keep TFLite's start-up chatter out of the log
    # mediapipe 0.10.14 calls a protobuf API that protobuf 4.x flags on every graph run
    warnings.filterwarnings("ignore", message=r"SymbolDatabase\.GetPrototype\(\) is deprecated")
    try:
        import mediapipe as mp
        from mediapipe.python import solutions  # noqa: F401  (fails early on a broken install)
    except ImportError as exc:
        raise ImportError(
            f"{purpose} needs mediapipe=={REQUIRED_MEDIAPIPE} (its legacy solutions ship the models): "
            f"pip install 'machinima-bridge[face]' ({exc})"
        ) from exc
    version = getattr(mp, "__version__", "?")
    if version != REQUIRED_MEDIAPIPE:
        log.warning("mediapipe %s is installed; %s is tested with %s", version, purpose, REQUIRED_MEDIAPIPE)
    return mp
