"""`WebcamFaceSource`: face capture (ARKit blendshapes, neck/head/eye rotations) from a webcam or video file.

A `MocapSource`: each frame goes through MediaPipe Face Mesh and the `FaceTracker`; frames
without a face publish nothing (counted as skipped). ``calibrate_frames`` > 0 takes the first
that many frames with a face as the performer's neutral face (see `FaceTracker.begin_calibration`).
The poses are face-only (no root motion); merge them onto a body source's poses of the same
performer with `mocap.face_capture.face_tracker.merge_face_into_body` or
`mocap.skeleton.merge_poses`.
"""

from __future__ import annotations

from pathlib import Path

from mocap.face_capture.blendshapes import FaceCalibration
from mocap.face_capture.face_tracker import FaceCapture, FaceCaptureSettings, FaceFrame
from mocap.markerless.video_capture import CaptureLoopSource, CapturedFrame
from mocap.skeleton import HumanoidPose


class WebcamFaceSource(CaptureLoopSource):
    """Face poses of one performer from ``camera`` (a webcam index or a video file path)."""

    name = "face_capture"

    def __init__(
        self,
        camera: int | str | Path = 0,
        performer_id: str = "face",
        settings: FaceCaptureSettings | None = None,
        calibration: FaceCalibration | None = None,
        calibrate_frames: int = 0,
        mirror: bool = False,
        width: int | None = 640,
        height: int | None = 480,
        pace: bool = False,
        loop: bool = False,
    ) -> None:
        super().__init__(camera, mirror=mirror, width=width, height=height, pace=pace, loop=loop)
        if not performer_id:
            raise ValueError("performer_id must not be empty")
        if calibrate_frames < 0:
            raise ValueError(f"calibrate_frames must be >= 0, got {calibrate_frames}")
        self.performer_id = performer_id
        self.settings = settings or FaceCaptureSettings()
        self.calibration = calibration
        self.calibrate_frames = calibrate_frames
        self.capture: FaceCapture | None = None
        self.last_frame: FaceFrame | None = None

    def open_models(self) -> None:
        self.capture = FaceCapture(self.performer_id, self.settings, self.calibration, video=True)
        if self.calibrate_frames:
            self.capture.tracker.begin_calibration(self.calibrate_frames)

    def close_models(self) -> None:
        if self.capture is not None:
            self.capture.close()
            self.capture = None

    def process_frame(self, frame: CapturedFrame) -> HumanoidPose | None:
        assert self.capture is not None, "process_frame before start"
        result = self.capture.process(frame.rgb, frame.t_s, frame.timestamp_ns)
        self.last_frame = result
        if not result.found:
            return None
        return self.capture.tracker.face_pose(result)
