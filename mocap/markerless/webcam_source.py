"""`WebcamPoseSource`: markerless body capture from a webcam or a video file as a `MocapSource`.

Each frame goes through MediaPipe Pose (and Hands when ``settings.fingers``) and the
`MarkerlessBodyTracker`; the pose is published with the frame's capture wall-clock time. While
the performer is out of view the source keeps publishing the held pose (confidences decaying,
see `mocap.markerless.confidence_hold`) for ``lost_publish_s`` seconds, then publishes nothing
until someone is found again (frames are counted as skipped).
"""

from __future__ import annotations

from pathlib import Path

from mocap.markerless.body_tracker import BodyCaptureFrame, MarkerlessBodyCapture, MarkerlessBodySettings
from mocap.markerless.video_capture import CaptureLoopSource, CapturedFrame
from mocap.skeleton import HumanoidPose


class WebcamPoseSource(CaptureLoopSource):
    """Body poses of one performer from ``camera`` (a webcam index or a video file path)."""

    name = "markerless"

    def __init__(
        self,
        camera: int | str | Path = 0,
        performer_id: str = "webcam",
        settings: MarkerlessBodySettings | None = None,
        mirror: bool = False,
        width: int | None = 640,
        height: int | None = 480,
        pace: bool = False,
        loop: bool = False,
        lost_publish_s: float = 1.0,
    ) -> None:
        super().__init__(camera, mirror=mirror, width=width, height=height, pace=pace, loop=loop)
        if not performer_id:
            raise ValueError("performer_id must not be empty")
        if lost_publish_s < 0.0:
            raise ValueError(f"lost_publish_s must be >= 0, got {lost_publish_s}")
        self.performer_id = performer_id
        self.settings = settings or MarkerlessBodySettings()
        self.lost_publish_s = lost_publish_s
        self.capture: MarkerlessBodyCapture | None = None
        self.last_frame: BodyCaptureFrame | None = None
        self._last_found_t_s: float | None = None

    def open_models(self) -> None:
        self.capture = MarkerlessBodyCapture(self.performer_id, self.settings, video=True)

    def close_models(self) -> None:
        if self.capture is not None:
            self.capture.close()
            self.capture = None

    def process_frame(self, frame: CapturedFrame) -> HumanoidPose | None:
        assert self.capture is not None, "process_frame before start"
        result = self.capture.process(frame.rgb, frame.t_s, frame.timestamp_ns)
        self.last_frame = result
        if result.found:
            self._last_found_t_s = frame.t_s
            return result.pose
        if self._last_found_t_s is not None and frame.t_s - self._last_found_t_s <= self.lost_publish_s:
            return result.pose
        return None
