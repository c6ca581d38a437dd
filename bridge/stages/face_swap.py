"""``face_swap``: performers' faces replaced live by another identity (realtime_models.face).

Parameters (all live unless noted; every one can be changed over CONTROL/OSC):
  swapper               "landmark" (default, no weights: the identity's photo warped onto the performer's
                        face mesh), "onnx_oneshot" (user-supplied inswapper-style + ArcFace models) or
                        "dfm" (a user-supplied DeepFaceLive model)
  identities            the person(s) to swap in: photo, folder of photos or sample:grace_hopper /
                        sample:astronaut; several separated by ';' (alias: identity)
  identity_map          identity index per face slot, e.g. "1,0" or "0,-1" (-1 leaves that face); empty: slot i
                        gets identity i mod count
  face_order            how faces fill slots: "appearance" (track id) or "left_to_right"
  swap_model_path       inswapper-style ONNX model (onnx_oneshot); loaded only from this path
  arcface_model_path    ArcFace recogniser ONNX model (onnx_oneshot)
  dfm_model_path        DeepFaceLive .dfm ONNX model (dfm)
  morph_value           dfm: how far towards the trained identity, 0..1
  max_faces, detect_interval, detector_range, min_confidence, refine_landmarks: tracking
  smoothing, smooth_min_cutoff_hz, smooth_beta, smooth_d_cutoff_hz: One-Euro landmark smoothing
  color_transfer        "rct", "lct" or "none"
  mask_erode_frac, mask_blur_frac: face mask erosion and soft edge, fractions of the face size
  mouth_mask, mouth_dilate_frac: keep the performer's real mouth
  occlusion             "none", "segmentation" (MediaPipe person mask) or "actor_mask" (the engine's mask)
  blend                 "alpha" or "seamless"
  opacity               0..1; glides
  providers, threads    (setup only) onnxruntime execution providers and intra-op threads

Models are loaded, and identity photos read, on the stage's worker: at set-up,
and after a live change on the next frame.  A change that fails to load
(e.g. a model that breaks its contract) is reported once as that frame's error
and the previous models stay in use until the parameter changes again.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from bridge.protocol.errors import ErrorCode
from bridge.stage import StageBase, StageFrame, StageSetupError, StreamSpec
from bridge.stage_params import ParamError, ParamSpec
from realtime_models.face.color_transfer import COLOR_TRANSFER_MODES
from realtime_models.face.detection import DETECTOR_RANGES
from realtime_models.face.dfm_swapper import DfmSwapper
from realtime_models.face.identity import Identity, IdentityError, load_identity, parse_identity_list
from realtime_models.face.landmark_swapper import LandmarkSwapper
from realtime_models.face.landmarker import PhotoLandmarker
from realtime_models.face.merge import BLEND_MODES, MergeSettings
from realtime_models.face.one_euro import OneEuroSettings
from realtime_models.face.onnx_oneshot import OneShotSwapper
from realtime_models.face.pipeline import (
    FACE_ORDERS,
    OCCLUSION_MODES,
    SWAPPER_NAMES,
    FaceSwapper,
    FaceSwapPipeline,
    FaceSwapResult,
    IdentityAssignment,
    parse_identity_map,
)
from realtime_models.face.tracking import FaceTracker, TrackerSettings
from realtime_models.onnx_runtime_session import ModelFileError

log = logging.getLogger(__name__)

_MODEL_PATH_PARAMS = {"onnx_oneshot": ("swap_model_path", "arcface_model_path"), "dfm": ("dfm_model_path",)}


def _identity_list(text: str) -> str:
    try:
        parse_identity_list(text)
    except IdentityError as exc:
        raise ValueError(str(exc)) from None
    return text


def _identity_map(text: str) -> str:
    parse_identity_map(text)
    return text


def _model_file(path: str) -> str:
    if not Path(path).is_file():
        raise ValueError(f"model file not found: {path}")
    return path


class FaceSwapStage(StageBase):
    TYPE = "face_swap"
    PARAMS = (
        ParamSpec("swapper", "choice", "landmark", "which swapper", choices=SWAPPER_NAMES),
        ParamSpec("identities", "str", "sample:grace_hopper", "photo, folder or sample:NAME; several with ';'",
                  check=_identity_list),
        ParamSpec("identity_map", "str", "", "identity index per face slot, -1 = leave the face", check=_identity_map),
        ParamSpec("face_order", "choice", "appearance", "how faces fill slots", choices=FACE_ORDERS),
        ParamSpec("swap_model_path", "str", None, "inswapper-style ONNX model (onnx_oneshot)", optional=True,
                  check=_model_file),
        ParamSpec("arcface_model_path", "str", None, "ArcFace recogniser ONNX model (onnx_oneshot)", optional=True,
                  check=_model_file),
        ParamSpec("dfm_model_path", "str", None, "DeepFaceLive DFM ONNX model (dfm)", optional=True,
                  check=_model_file),
        ParamSpec("morph_value", "float", 0.75, "dfm: towards the trained identity", lo=0.0, hi=1.0),
        ParamSpec("max_faces", "int", 4, "faces tracked at most", lo=1, hi=16),
        ParamSpec("detect_interval", "int", 5, "frames between full-frame detections", lo=1, hi=300),
        ParamSpec("detector_range", "choice", "short", "short (< 2 m) or full (< 5 m) range detector",
                  choices=DETECTOR_RANGES),
        ParamSpec("min_confidence", "float", 0.5, "detection/tracking confidence", lo=0.05, hi=0.95),
        ParamSpec("refine_landmarks", "bool", True, "478 points with irises (else 468)"),
        ParamSpec("smoothing", "bool", True, "One-Euro smoothing of landmarks"),
        ParamSpec("smooth_min_cutoff_hz", "float", 2.0, "smoothing at rest (lower = smoother)", lo=0.01, hi=60.0),
        ParamSpec("smooth_beta", "float", 5.0, "cutoff rise per face size/s of speed (higher = less lag)",
                  lo=0.0, hi=1000.0),
        ParamSpec("smooth_d_cutoff_hz", "float", 1.0, "smoothing of the speed estimate", lo=0.01, hi=60.0),
        ParamSpec("color_transfer", "choice", "rct", "colour matching inside the mask", choices=COLOR_TRANSFER_MODES),
        ParamSpec("mask_erode_frac", "float", 0.03, "face mask erosion, of the face size", lo=0.0, hi=0.5),
        ParamSpec("mask_blur_frac", "float", 0.08, "soft mask edge width, of the face size", lo=0.0, hi=0.5),
        ParamSpec("mouth_mask", "bool", False, "keep the performer's real mouth"),
        ParamSpec("mouth_dilate_frac", "float", 0.03, "mouth mask growth, of the face size", lo=0.0, hi=0.5),
        ParamSpec("occlusion", "choice", "none", "what may cover the face", choices=OCCLUSION_MODES),
        ParamSpec("blend", "choice", "alpha", "feathered alpha or seamless (Poisson) blend", choices=BLEND_MODES),
        ParamSpec("opacity", "float", 1.0, "0 = performer, 1 = swapped face", lo=0.0, hi=1.0),
        ParamSpec("providers", "choice", "auto", "onnxruntime execution providers",
                  choices=("auto", "cpu", "cuda", "tensorrt"), live=False),
        ParamSpec("threads", "int", 0, "onnxruntime intra-op threads (0 = per core)", lo=0, hi=256, live=False),
    )

    def __init__(self, name: str | None = None, params: dict[str, Any] | None = None) -> None:
        self._pipeline: FaceSwapPipeline | None = None
        self._swapper_key: tuple | None = None
        self._identity_key: str | None = None
        self._identities: list[Identity] = []
        self._identity_cache: dict[str, Identity] = {}
        self._photo_landmarker: PhotoLandmarker | None = None
        self._failed_keys: set[tuple] = set()
        self.last_result: FaceSwapResult | None = None
        super().__init__(name, params)
        self._check_model_paths(self.params.snapshot())

    # ------------------------------------------------------------------ control path
    def translate_updates(self, updates: dict[str, Any]) -> dict[str, Any]:
        if "identity" in updates:
            if "identities" in updates:
                raise ParamError(ErrorCode.BAD_PARAM_VALUE, "give either 'identity' or 'identities', not both")
            updates["identities"] = updates.pop("identity")
        touched = {"swapper", "swap_model_path", "arcface_model_path", "dfm_model_path"} & set(updates)
        if hasattr(self, "params") and touched:
            self._check_model_paths({**self.params.snapshot(), **updates})
        return updates

    @staticmethod
    def _check_model_paths(values: dict[str, Any]) -> None:
        missing = [name for name in _MODEL_PATH_PARAMS.get(values["swapper"], ()) if not values.get(name)]
        if missing:
            raise ParamError(ErrorCode.BAD_PARAM_VALUE,
                             f"swapper {values['swapper']!r} needs {' and '.join(missing)} (user-supplied model files)")

    # ------------------------------------------------------------------ models
    def _threads(self) -> int | None:
        return self.params.get("threads") or None

    def _swapper_config(self, p: dict[str, Any]) -> tuple:
        return (p["swapper"], *(p[name] for name in _MODEL_PATH_PARAMS.get(p["swapper"], ())))

    def _build_swapper(self, key: tuple) -> FaceSwapper:
        providers = self.params.get("providers")
        if key[0] == "landmark":
            return LandmarkSwapper()
        if key[0] == "onnx_oneshot":
            return OneShotSwapper(key[1], key[2], providers, self._threads())
        return DfmSwapper(key[1], providers, self._threads())

    def _load_identities(self, text: str) -> list[Identity]:
        identities = []
        for source in parse_identity_list(text):
            identity = self._identity_cache.get(source)
            if identity is None:
                if self._photo_landmarker is None:
                    self._photo_landmarker = PhotoLandmarker(max_faces=4, refine_landmarks=True)
                identity = load_identity(source, self._photo_landmarker)
            identities.append(identity)
        self._identity_cache = {i.source: i for i in identities}  # keep only what is in use
        return identities

    @staticmethod
    def _tracker_settings(p: dict[str, Any]) -> TrackerSettings:
        return TrackerSettings(
            max_faces=p["max_faces"], detect_interval=p["detect_interval"], detector_range=p["detector_range"],
            min_confidence=p["min_confidence"], refine_landmarks=p["refine_landmarks"], smoothing=p["smoothing"],
            one_euro=OneEuroSettings(p["smooth_min_cutoff_hz"], p["smooth_beta"], p["smooth_d_cutoff_hz"]),
        )

    def _sync_models(self, p: dict[str, Any]) -> None:
        """Bring swapper and identities in line with the parameters (on the worker thread)."""
        assert self._pipeline is not None
        key = self._swapper_config(p)
        if key != self._swapper_key and key not in self._failed_keys:
            try:
                swapper = self._build_swapper(key)
            except (ModelFileError, ValueError, OSError) as exc:
                self._failed_keys.add(key)
                raise RuntimeError(f"swapper {key[0]!r} could not load; keeping {self._swapper_key[0]!r}: {exc}") from exc
            self._pipeline.swapper.close()
            self._pipeline.swapper = swapper
            self._swapper_key = key
            self._failed_keys.clear()
        if self._pipeline.swapper.needs_identity and p["identities"] != self._identity_key:
            id_key = ("identities", p["identities"])
            if id_key not in self._failed_keys:
                try:
                    self._identities = self._load_identities(p["identities"])
                except IdentityError as exc:
                    self._failed_keys.add(id_key)
                    raise RuntimeError(f"identities could not load; keeping the previous ones: {exc}") from exc
                self._identity_key = p["identities"]
        self._pipeline.tracker.reconfigure(self._tracker_settings(p))

    # ------------------------------------------------------------------ stage
    def setup(self, stream: StreamSpec) -> None:
        super().setup(stream)
        p = self.params.snapshot()
        if p["occlusion"] == "actor_mask" and not stream.has_mask:
            raise StageSetupError(
                f"face_swap occlusion 'actor_mask' needs the actor mask, but stream {stream.stream_id} "
                f"({stream.name!r}) was declared without one: declare mask=true in HELLO or use another occlusion"
            )
        key = self._swapper_config(p)
        try:
            swapper = self._build_swapper(key)
            if swapper.needs_identity:
                self._identities = self._load_identities(p["identities"])
                self._identity_key = p["identities"]
        except (ModelFileError, IdentityError, ValueError, OSError) as exc:
            raise StageSetupError(f"face_swap ({key[0]}): {exc}") from exc
        self._swapper_key = key
        self._pipeline = FaceSwapPipeline(FaceTracker(self._tracker_settings(p)), swapper)

    def process(self, frame: StageFrame) -> None:
        if self._pipeline is None:
            raise RuntimeError("face_swap: setup() was not called")
        p = self.params.snapshot()
        self._sync_models(p)
        if isinstance(self._pipeline.swapper, DfmSwapper):
            self._pipeline.swapper.morph_value = p["morph_value"]
        merge = MergeSettings(
            color_transfer=p["color_transfer"], mask_erode_frac=p["mask_erode_frac"],
            mask_blur_frac=p["mask_blur_frac"], mouth_mask=p["mouth_mask"],
            mouth_dilate_frac=p["mouth_dilate_frac"], blend=p["blend"], opacity=p["opacity"],
        )
        assignment = IdentityAssignment(p["face_order"], parse_identity_map(p["identity_map"]))
        result = self._pipeline.process(
            frame.rgb(), frame.t_capture_ns / 1e9, self._identities, merge, assignment, p["occlusion"], frame.mask
        )
        self.last_result = result
        if result.image is not None:
            frame.image = result.image

    def close(self) -> None:
        if self._pipeline is not None:
            self._pipeline.swapper.close()
            self._pipeline.tracker.close()
            self._pipeline.close()
            self._pipeline = None
        if self._photo_landmarker is not None:
            self._photo_landmarker.close()
            self._photo_landmarker = None
        self._identity_cache.clear()
        self._identities = []
