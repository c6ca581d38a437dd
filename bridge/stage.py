"""The Stage seam: what a pipeline stage is, what it sees of its stream, and the frame it works on.

A stage is set up once for a stream (it may load models then), processes
frames one at a time on its own worker thread, and is closed when the stream
ends.  Stages read and replace ``StageFrame.image`` (RGB uint8) and may read
the untouched engine picture, depth, actor mask and camera.  Stage classes are
registered by type name so pipeline configs can name them; the model code they
wrap lives in ``realtime_models`` and knows nothing of the bridge.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, runtime_checkable

import cv2
import numpy as np

from bridge.protocol.messages import CameraInfo
from bridge.stage_params import StageParams

_TO_RGB = {"RGBA8": cv2.COLOR_RGBA2RGB, "BGRA8": cv2.COLOR_BGRA2RGB}
_FROM_RGB = {"RGBA8": cv2.COLOR_RGB2RGBA, "BGRA8": cv2.COLOR_RGB2BGRA}


class StageSetupError(Exception):
    """A stage could not start (missing model file, stream lacks a plane it needs, ...)."""


@dataclass(frozen=True)
class StreamSpec:
    """What a stage knows of the stream it serves."""

    engine: str
    stream_id: int
    name: str
    width: int
    height: int
    color_format: str
    depth_format: str | None
    has_mask: bool
    fps: float


@dataclass
class StageFrame:
    """One frame travelling through a pipeline.

    ``input_color`` is a zero-copy view of the engine's colour plane in its wire
    format; ``image`` is the current picture as contiguous RGB uint8, or None
    while no stage has changed it (so a passthrough returns the engine's bytes
    without converting them).
    """

    index: int
    t_capture_ns: int
    t_received_ns: int
    input_color: np.ndarray
    input_format: str
    depth: np.ndarray | None = None
    mask: np.ndarray | None = None
    camera: CameraInfo | None = None
    timecode: str | None = None
    image: np.ndarray | None = None
    held: bool = False
    stage_us: dict[str, int] = field(default_factory=dict)
    keepalive: Any = None  # the received message parts that the views point into
    input_color_plane: Any = None  # the received colour Plane, forwarded as is when nothing changed the picture
    _original_rgb: np.ndarray | None = None

    def original_rgb(self) -> np.ndarray:
        """The engine's picture as contiguous RGB uint8 (converted once, then cached)."""
        if self._original_rgb is None:
            code = _TO_RGB.get(self.input_format)
            self._original_rgb = (
                cv2.cvtColor(self.input_color, code) if code is not None else np.ascontiguousarray(self.input_color)
            )
        return self._original_rgb

    def rgb(self) -> np.ndarray:
        """The current picture (the last stage's output, or the engine's picture) as RGB uint8."""
        return self.image if self.image is not None else self.original_rgb()


def rgb_to_format(rgb: np.ndarray, fmt: str) -> np.ndarray:
    """Convert an RGB uint8 picture to a wire colour format (alpha 255)."""
    code = _FROM_RGB.get(fmt)
    return cv2.cvtColor(rgb, code) if code is not None else np.ascontiguousarray(rgb)


@runtime_checkable
class Stage(Protocol):
    """A pipeline stage; ``params`` holds its live-controllable parameters."""

    name: str
    params: StageParams

    def setup(self, stream: StreamSpec) -> None: ...

    def process(self, frame: StageFrame) -> None: ...

    def close(self) -> None: ...


class StageBase:
    """Shared plumbing: name, params built from the class's PARAMS, no-op setup/close.

    Subclasses set ``TYPE`` and ``PARAMS`` and implement ``process``.  Parameter
    aliases (e.g. ``style`` for a one-hot ``style_weights``) go in
    ``translate_updates``, which the control path and the config both use.
    """

    TYPE = "base"
    PARAMS: tuple = ()
    # True only for stages whose process() does no real work (never blocks, O(1)): a pipeline made
    # only of such stages runs on the receiving thread, saving the thread hand-off (~0.1 ms) per frame.
    RUNS_INLINE = False

    def __init__(self, name: str | None = None, params: Mapping[str, Any] | None = None) -> None:
        self.name = name or self.TYPE
        self.params = StageParams.build(self.PARAMS, self.translate_updates(dict(params or {})), stage=self.name)

    def translate_updates(self, updates: dict[str, Any]) -> dict[str, Any]:
        return updates

    def setup(self, stream: StreamSpec) -> None:
        self.stream = stream

    def process(self, frame: StageFrame) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        pass


# type name -> "module:Class"; imported on first use so unused stages cost nothing.
STAGE_TYPES: dict[str, str] = {
    "passthrough": "bridge.stages.passthrough:PassthroughStage",
    "stylize": "bridge.stages.stylize:StylizeStage",
    "film_look": "bridge.stages.film_look:FilmLookStage",
    "cadence": "bridge.stages.cadence:CadenceStage",
    "composite": "bridge.stages.composite:CompositeStage",
    "face_swap": "bridge.stages.face_swap:FaceSwapStage",
    "diffusion": "bridge.stages.diffusion:DiffusionStage",
}


def stage_class(type_name: str) -> type:
    target = STAGE_TYPES.get(type_name)
    if target is None:
        raise StageSetupError(f"unknown stage type {type_name!r} (known: {', '.join(sorted(STAGE_TYPES))})")
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def create_stage(type_name: str, name: str | None = None, params: Mapping[str, Any] | None = None) -> StageBase:
    return stage_class(type_name)(name=name, params=params)
