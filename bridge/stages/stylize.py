"""``stylize``: fast neural style transfer (multistyle26 blends, or style from any picture).

Parameters (all live unless noted; see docs/pipeline.md):
  model                 "multistyle26" (26 blendable styles) or "arbitrary" (style from ``style_image``)
  style                 alias: an index 0..25 sets ``style_weights`` to that one style
  style_weights         26 non-negative weights, normalised; glides, so a look can morph into another
  style_image           path of a picture whose style the "arbitrary" model copies
  strength              0..1 mix with the engine's picture; glides
  preserve_color        keep the engine's colours, take only the style's luminance
  process_long_side_px  run the network at this long side (cost grows with pixels), scale back up
  providers             (setup only) auto, cpu, cuda or tensorrt
  threads               (setup only) onnxruntime intra-op threads, 0 = one per core
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from bridge.protocol.errors import ErrorCode
from bridge.stage import StageBase, StageFrame, StreamSpec
from bridge.stage_params import ParamError, ParamSpec
from realtime_models.onnx_runtime_session import ModelFileError
from realtime_models.style_transfer import (
    STYLE_COUNT,
    ArbitraryStyleNetwork,
    MultiStyleNetwork,
    load_style_image,
    mix_strength,
    normalize_style_weights,
    preserve_colors,
)

log = logging.getLogger(__name__)


def _normalized_weights(values: list[float]) -> list[float]:
    return [float(x) for x in normalize_style_weights(values)]


def _readable_style_image(path: str) -> str:
    if not Path(path).is_file():
        raise ValueError(f"style image not found: {path}")
    return str(Path(path))


def _one_hot(index: int) -> list[float]:
    weights = [0.0] * STYLE_COUNT
    weights[index] = 1.0
    return weights


class StylizeStage(StageBase):
    TYPE = "stylize"
    PARAMS = (
        ParamSpec("model", "choice", "multistyle26", "which network", choices=("multistyle26", "arbitrary")),
        ParamSpec("style_weights", "floats", _one_hot(0), "blend of the 26 styles", lo=0.0, hi=1e6,
                  length=STYLE_COUNT, check=_normalized_weights),
        ParamSpec("style_image", "str", None, "style picture for the arbitrary model", optional=True,
                  check=_readable_style_image),
        ParamSpec("strength", "float", 1.0, "0 = engine picture, 1 = fully stylized", lo=0.0, hi=1.0),
        ParamSpec("preserve_color", "bool", False, "keep the engine's colours"),
        ParamSpec("process_long_side_px", "int", 320, "network resolution (long side)", lo=32, hi=4096),
        ParamSpec("providers", "choice", "auto", "onnxruntime execution providers",
                  choices=("auto", "cpu", "cuda", "tensorrt"), live=False),
        ParamSpec("threads", "int", 0, "onnxruntime intra-op threads (0 = per core)", lo=0, hi=256, live=False),
    )

    def __init__(self, name: str | None = None, params: dict[str, Any] | None = None) -> None:
        self._multi: MultiStyleNetwork | None = None
        self._arbitrary: ArbitraryStyleNetwork | None = None
        self._style_vectors: dict[str, np.ndarray] = {}
        self._style_pictures: dict[str, np.ndarray] = {}  # read on the control path, not the frame path
        super().__init__(name, params)
        snapshot = self.params.snapshot()
        if snapshot["model"] == "arbitrary" and snapshot["style_image"] is None:
            raise ParamError(ErrorCode.BAD_PARAM_VALUE, f"stage {self.name!r}: model 'arbitrary' needs a style_image")

    def translate_updates(self, updates: dict[str, Any]) -> dict[str, Any]:
        if "style" in updates:
            style = updates.pop("style")
            if isinstance(style, float) and style.is_integer():  # OSC faders send floats
                style = int(style)
            if isinstance(style, bool) or not isinstance(style, int) or not 0 <= style < STYLE_COUNT:
                raise ParamError(
                    ErrorCode.BAD_PARAM_VALUE, f"parameter 'style' must be a style index 0..{STYLE_COUNT - 1}, got {style!r}"
                )
            if "style_weights" in updates:
                raise ParamError(ErrorCode.BAD_PARAM_VALUE, "give either 'style' or 'style_weights', not both")
            updates["style_weights"] = _one_hot(style)
        path = updates.get("style_image")
        if isinstance(path, str):
            try:
                self._style_pictures = {str(Path(path)): load_style_image(path)}
            except (ModelFileError, OSError, ValueError) as exc:
                raise ParamError(ErrorCode.BAD_PARAM_VALUE, f"parameter 'style_image': {exc}") from None
        if updates.get("model") == "arbitrary" and updates.get("style_image") is None:
            current = self.params.get("style_image") if hasattr(self, "params") else None
            if current is None:
                raise ParamError(ErrorCode.BAD_PARAM_VALUE, "model 'arbitrary' needs a style_image (a picture path)")
        return updates

    def _providers(self) -> str:
        return self.params.get("providers")

    def _threads(self) -> int | None:
        return self.params.get("threads") or None

    def setup(self, stream: StreamSpec) -> None:
        super().setup(stream)
        self._multi = MultiStyleNetwork(providers=self._providers(), intra_op_threads=self._threads())
        if self.params.get("model") == "arbitrary":
            self._style_vector(self.params.get("style_image"))

    def _style_vector(self, path: str) -> np.ndarray:
        vector = self._style_vectors.get(path)
        if vector is None:
            if self._arbitrary is None:
                self._arbitrary = ArbitraryStyleNetwork(providers=self._providers(), intra_op_threads=self._threads())
            picture = self._style_pictures.get(path)
            vector = self._arbitrary.style_vector(picture if picture is not None else load_style_image(path))
            self._style_vectors = {path: vector}  # keep one: a long session of swaps must not grow memory
        return vector

    def process(self, frame: StageFrame) -> None:
        p = self.params.snapshot()
        rgb = frame.rgb()
        if p["model"] == "arbitrary":
            vector = self._style_vector(p["style_image"])
            assert self._arbitrary is not None
            stylized = self._arbitrary.stylize(rgb, vector)
        else:
            assert self._multi is not None, "setup() was not called"
            stylized = self._multi.stylize(rgb, np.asarray(p["style_weights"], dtype=np.float32),
                                           p["process_long_side_px"])
        if p["preserve_color"]:
            stylized = preserve_colors(stylized, rgb)
        frame.image = mix_strength(stylized, rgb, p["strength"])

    def close(self) -> None:
        self._multi = None
        self._arbitrary = None
        self._style_vectors.clear()
