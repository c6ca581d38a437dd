"""Per-frame costs of markerless body capture and face capture, each beside the bare MediaPipe call.

`measure_markerless_costs` builds a 640x480 clip in memory from real public-domain photos
(scikit-image's CC0 ``camera`` photo of a standing man for the body, its ``astronaut`` NASA
portrait for the face) moved and scaled a little every frame, so MediaPipe tracks between frames
as it does on a webcam. For each frame it runs, interleaved on the same frame:

* the bare MediaPipe graph (``mp.solutions.pose.Pose.process`` / ``FaceMesh.process``),
* the full capture (`MarkerlessBodyCapture.process` / `FaceCapture.process`: model, landmark
  extraction, conversion to bone rotations or blendshapes, smoothing, root motion),

and reports medians in milliseconds, plus the conversion alone (the tracker fed stored
landmarks) so the cost of this project's code is visible next to the model's.
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable

import cv2
import numpy as np

from mocap.markerless.mediapipe_runtime import import_mediapipe

FRAME_WIDTH_PX = 640
FRAME_HEIGHT_PX = 480
WEBCAM_POSE_TARGET_MS = 40.0


def _clip(photo: np.ndarray, frames: int, base_scale: float, centre_y_px: float) -> list[np.ndarray]:
    """``frames`` 640x480 RGB frames of ``photo`` drifting sideways and breathing in scale."""
    height, width = photo.shape[:2]
    clip = []
    for index in range(frames):
        phase = 2.0 * np.pi * index / max(frames, 1)
        scale = base_scale * (1.0 + 0.05 * np.sin(phase))
        tx = FRAME_WIDTH_PX / 2 + 30.0 * np.sin(phase)
        ty = centre_y_px + 8.0 * np.cos(phase)
        matrix = np.array([[scale, 0.0, tx - width / 2 * scale], [0.0, scale, ty - height / 2 * scale]], np.float32)
        clip.append(cv2.warpAffine(photo, matrix, (FRAME_WIDTH_PX, FRAME_HEIGHT_PX), borderValue=(120, 120, 120)))
    return clip


def body_clip(frames: int = 60) -> list[np.ndarray]:
    import skimage.data

    photo = cv2.cvtColor(skimage.data.camera(), cv2.COLOR_GRAY2RGB)
    return _clip(photo, frames, base_scale=0.9, centre_y_px=250.0)


def face_clip(frames: int = 60) -> list[np.ndarray]:
    import skimage.data

    return _clip(skimage.data.astronaut(), frames, base_scale=0.9, centre_y_px=240.0)


def _median_ms(samples_s: list[float]) -> float:
    return round(statistics.median(samples_s) * 1000.0, 3)


def _side_by_side(clip: Any, bare: Callable[[Any], Any], full: Callable[[Any, float], tuple[bool, Any]],
                  warmup: int) -> tuple[list[float], list[float], int, list[Any]]:
    """Each frame through the bare MediaPipe call and through our capture, timed in the same loop.

    Returns the times after ``warmup`` frames (bare, full), how many of those found someone, and what
    ``full`` kept of every frame (landmarks to time the conversion alone afterwards)."""
    bare_times: list[float] = []
    full_times: list[float] = []
    found = 0
    kept: list[Any] = []
    for index, rgb in enumerate(clip):
        started = time.perf_counter()
        bare(rgb)
        bare_s = time.perf_counter() - started
        started = time.perf_counter()
        hit, item = full(rgb, index / 30.0)
        full_s = time.perf_counter() - started
        if index >= warmup:
            bare_times.append(bare_s)
            full_times.append(full_s)
            found += int(hit)
        if item is not None:
            kept.append(item)
    return bare_times, full_times, found, kept


def _each_timed(items: list[Any], convert: Callable[[Any, float], Any]) -> list[float]:
    times = []
    for index, item in enumerate(items):
        started = time.perf_counter()
        convert(item, index / 30.0)
        times.append(time.perf_counter() - started)
    return times


def _summary(full_times: list[float], bare_times: list[float],
             conversion_times: list[float]) -> tuple[float, float, float, float]:
    """Medians in ms of our capture, the bare MediaPipe call and the conversion alone, and capture / bare."""
    full_ms, bare_ms = _median_ms(full_times), _median_ms(bare_times)
    conversion_ms = _median_ms(conversion_times) if conversion_times else float("nan")
    return full_ms, bare_ms, conversion_ms, round(full_ms / bare_ms, 3) if bare_ms else float("nan")


def _check_counts(frames: int, warmup: int) -> None:
    if frames < 1 or warmup < 0:
        raise ValueError(f"need frames >= 1 and warmup >= 0, got {frames}, {warmup}")


def measure_body_costs(frames: int = 60, warmup: int = 5) -> dict[str, float | int]:
    """Markerless body capture: ``webcam_pose_ms`` beside ``mediapipe_pose_ms`` and the conversion alone."""
    from mocap.markerless.body_tracker import MarkerlessBodyCapture, MarkerlessBodyTracker

    _check_counts(frames, warmup)
    mp = import_mediapipe()
    bare_pose = mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1, smooth_landmarks=False)
    body = MarkerlessBodyCapture(video=True)

    def full(rgb: Any, t_s: float) -> tuple[bool, Any]:
        result = body.process(rgb, t_s)
        return result.found, result.landmarks

    try:
        bare_times, full_times, found, stored = _side_by_side(body_clip(frames + warmup), bare_pose.process, full,
                                                              warmup)
    finally:
        bare_pose.close()
        body.close()
    full_ms, bare_ms, conversion_ms, ratio = _summary(full_times, bare_times,
                                                      _each_timed(stored, MarkerlessBodyTracker().update))
    return {
        "webcam_pose_ms": full_ms,
        "mediapipe_pose_ms": bare_ms,
        "pose_conversion_ms": conversion_ms,
        "webcam_pose_over_bare": ratio,
        "webcam_pose_target_ms": WEBCAM_POSE_TARGET_MS,
        "body_frames_found": found,
    }


def measure_webcam_pose_ms(frames: int = 30, warmup: int = 5) -> dict[str, float | int]:
    """The body figures for ``machinima-bridge bench mocap`` (a shorter run of `measure_body_costs`)."""
    return measure_body_costs(frames, warmup)


def measure_face_costs(frames: int = 60, warmup: int = 5) -> dict[str, float | int]:
    """Face capture: ``face_capture_ms`` beside ``mediapipe_face_mesh_ms`` and the conversion alone."""
    from mocap.face_capture.face_tracker import FaceCapture, FaceTracker

    _check_counts(frames, warmup)
    mp = import_mediapipe()
    bare_mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1, refine_landmarks=True)
    face = FaceCapture(video=True)

    def full(rgb: Any, t_s: float) -> tuple[bool, Any]:
        frame = face.process(rgb, t_s)
        return frame.found, frame.mesh_px

    try:
        bare_times, full_times, found, meshes = _side_by_side(face_clip(frames + warmup), bare_mesh.process, full,
                                                              warmup)
    finally:
        bare_mesh.close()
        face.close()
    tracker = FaceTracker()
    full_ms, bare_ms, conversion_ms, ratio = _summary(
        full_times, bare_times, _each_timed(meshes, lambda mesh, t_s: tracker.face_pose(tracker.update(mesh, t_s))))
    return {
        "face_capture_ms": full_ms,
        "mediapipe_face_mesh_ms": bare_ms,
        "face_conversion_ms": conversion_ms,
        "face_capture_over_bare": ratio,
        "face_frames_found": found,
    }


def measure_markerless_costs(frames: int = 60, warmup: int = 5) -> dict[str, float | int | str]:
    """Body then face figures (see module doc), medians over ``frames`` frames after ``warmup``."""
    figures: dict[str, float | int | str] = {"frame_size": f"{FRAME_WIDTH_PX}x{FRAME_HEIGHT_PX}", "frames": frames}
    figures.update(measure_body_costs(frames, warmup))
    figures.update(measure_face_costs(frames, warmup))
    return figures
