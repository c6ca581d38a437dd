"""One frame of live face swapping: track faces, pick each face's identity, swap, merge.

``FaceSwapPipeline.process`` takes an RGB frame and returns the swapped frame
(or ``None`` when no face was found, so the caller can pass the frame on
untouched) with per-step timings.  The swapper is any :class:`FaceSwapper`:
``landmark`` (no weights), ``onnx_oneshot`` or ``dfm``.

Several faces: faces are put in slots, by order of appearance (track id) or
left to right; slot i gets ``mapping[i]`` when given (an identity index, or -1
to leave that face alone), else identity ``i mod count``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol, Sequence

import numpy as np

from realtime_models.face.alignment import FrameRegion
from realtime_models.face.identity import Identity
from realtime_models.face.merge import MergedFace, MergeSettings, merge_face
from realtime_models.face.segmentation import PersonSegmenter
from realtime_models.face.tracking import FaceTracker, TrackedFace

SWAPPER_NAMES = ("landmark", "onnx_oneshot", "dfm")
FACE_ORDERS = ("appearance", "left_to_right")
OCCLUSION_MODES = ("none", "segmentation", "actor_mask")


class FaceSwapper(Protocol):
    """Replaces one face: returns the swapped face and its coverage in a frame region."""

    name: str
    needs_identity: bool

    def swap(self, frame_rgb: np.ndarray, landmarks_px: np.ndarray, identity: Identity | None,
             track_id: int = 0) -> FrameRegion | None: ...

    def forget(self, live_track_ids: set[int]) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class IdentityAssignment:
    order: str = "appearance"
    mapping: tuple[int, ...] = ()  # slot -> identity index; -1 leaves that face alone

    def __post_init__(self) -> None:
        if self.order not in FACE_ORDERS:
            raise ValueError(f"face order must be one of {', '.join(FACE_ORDERS)}, got {self.order!r}")


def parse_identity_map(text: str) -> tuple[int, ...]:
    """``"1, 0, -1"`` -> (1, 0, -1): identity index per face slot (-1 = leave that face)."""
    text = text.strip()
    if not text:
        return ()
    try:
        values = tuple(int(part) for part in text.replace(";", ",").split(","))
    except ValueError:
        raise ValueError(f"identity map must be comma-separated whole numbers (-1 = no swap), got {text!r}") from None
    if any(v < -1 for v in values):
        raise ValueError(f"identity map entries must be >= -1, got {text!r}")
    return values


def assign_identities(faces: Sequence[TrackedFace], identity_count: int,
                      assignment: IdentityAssignment) -> dict[int, int | None]:
    """track id -> identity index (None: leave the face)."""
    if assignment.order == "left_to_right":
        ordered = sorted(faces, key=lambda f: f.centre_px[0])
    else:
        ordered = sorted(faces, key=lambda f: f.track_id)
    out: dict[int, int | None] = {}
    for slot, face in enumerate(ordered):
        if identity_count <= 0:
            out[face.track_id] = None
            continue
        index = assignment.mapping[slot] if slot < len(assignment.mapping) else slot % identity_count
        out[face.track_id] = None if index < 0 or index >= identity_count else index
    return out


@dataclass
class FaceSwapTimings:
    detect_ms: float = 0.0
    landmarks_ms: float = 0.0
    swap_ms: float = 0.0
    merge_ms: float = 0.0
    total_ms: float = 0.0


@dataclass
class FaceSwapResult:
    image: np.ndarray | None  # None: no face swapped, the frame is unchanged
    faces: list[TrackedFace]
    identities: dict[int, int | None]
    merged: dict[int, MergedFace] = field(default_factory=dict)
    timings: FaceSwapTimings = field(default_factory=FaceSwapTimings)


class FaceSwapPipeline:
    """Owns nothing but the segmenter; the tracker and swapper are given (and may be replaced)."""

    def __init__(self, tracker: FaceTracker, swapper: FaceSwapper) -> None:
        self.tracker = tracker
        self.swapper = swapper
        self._segmenter: PersonSegmenter | None = None

    def _occluder(self, rgb: np.ndarray, occlusion: str, actor_mask: np.ndarray | None) -> np.ndarray | None:
        if occlusion == "none":
            return None
        if occlusion == "actor_mask":
            if actor_mask is None:
                raise ValueError("occlusion 'actor_mask' needs the engine's actor mask on every frame "
                                 "(declare mask=true in HELLO and send a U8 mask plane)")
            if actor_mask.shape[:2] != rgb.shape[:2]:
                raise ValueError(f"actor mask is {actor_mask.shape[:2]}, the frame {rgb.shape[:2]}")
            return actor_mask
        if occlusion == "segmentation":
            if self._segmenter is None:
                self._segmenter = PersonSegmenter("landscape")
            return self._segmenter.person_mask(rgb)
        raise ValueError(f"occlusion must be one of {', '.join(OCCLUSION_MODES)}, got {occlusion!r}")

    def process(self, rgb: np.ndarray, t_s: float, identities: Sequence[Identity], merge: MergeSettings,
                assignment: IdentityAssignment = IdentityAssignment(), occlusion: str = "none",
                actor_mask: np.ndarray | None = None) -> FaceSwapResult:
        start = time.perf_counter()
        faces = self.tracker.update(rgb, t_s)
        timings = FaceSwapTimings(detect_ms=self.tracker.last_detect_ms, landmarks_ms=self.tracker.last_landmarks_ms)
        self.swapper.forget({f.track_id for f in faces})
        if self.swapper.needs_identity:
            chosen = assign_identities(faces, len(identities), assignment)
        else:
            chosen = assign_identities(faces, 1, assignment)  # the model is the identity; the map can skip faces
        result = FaceSwapResult(None, faces, chosen, timings=timings)
        todo = [f for f in faces if chosen.get(f.track_id) is not None]
        if not todo:
            timings.total_ms = (time.perf_counter() - start) * 1000.0
            return result
        t0 = time.perf_counter()
        occluder = self._occluder(rgb, occlusion, actor_mask)
        out = rgb.copy()
        merge_s = time.perf_counter() - t0
        swap_s = 0.0
        for face in todo:
            index = chosen[face.track_id]
            identity = identities[index] if self.swapper.needs_identity and index is not None else None
            t0 = time.perf_counter()
            region = self.swapper.swap(rgb, face.landmarks_px, identity, face.track_id)
            t1 = time.perf_counter()
            swap_s += t1 - t0
            if region is not None:
                merged = merge_face(out, region, face.landmarks_px, merge, occluder)
                if merged is not None:
                    result.merged[face.track_id] = merged
            merge_s += time.perf_counter() - t1
        result.image = out
        timings.swap_ms = swap_s * 1000.0
        timings.merge_ms = merge_s * 1000.0
        timings.total_ms = (time.perf_counter() - start) * 1000.0
        return result

    def close(self) -> None:
        if self._segmenter is not None:
            self._segmenter.close()
            self._segmenter = None
