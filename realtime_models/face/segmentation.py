"""Person segmentation with MediaPipe's shipped selfie-segmentation models (occlusion masks).

Two models ship inside mediapipe: ``general`` (256x256 input) and
``landscape`` (144x256, faster).  ``person_mask`` returns float32 0..1 at the
frame's size: 1 where the person is.  Used as an occlusion mask, it keeps
whatever is not the person (a prop or a hand-held object in front of the
face) out of the swapped face.
"""

from __future__ import annotations

import numpy as np

from realtime_models.face.mediapipe_runtime import import_mediapipe_solutions

SEGMENTATION_MODELS = ("general", "landscape")


class PersonSegmenter:
    def __init__(self, model: str = "landscape") -> None:
        if model not in SEGMENTATION_MODELS:
            raise ValueError(f"segmentation model must be one of {', '.join(SEGMENTATION_MODELS)}, got {model!r}")
        solutions = import_mediapipe_solutions()
        self.model = model
        self._segmenter = solutions.selfie_segmentation.SelfieSegmentation(
            model_selection=0 if model == "general" else 1
        )

    def person_mask(self, rgb: np.ndarray) -> np.ndarray:
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"segmentation needs an RGB uint8 HxWx3 frame, got {rgb.dtype} {rgb.shape}")
        result = self._segmenter.process(np.ascontiguousarray(rgb))
        return np.clip(np.asarray(result.segmentation_mask, dtype=np.float32), 0.0, 1.0)

    def close(self) -> None:
        self._segmenter.close()
