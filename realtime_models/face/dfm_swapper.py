"""The ``dfm`` swapper: a user-supplied DeepFaceLive DFM model (a per-identity ONNX export from DeepFaceLab).

Contract (see the project's model-contracts reference):

* input ``in_face:0`` float32 NHWC [1, R, R, 3], BGR, 0..1; R comes from the
  model (224 is common, some use 320);
* optional input ``morph_value:0`` float32 [1]: how far towards the trained
  identity (0.75 is DeepFaceLive's default);
* outputs by position: ``out_face_mask`` [1, R, R, 1] (the performer's face
  mask), ``out_celeb_face`` [1, R, R, 3] (the swapped face, BGR 0..1),
  ``out_celeb_face_mask`` [1, R, R, 1].

The identity is baked into the model, so reference photos are not used.  The
face is cut as a whole-face crop (the ArcFace face box with 0.40 padding per
side, aligned by similarity transform) and the swapped face goes back through
the inverse transform with the product of both masks as its coverage.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from realtime_models.face.alignment import (
    DFL_WHOLE_FACE_PADDING,
    FrameRegion,
    crop_to_frame,
    warp_crop,
    whole_face_transform,
)
from realtime_models.face.identity import Identity
from realtime_models.face.mesh_topology import five_points
from realtime_models.face.onnx_io import check_run_output, check_tensor, find_input
from realtime_models.onnx_runtime_session import ModelFileError, ProvidersLike, describe_io, open_session

log = logging.getLogger(__name__)

DFM_CONTRACT = (
    "a DeepFaceLive DFM ONNX model: input 'in_face:0' float32 [1,R,R,3] (NHWC BGR 0..1), optional "
    "'morph_value:0' float32 [1], outputs face mask [1,R,R,1], celeb face [1,R,R,3], celeb mask [1,R,R,1]"
)
FACE_INPUT = "in_face:0"
MORPH_INPUT = "morph_value:0"
DEFAULT_MORPH_VALUE = 0.75


class DfmSwapper:
    name = "dfm"
    needs_identity = False

    def __init__(self, path: str | Path, providers: ProvidersLike = "auto", intra_op_threads: int | None = None,
                 padding: float = DFL_WHOLE_FACE_PADDING) -> None:
        self.path = Path(path)
        self.padding = padding
        self.morph_value = DEFAULT_MORPH_VALUE
        self._session = open_session(self.path, providers, intra_op_threads)
        face_in = find_input(self._session, FACE_INPUT, self.path, DFM_CONTRACT)
        shape = list(face_in.shape)
        res = shape[2] if len(shape) == 4 and isinstance(shape[2], int) else None  # H in NHWC (and in NCHW)
        if res is None or res < 16:
            raise ModelFileError(self.path, DFM_CONTRACT,
                                 f"input {FACE_INPUT!r} needs a fixed size [1,R,R,3], got {list(face_in.shape)}")
        check_tensor(face_in, (1, res, res, 3), self.path, DFM_CONTRACT, "input", "NHWC, BGR 0..1")
        names = {i.name for i in self._session.get_inputs()}
        extra = names - {FACE_INPUT, MORPH_INPUT}
        if extra:
            raise ModelFileError(self.path, DFM_CONTRACT,
                                 f"unexpected input(s) {sorted(extra)}; it has {describe_io(self._session)}")
        self.has_morph = MORPH_INPUT in names
        if self.has_morph:
            check_tensor(find_input(self._session, MORPH_INPUT, self.path, DFM_CONTRACT), (1,), self.path,
                         DFM_CONTRACT, "input")
        outputs = self._session.get_outputs()
        if len(outputs) < 3:
            raise ModelFileError(self.path, DFM_CONTRACT,
                                 f"it has {len(outputs)} output(s), expected 3; it has {describe_io(self._session)}")
        for node, channels, role in zip(outputs, (1, 3, 1), ("face mask", "celeb face", "celeb mask")):
            check_tensor(node, (1, res, res, channels), self.path, DFM_CONTRACT, f"output ({role})", "NHWC")
        self._output_names = [o.name for o in outputs[:3]]
        self.resolution_px = res
        log.info("dfm: %s (%d px, morph input: %s)", self.path, res, "yes" if self.has_morph else "no")

    def swap(self, frame_rgb: np.ndarray, landmarks_px: np.ndarray, identity: Identity | None = None,
             track_id: int = 0) -> FrameRegion | None:
        res = self.resolution_px
        matrix = whole_face_transform(five_points(landmarks_px), res, self.padding)
        crop = warp_crop(frame_rgb, matrix, res)
        feeds = {FACE_INPUT: np.ascontiguousarray(crop[None, :, :, ::-1].astype(np.float32) * np.float32(1 / 255))}
        if self.has_morph:
            feeds[MORPH_INPUT] = np.array([self.morph_value], np.float32)
        face_mask, celeb, celeb_mask = self._session.run(self._output_names, feeds)
        check_run_output(face_mask, (1, res, res, 1), self.path, DFM_CONTRACT, "output 0 (face mask)")
        check_run_output(celeb, (1, res, res, 3), self.path, DFM_CONTRACT, "output 1 (celeb face)")
        check_run_output(celeb_mask, (1, res, res, 1), self.path, DFM_CONTRACT, "output 2 (celeb mask)")
        swapped = np.clip(celeb[0, :, :, ::-1] * 255.0 + 0.5, 0, 255).astype(np.uint8)
        mask = np.clip(face_mask[0, :, :, 0] * celeb_mask[0, :, :, 0], 0.0, 1.0).astype(np.float32)
        return crop_to_frame(np.ascontiguousarray(swapped), matrix, frame_rgb.shape, mask)

    def forget(self, live_track_ids: set[int]) -> None:
        """Nothing is kept per face."""

    def close(self) -> None:
        pass
