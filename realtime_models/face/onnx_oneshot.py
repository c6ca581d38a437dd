"""The ``onnx_oneshot`` swapper: an inswapper-style one-shot model plus an ArcFace recogniser.

Both models are user-supplied and loaded only from the paths the user gives
(inswapper_128's licence is non-commercial; this project ships no weights and
downloads none).  Contract (see the project's model-contracts reference):

* recogniser (w600k_r50 family): input float32 [N, 3, 112, 112], RGB,
  ``(x - 127.5) / 127.5``, a 112 px crop aligned to the ArcFace template;
  output [N, 512] embedding.
* swapper: inputs ``target`` float32 [1, 3, R, R] (RGB, ``x / 255``, the
  face aligned to the R px ArcFace template; R = 128 for inswapper_128) and
  ``source`` float32 [1, 512]; output ``output`` [1, 3, R, R] RGB 0..1.
  ``source`` = the identity's normalised embedding times ``emap`` (the
  512x512 matrix stored as the graph's last initializer), divided by its norm.

The identity's embedding is the normalised mean of the normalised embeddings
of all its reference photos (a micro dataset averages out pose and light).
The swapped crop goes back through the inverse alignment with a feathered
square mask (eroded by a tenth of the crop, blurred by a twentieth); the
merge step then applies the face hull, colour transfer and blending.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from realtime_models.face.alignment import (
    FrameRegion,
    arcface_template,
    arcface_transform,
    crop_to_frame,
    feathered_crop_mask,
    warp_crop,
)
from realtime_models.face.identity import Identity
from realtime_models.face.mesh_topology import five_points
from realtime_models.face.onnx_io import check_run_output, check_tensor, find_input, find_output
from realtime_models.onnx_runtime_session import ModelFileError, ProvidersLike, describe_io, open_session

log = logging.getLogger(__name__)

ARCFACE_INPUT_PX = 112
EMBEDDING_SIZE = 512
RECOGNISER_CONTRACT = "an ArcFace recogniser ONNX model: input float32 [N,3,112,112] (NCHW RGB), output [N,512]"
SWAPPER_CONTRACT = (
    "an inswapper-style ONNX model: inputs 'target' float32 [1,3,R,R] (NCHW RGB 0..1) and 'source' float32 "
    "[1,512], output 'output' [1,3,R,R], and the 512x512 emap as the graph's last initializer"
)


def _normalised(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm) or norm < 1e-12:
        raise ValueError("embedding has zero or non-finite length")
    return vector / norm


class ArcFaceRecognizer:
    """Identity embeddings from aligned 112 px face crops."""

    def __init__(self, path: str | Path, providers: ProvidersLike = "auto", intra_op_threads: int | None = None) -> None:
        self.path = Path(path)
        self._session = open_session(self.path, providers, intra_op_threads)
        inputs = self._session.get_inputs()
        if len(inputs) != 1:
            raise ModelFileError(self.path, RECOGNISER_CONTRACT,
                                 f"it has {len(inputs)} inputs; it has {describe_io(self._session)}")
        self._input = inputs[0]
        check_tensor(self._input, (None, 3, ARCFACE_INPUT_PX, ARCFACE_INPUT_PX), self.path, RECOGNISER_CONTRACT,
                     "input", "NCHW, RGB")
        output = self._session.get_outputs()[0]
        if output.shape and isinstance(output.shape[-1], int) and output.shape[-1] != EMBEDDING_SIZE:
            raise ModelFileError(self.path, RECOGNISER_CONTRACT,
                                 f"output {output.name!r} has shape {list(output.shape)}, expected [N, 512]")
        self._output_name = output.name

    def embed_crop(self, crop_rgb: np.ndarray) -> np.ndarray:
        """The normalised (512,) embedding of an aligned 112x112 RGB uint8 crop."""
        if crop_rgb.shape != (ARCFACE_INPUT_PX, ARCFACE_INPUT_PX, 3):
            raise ValueError(f"ArcFace crops are 112x112x3, got {crop_rgb.shape}")
        blob = ((crop_rgb.astype(np.float32) - 127.5) / 127.5).transpose(2, 0, 1)[None]
        (out,) = self._session.run([self._output_name], {self._input.name: np.ascontiguousarray(blob)})
        check_run_output(out, (1, EMBEDDING_SIZE), self.path, RECOGNISER_CONTRACT, "the embedding")
        return _normalised(out[0].astype(np.float32))

    def embed_face(self, rgb: np.ndarray, landmarks_px: np.ndarray) -> np.ndarray:
        matrix = arcface_transform(five_points(landmarks_px), ARCFACE_INPUT_PX)
        return self.embed_crop(warp_crop(rgb, matrix, ARCFACE_INPUT_PX))

    def identity_embedding(self, identity: Identity) -> np.ndarray:
        """Normalised mean of the normalised embeddings of every reference face."""
        embeddings = [self.embed_face(face.image, face.landmarks_px) for face in identity.faces]
        return _normalised(np.mean(embeddings, axis=0)).astype(np.float32)


def read_emap(path: Path) -> np.ndarray:
    """The 512x512 ``emap`` matrix: the last initializer of the swapper's ONNX graph."""
    import onnx
    from onnx import numpy_helper

    try:
        model = onnx.load(str(path))
    except Exception as exc:  # onnx raises DecodeError and friends
        raise ModelFileError(path, SWAPPER_CONTRACT, f"onnx cannot read it: {type(exc).__name__}: {exc}") from exc
    if not model.graph.initializer:
        raise ModelFileError(path, SWAPPER_CONTRACT, "the graph has no initializers, so no emap")
    last = model.graph.initializer[-1]
    emap = numpy_helper.to_array(last)
    if emap.shape != (EMBEDDING_SIZE, EMBEDDING_SIZE):
        raise ModelFileError(path, SWAPPER_CONTRACT,
                             f"its last initializer {last.name!r} has shape {list(emap.shape)}, expected the 512x512 emap")
    return emap.astype(np.float32)


