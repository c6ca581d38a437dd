"""Importing MediaPipe's legacy solutions (the models ship inside the ``mediapipe`` package).

mediapipe 0.10.14 still ships the ``mp.solutions`` graphs together with their
.tflite models (face detection, face mesh with attention, selfie
segmentation); newer releases ship no models, so the version is pinned.
"""

from __future__ import annotations

import logging
import os
import warnings
from types import ModuleType

log = logging.getLogger(__name__)

REQUIRED_MEDIAPIPE = "0.10.14"


def import_mediapipe_solutions() -> ModuleType:
    """``mediapipe.solutions``, or an ImportError saying how to install the pinned version."""
    os.environ.setdefault("GLOG_minloglevel", "2")  # keep TFLite's start-up chatter out of the log
    # mediapipe 0.10.14 calls a protobuf API that protobuf 4.x flags on every graph run
    warnings.filterwarnings("ignore", message=r"SymbolDatabase\.GetPrototype\(\) is deprecated")
    try:
        import mediapipe as mp
        from mediapipe.python import solutions
    except ImportError as exc:
        raise ImportError(
            f"the face stage needs mediapipe=={REQUIRED_MEDIAPIPE} (its legacy solutions ship the face models): "
            f"pip install 'machinima-bridge[face]' ({exc})"
        ) from exc
    version = getattr(mp, "__version__", "?")
    if version != REQUIRED_MEDIAPIPE:
        log.warning("mediapipe %s is installed; the face stage is tested with %s", version, REQUIRED_MEDIAPIPE)
    return solutions
