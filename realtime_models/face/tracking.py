"""Several faces followed through a video with stable ids: detect every N frames, track in between.

Each frame, every live track re-meshes its face on a window that follows it
(:class:`CropLandmarker`, MediaPipe's face mesh in video mode, which skips
detection while the face stays found).  Every ``detect_interval`` frames, and
whenever a track lost its face or no face is tracked, the full-frame detector
runs: a detection that falls inside a track's box confirms it (and re-seeds a
track that lost its face), a detection that matches no track starts a new one
with the next id, up to ``max_faces``.  A track that finds no face for more
than ``max_missed_frames`` frames in a row ends; ids are never reused, so a
face that leaves and comes back gets a new id while the others keep theirs.

Landmarks are smoothed per track with the One-Euro filter (speed in face sizes
per second).  The window follows the raw (unsmoothed) mesh so tracking never
lags behind the face.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from realtime_models.face.detection import FaceDetection, FaceDetector
from realtime_models.face.landmarker import CropLandmarker
from realtime_models.face.mesh_topology import bounding_box, box_iou, face_size_px
from realtime_models.face.one_euro import OneEuroFilter, OneEuroSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackerSettings:
    max_faces: int = 4
    detect_interval: int = 5  # frames between full-frame detections while faces are tracked
    detector_range: str = "short"
    min_confidence: float = 0.5
    refine_landmarks: bool = True  # 478 points (with irises) instead of 468
    smoothing: bool = True
    one_euro: OneEuroSettings = field(default_factory=OneEuroSettings)
    window_scale: float = 2.0  # side of the tracking window / face size
    max_missed_frames: int = 2
    window_px: int = 256  # the tracking window is scaled to this before meshing

    def __post_init__(self) -> None:
        if self.max_faces < 1 or self.detect_interval < 1 or self.max_missed_frames < 0:
            raise ValueError(f"tracker needs max_faces >= 1, detect_interval >= 1, max_missed_frames >= 0: {self}")
        if not 1.2 <= self.window_scale <= 4.0:
            raise ValueError(f"window_scale must be within 1.2..4.0, got {self.window_scale}")


@dataclass
class TrackedFace:
    """One face in one frame: ``landmarks_px`` are smoothed, ``raw_landmarks_px`` as measured."""

    track_id: int
    landmarks_px: np.ndarray
    raw_landmarks_px: np.ndarray
    box_px: tuple[float, float, float, float]
    size_px: float
    age_frames: int

    @property
    def centre_px(self) -> tuple[float, float]:
        return (self.box_px[0] + self.box_px[2]) / 2.0, (self.box_px[1] + self.box_px[3]) / 2.0


class _Track:
    def __init__(self, track_id: int, landmarker: CropLandmarker, one_euro: OneEuroSettings) -> None:
        self.track_id = track_id
        self.landmarker = landmarker
        self.filter = OneEuroFilter(one_euro)
        self.raw: np.ndarray | None = None
        self.smoothed: np.ndarray | None = None
        self.prev_centre: tuple[float, float] | None = None
        self.missed = 0
        self.age = 0
        self.seen_this_frame = False

    @property
    def box(self) -> tuple[float, float, float, float]:
        assert self.raw is not None
        return bounding_box(self.raw)

    @property
    def centre(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.box
        return (x0 + x1) / 2.0, (y0 + y1) / 2.0

    def window(self, scale: float) -> tuple[tuple[float, float], float]:
        """Where to look this frame: last centre moved on by the last step (capped), and its size."""
        assert self.raw is not None
        size = face_size_px(self.raw)
        cx, cy = self.centre
        if self.prev_centre is not None and self.missed == 0:
            vx, vy = cx - self.prev_centre[0], cy - self.prev_centre[1]
            step = float(np.hypot(vx, vy))
            cap = 0.25 * size
            if step > cap:
                vx, vy = vx * cap / step, vy * cap / step
            cx, cy = cx + vx, cy + vy
        return (cx, cy), size * scale

    def observe(self, points: np.ndarray, t_s: float, smoothing: bool) -> None:
        if self.raw is not None:
            self.prev_centre = self.centre
        self.raw = points
        self.smoothed = self.filter(points, t_s, face_size_px(points)) if smoothing else points
        self.missed = 0
        self.seen_this_frame = True

    def snapshot(self) -> TrackedFace:
        assert self.raw is not None and self.smoothed is not None
        return TrackedFace(self.track_id, self.smoothed, self.raw, bounding_box(self.smoothed),
                           face_size_px(self.smoothed), self.age)


class FaceTracker:
    """``update(rgb, t_s)`` returns the faces found in this frame, ordered by track id."""

    def __init__(self, settings: TrackerSettings | None = None) -> None:
        self.settings = settings or TrackerSettings()
        s = self.settings
        self._detector = FaceDetector(s.detector_range, s.min_confidence)
        self._tracks: list[_Track] = []
        self._idle: list[CropLandmarker] = []  # meshes of ended tracks, reused after a reset
        self._next_id = 0
        self._frames_since_detect = 0
        self.last_detect_ms = 0.0
        self.last_landmarks_ms = 0.0
        self.last_detected = False
        self.detections_run = 0

    @property
    def track_ids(self) -> list[int]:
        return [t.track_id for t in self._tracks]

    def _landmarker(self) -> CropLandmarker:
        if self._idle:
            landmarker = self._idle.pop()
            landmarker.reset()
            return landmarker
        s = self.settings
        return CropLandmarker(s.refine_landmarks, s.window_px, s.min_confidence)

    def _end(self, track: _Track) -> None:
        self._idle.append(track.landmarker)
        log.debug("face track %d ended after %d frames", track.track_id, track.age)

    def _seed(self, track: _Track, det: FaceDetection, rgb: np.ndarray, t_s: float) -> bool:
        track.landmarker.reset()
        points = track.landmarker.landmarks(rgb, det.centre_px, det.size_px * self.settings.window_scale * 1.1)
        if points is None:
            return False
        if track.raw is None:
            track.prev_centre = None
        track.observe(points, t_s, self.settings.smoothing)
        return True

    def update(self, rgb: np.ndarray, t_s: float | None = None) -> list[TrackedFace]:
        s = self.settings
        t_s = time.monotonic() if t_s is None else t_s
        start = time.perf_counter()
        for track in self._tracks:
            track.seen_this_frame = False
            centre, side = track.window(s.window_scale)
            points = track.landmarker.landmarks(rgb, centre, side)
            if points is not None and self._plausible(track, points):
                track.observe(points, t_s, s.smoothing)
            else:
                track.missed += 1
        landmarks_s = time.perf_counter() - start
        self._frames_since_detect += 1
        need_detect = (
            not self._tracks
            or self._frames_since_detect >= s.detect_interval
            or any(t.missed for t in self._tracks)
        )
        self.last_detect_ms = 0.0
        self.last_detected = need_detect
        if need_detect:
            landmarks_s += self._detect_and_associate(rgb, t_s)
        for track in list(self._tracks):
            if track.missed > s.max_missed_frames:
                self._tracks.remove(track)
                self._end(track)
        self._drop_duplicates()
        for track in self._tracks:
            if track.seen_this_frame:
                track.age += 1
        self.last_landmarks_ms = landmarks_s * 1000.0
        return [t.snapshot() for t in self._tracks if t.seen_this_frame]

    def _plausible(self, track: _Track, points: np.ndarray) -> bool:
        assert track.raw is not None
        ratio = face_size_px(points) / face_size_px(track.raw)
        return 0.5 < ratio < 2.0

    def _detect_and_associate(self, rgb: np.ndarray, t_s: float) -> float:
        """Runs the detector, confirms/re-seeds/starts tracks; returns the landmark seconds spent."""
        start = time.perf_counter()
        detections = self._detector.detect(rgb)
        self.last_detect_ms = (time.perf_counter() - start) * 1000.0
        self.detections_run += 1
        self._frames_since_detect = 0
        landmarks_s = 0.0
        claimed: set[int] = set()
        for det in detections:
            cx, cy = det.centre_px
            owner = None
            for track in self._tracks:
                if track.raw is None or track.track_id in claimed:
                    continue
                x0, y0, x1, y1 = track.box
                if x0 <= cx <= x1 and y0 <= cy <= y1:
                    owner = track
                    break
            t0 = time.perf_counter()
            if owner is not None:
                claimed.add(owner.track_id)
                if not owner.seen_this_frame:
                    self._seed(owner, det, rgb, t_s)
            elif len(self._tracks) < self.settings.max_faces:
                track = _Track(self._next_id, self._landmarker(), self.settings.one_euro)
                if self._seed(track, det, rgb, t_s) and not any(
                    box_iou(track.box, other.box) > 0.4 for other in self._tracks if other.raw is not None
                ):
                    self._next_id += 1
                    self._tracks.append(track)
                    log.debug("face track %d started at %s", track.track_id, det.box_px)
                else:
                    self._idle.append(track.landmarker)
            landmarks_s += time.perf_counter() - t0
        return landmarks_s

    def _drop_duplicates(self) -> None:
        """Two tracks on one face (a window drifted onto a neighbour): keep the older."""
        keep: list[_Track] = []
        for track in self._tracks:  # oldest first: ids grow with time
            if track.raw is not None and any(box_iou(track.box, k.box) > 0.5 for k in keep if k.raw is not None):
                self._end(track)
                continue
            keep.append(track)
        self._tracks = keep

    def reconfigure(self, settings: TrackerSettings) -> None:
        """Apply new settings live.  Changing the detector range, the confidence or the mesh variant
        restarts tracking (new models); other changes keep the tracks.  Ids keep counting up."""
        old = self.settings
        if settings == old:
            return
        self.settings = settings
        if (settings.detector_range, settings.min_confidence) != (old.detector_range, old.min_confidence):
            self._detector.close()
            self._detector = FaceDetector(settings.detector_range, settings.min_confidence)
        if (settings.refine_landmarks, settings.min_confidence, settings.window_px) != (
            old.refine_landmarks, old.min_confidence, old.window_px
        ):
            self.reset()
            for landmarker in self._idle:
                landmarker.close()
            self._idle = []
            return
        for track in self._tracks:
            track.filter.settings = settings.one_euro
        while len(self._tracks) > settings.max_faces:
            self._end(self._tracks.pop())

    def reset(self) -> None:
        for track in self._tracks:
            self._end(track)
        self._tracks = []
        self._frames_since_detect = 0

    def close(self) -> None:
        self.reset()
        for landmarker in self._idle:
            landmarker.close()
        self._idle = []
        self._detector.close()
