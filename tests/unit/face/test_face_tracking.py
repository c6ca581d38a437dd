"""Tracking several faces through a video: stable ids as faces enter and leave, detect every N frames."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from realtime_models.face.one_euro import OneEuroSettings
from realtime_models.face.tracking import FaceTracker, TrackerSettings

W, H = 640, 480


@pytest.fixture(scope="module")
def actors(astronaut_rgb, grace_rgb):
    a = cv2.resize(astronaut_rgb[40:320, 110:370], None, fx=1.15, fy=1.15, interpolation=cv2.INTER_AREA)
    b = cv2.resize(grace_rgb[100:460, 110:430], None, fx=0.55, fy=0.55, interpolation=cv2.INTER_AREA)
    return a, b


def _background() -> np.ndarray:
    ramp = np.linspace(60, 140, W, dtype=np.float32)
    return np.repeat(np.repeat(ramp[None, :, None], H, axis=0), 3, axis=2).astype(np.uint8)


def _scene(actors, frame: int, b_visible: bool) -> tuple[np.ndarray, int]:
    a, b = actors
    picture = _background()
    ax = 50 + int(40 * np.sin(frame / 8.0))  # A sways left and right
    picture[60: 60 + a.shape[0], ax: ax + a.shape[1]] = a
    if b_visible:
        bx = 400 + int(10 * np.sin(frame / 5.0))
        picture[120: 120 + b.shape[0], bx: bx + b.shape[1]] = b
    return picture, ax


def _b_visible(frame: int) -> bool:
    return 12 <= frame < 35 or frame >= 48


def test_faces_entering_and_leaving_keep_stable_ids(actors):
    tracker = FaceTracker(TrackerSettings(max_faces=4, detect_interval=4))
    ids_a, ids_b, counts = [], {}, []
    try:
        for i in range(62):
            picture, ax = _scene(actors, i, _b_visible(i))
            faces = tracker.update(picture, i / 30.0)
            counts.append(len(faces))
            left = [f for f in faces if f.centre_px[0] < 330]
            right = [f for f in faces if f.centre_px[0] >= 330]
            assert len(left) == 1, f"frame {i}: performer A not tracked"
            ids_a.append(left[0].track_id)
            assert abs(left[0].centre_px[0] - (ax + actors[0].shape[1] * 0.5)) < 60
            if right:
                ids_b[i] = right[0].track_id
            else:
                assert not _b_visible(i) or i - (12 if i < 35 else 48) < 5, f"frame {i}: B missed for too long"
    finally:
        tracker.close()
    assert set(ids_a) == {ids_a[0]}, "the face that stays keeps its id"
    first_visit = {v for k, v in ids_b.items() if k < 35}
    second_visit = {v for k, v in ids_b.items() if k >= 48}
    assert len(first_visit) == 1 and len(second_visit) == 1, (first_visit, second_visit)
    assert first_visit != second_visit and ids_a[0] not in first_visit | second_visit, "a face that returns gets a new id"
    assert all(k < 35 or k >= 48 for k in ids_b), "no face reported where B was gone"
    assert max(counts) == 2


def test_detector_runs_every_n_frames_while_tracking(actors, astronaut_frame):
    tracker = FaceTracker(TrackerSettings(max_faces=2, detect_interval=6))
    try:
        detected = []
        for i in range(36):
            picture = np.roll(astronaut_frame, int(6 * np.sin(i / 4.0)), axis=1)
            faces = tracker.update(picture, i / 30.0)
            assert len(faces) == 1 and faces[0].track_id == 0
            detected.append(tracker.last_detected)
        assert 5 <= sum(detected) <= 8, f"{sum(detected)} detector runs in 36 frames with detect_interval 6"
        assert detected[0], "the first frame detects"
        assert not any(detected[1:6])
    finally:
        tracker.close()


def test_no_face_frames_return_nothing_and_faces_are_found_again(astronaut_frame):
    tracker = FaceTracker(TrackerSettings(detect_interval=10, max_missed_frames=1))
    try:
        assert tracker.update(np.zeros_like(astronaut_frame), 0.0) == []
        first = tracker.update(astronaut_frame, 0.033)
        assert [f.track_id for f in first] == [0]
        for k in range(3):
            assert tracker.update(np.zeros_like(astronaut_frame), 0.066 + k * 0.033) == []
        again = tracker.update(astronaut_frame, 0.2)
        assert [f.track_id for f in again] == [1], "the old track ended; the returning face gets the next id"
    finally:
        tracker.close()


def test_max_faces_caps_tracks(actors):
    tracker = FaceTracker(TrackerSettings(max_faces=1, detect_interval=1))
    try:
        for i in range(4):
            faces = tracker.update(_scene(actors, i, True)[0], i / 30.0)
            assert len(faces) == 1
    finally:
        tracker.close()


def test_smoothing_steadies_landmarks_of_a_still_face(astronaut_frame):
    rng = np.random.default_rng(0)
    jitters = {}
    for smoothing in (False, True):
        tracker = FaceTracker(TrackerSettings(smoothing=smoothing, one_euro=OneEuroSettings(1.0, 5.0, 1.0)))
        try:
            previous, steps = None, []
            for i in range(30):
                noisy = np.clip(astronaut_frame.astype(np.int16) + rng.integers(-12, 13, astronaut_frame.shape), 0,
                                255).astype(np.uint8)  # sensor noise makes the raw mesh jitter
                faces = tracker.update(noisy, i / 30.0)
                if previous is not None and i > 5:
                    steps.append(np.abs(faces[0].landmarks_px[:, :2] - previous).mean())
                previous = faces[0].landmarks_px[:, :2]
        finally:
            tracker.close()
        jitters[smoothing] = float(np.mean(steps))
    assert jitters[True] < 0.6 * jitters[False], jitters


def test_reconfigure_live_keeps_or_restarts_tracks(astronaut_frame):
    tracker = FaceTracker(TrackerSettings())
    try:
        assert [f.track_id for f in tracker.update(astronaut_frame, 0.0)] == [0]
        tracker.reconfigure(TrackerSettings(detect_interval=9, one_euro=OneEuroSettings(3.0, 1.0, 1.0)))
        assert [f.track_id for f in tracker.update(astronaut_frame, 0.033)] == [0], "soft change keeps the track"
        tracker.reconfigure(TrackerSettings(detect_interval=9, refine_landmarks=False))
        faces = tracker.update(astronaut_frame, 0.066)
        assert [f.track_id for f in faces] == [1] and faces[0].landmarks_px.shape[0] == 468
    finally:
        tracker.close()
    with pytest.raises(ValueError, match="detect_interval"):
        TrackerSettings(detect_interval=0)