class OneShotSwapper:
    """Swaps faces to an identity given by its reference photos' ArcFace embedding."""

    name = "onnx_oneshot"
    needs_identity = True

    def __init__(self, swap_model_path: str | Path, arcface_model_path: str | Path,
                 providers: ProvidersLike = "auto", intra_op_threads: int | None = None) -> None:
        self.path = Path(swap_model_path)
        self._session = open_session(self.path, providers, intra_op_threads)
        target = find_input(self._session, "target", self.path, SWAPPER_CONTRACT)
        source = find_input(self._session, "source", self.path, SWAPPER_CONTRACT)
        if len(self._session.get_inputs()) != 2:
            raise ModelFileError(self.path, SWAPPER_CONTRACT,
                                 f"it has {len(self._session.get_inputs())} inputs; it has {describe_io(self._session)}")
        shape = list(target.shape)
        res = shape[2] if len(shape) == 4 and isinstance(shape[2], int) else None
        if res is None:
            raise ModelFileError(self.path, SWAPPER_CONTRACT,
                                 f"input 'target' needs a fixed square size, got shape {list(target.shape)}")
        check_tensor(target, (1, 3, res, res), self.path, SWAPPER_CONTRACT, "input", "NCHW, RGB 0..1")
        try:
            arcface_template(res)
        except ValueError as exc:
            raise ModelFileError(self.path, SWAPPER_CONTRACT, f"input 'target' size {res}: {exc}") from None
        check_tensor(source, (1, EMBEDDING_SIZE), self.path, SWAPPER_CONTRACT, "input")
        output = find_output(self._session, "output", self.path, SWAPPER_CONTRACT)
        check_tensor(output, (1, 3, res, res), self.path, SWAPPER_CONTRACT, "output", "NCHW, RGB 0..1")
        self.resolution_px = res
        self.emap = read_emap(self.path)
        self.recognizer = ArcFaceRecognizer(arcface_model_path, providers, intra_op_threads)
        self._sources: dict[int, tuple[Identity, np.ndarray]] = {}
        self._crop_mask = feathered_crop_mask(res, 0.1, 0.05)
        log.info("onnx_oneshot: swapper %s (%d px), recogniser %s", self.path, res, self.recognizer.path)

    def source_vector(self, identity: Identity) -> np.ndarray:
        """(1, 512) float32: normalised identity embedding x emap, normalised."""
        cached = self._sources.get(id(identity))
        if cached is not None and cached[0] is identity:
            return cached[1]
        latent = self.recognizer.identity_embedding(identity).reshape(1, -1) @ self.emap
        latent = (latent / np.linalg.norm(latent)).astype(np.float32)
        if len(self._sources) >= 8:  # identities swapped live: keep the cache bounded
            self._sources.pop(next(iter(self._sources)))
        self._sources[id(identity)] = (identity, latent)
        return latent

    def swap(self, frame_rgb: np.ndarray, landmarks_px: np.ndarray, identity: Identity | None,
             track_id: int = 0) -> FrameRegion | None:
        if identity is None:
            raise ValueError("onnx_oneshot needs an identity (reference photos) to swap to")
        res = self.resolution_px
        matrix = arcface_transform(five_points(landmarks_px), res)
        crop = warp_crop(frame_rgb, matrix, res)
        blob = np.ascontiguousarray((crop.astype(np.float32) * np.float32(1 / 255)).transpose(2, 0, 1)[None])
        (out,) = self._session.run(["output"], {"target": blob, "source": self.source_vector(identity)})
        check_run_output(out, (1, 3, res, res), self.path, SWAPPER_CONTRACT, "output 'output'")
        swapped = np.clip(out[0].transpose(1, 2, 0) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return crop_to_frame(swapped, matrix, frame_rgb.shape, self._crop_mask)

    def forget(self, live_track_ids: set[int]) -> None:
        """Nothing is kept per face (the cache is per identity)."""

    def close(self) -> None:
        self._sources.clear()
