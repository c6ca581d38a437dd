"""Frames from a webcam or a video file, and the capture-loop `MocapSource` base the camera sources share.

`FrameReader` wraps ``cv2.VideoCapture``: a webcam by index, or a video file by path. Frames come
out as unmirrored RGB ``uint8`` arrays with two clocks: ``t_s`` drives the filters (for a file
the video's own time, frame index / fps, so results do not depend on how fast the machine is;
for a webcam a monotonic clock) and ``timestamp_ns`` is the capture wall-clock time a pose carries.

`CaptureLoopSource` owns one reader and one thread that turns each frame into a pose
(`process_frame`, implemented by the body and face sources) and hands poses out through
`mocap.source.PoseFanout` (so it is a `mocap.source.MocapSource`). A failure on one frame is
counted as a rejection with its message and never ends the loop; a frame with nobody in it is
counted as skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mocap.skeleton import HumanoidPose
from mocap.source import PoseCallback, PoseFanout, SourceStats

log = logging.getLogger(__name__)

_FALLBACK_FPS = 30.0


@dataclass
class CapturedFrame:
    rgb: np.ndarray
    index: int
    t_s: float
    timestamp_ns: int


class FrameReader:
    """A webcam (``int`` index) or a video file (path) as a stream of `CapturedFrame` objects."""

    def __init__(
        self,
        source: int | str | Path,
        mirror: bool = False,
        width: int | None = None,
        height: int | None = None,
    ) -> None:
        self.source = source
        self.mirror = mirror
        self.is_file = not isinstance(source, int)
        if self.is_file:
            path = Path(source)
            if not path.is_file():
                raise FileNotFoundError(f"video file not found: {path}")
            self._capture = cv2.VideoCapture(str(path))
            if not self._capture.isOpened():
                raise ValueError(f"cannot decode video file {path} (OpenCV found no readable video stream)")
        else:
            if source < 0:
                raise ValueError(f"webcam index must be >= 0, got {source}")
            self._capture = cv2.VideoCapture(source)
            if not self._capture.isOpened():
                raise RuntimeError(f"cannot open webcam {source} (no such camera, or it is in use)")
            if width:
                self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, float(width))
            if height:
                self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, float(height))
        fps = float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 1.0 <= fps <= 1000.0 else _FALLBACK_FPS
        self._index = 0
        self._start_monotonic = time.monotonic()

    def read(self) -> CapturedFrame | None:
        """The next frame, or None at the end of a file (or when a webcam stops delivering)."""
        ok, bgr = self._capture.read()
        if not ok or bgr is None:
            return None
        stamp = time.time_ns()
        if bgr.ndim == 2:
            rgb = cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
        elif bgr.shape[2] == 4:
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGRA2RGB)
        else:
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        if self.mirror:
            rgb = np.ascontiguousarray(rgb[:, ::-1])
        t_s = self._index / self.fps if self.is_file else time.monotonic() - self._start_monotonic
        frame = CapturedFrame(rgb=rgb, index=self._index, t_s=t_s, timestamp_ns=stamp)
        self._index += 1
        return frame

    @property
    def duration_s(self) -> float:
        """Length of a file in seconds (frame count / fps; one frame when the count is unknown)."""
        frames = float(self._capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0) if self.is_file else 0.0
        return (frames if frames > 0 else 1.0) / self.fps

    def rewind(self) -> bool:
        """Back to the first frame of a file (False for a webcam or when seeking fails)."""
        if not self.is_file:
            return False
        ok = bool(self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0))
        self._index = 0
        return ok

    def close(self) -> None:
        self._capture.release()

    def __iter__(self) -> Iterator[CapturedFrame]:
        while True:
            frame = self.read()
            if frame is None:
                return
            yield frame


class CaptureLoopSource:
    """Base of the camera sources: a `FrameReader`, a capture thread, a `PoseFanout`.

    Subclasses implement `open_models` (create model wrappers; called by `start`, so a missing
    model fails there with its path) and `process_frame` (frame -> pose or None). ``pace``
    plays a file at its frame rate (live preview); without it a file is processed as fast as
    possible. ``loop`` restarts a file at its end (the video time keeps increasing).
    """

    name = "capture"

    def __init__(
        self,
        camera: int | str | Path = 0,
        mirror: bool = False,
        width: int | None = 640,
        height: int | None = 480,
        pace: bool = False,
        loop: bool = False,
    ) -> None:
        self.camera = camera
        self.mirror = mirror
        self.width = width
        self.height = height
        self.pace = pace
        self.loop = loop
        self._fanout = PoseFanout()
        self._reader: FrameReader | None = None
        self._thread: threading.Thread | None = None
        self._running = threading.Event()
        self.finished = threading.Event()
        self.frames_read = 0
        self.last_process_ms = 0.0
        self.last_captured: CapturedFrame | None = None  # the frame being (or last) processed

    # --- for subclasses -------------------------------------------------------------------------
    def open_models(self) -> None:
        """Create the model wrappers (called once by `start`)."""

    def close_models(self) -> None:
        """Release the model wrappers (called when the loop ends)."""

    def process_frame(self, frame: CapturedFrame) -> HumanoidPose | None:
        raise NotImplementedError

    # --- MocapSource ----------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        reader = FrameReader(self.camera, self.mirror, self.width, self.height)
        try:
            self.open_models()
        except BaseException:
            reader.close()
            raise
        self._reader = reader
        self._fanout.reopen()
        self.finished.clear()
        self._running.set()
        self._thread = threading.Thread(target=self._capture_loop, name=f"mocap-{self.name}", daemon=True)
        self._thread.start()
        log.info("%s source capturing from %s", self.name, self.camera)

    def stop(self) -> None:
        self._running.clear()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None
        self._fanout.close()

    def __enter__(self) -> CaptureLoopSource:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def poses(self, timeout_s: float | None = None) -> Iterator[HumanoidPose]:
        return self._fanout.poses(timeout_s)

    def add_listener(self, callback: PoseCallback) -> None:
        self._fanout.add_listener(callback)

    def stats(self) -> SourceStats:
        return self._fanout.stats()

    # --- the loop -------------------------------------------------------------------------------
    def _capture_loop(self) -> None:
        reader = self._reader
        assert reader is not None
        started = time.monotonic()
        time_offset_s = 0.0
        try:
            while self._running.is_set():
                frame = reader.read()
                if frame is None:
                    if self.loop and reader.rewind():
                        time_offset_s += reader.duration_s
                        continue
                    break
                frame.t_s += time_offset_s
                self.frames_read += 1
                self.last_captured = frame
                if self.pace and reader.is_file:
                    delay = frame.t_s - (time.monotonic() - started)
                    if delay > 0:
                        time.sleep(delay)
                self._fanout.note_input()
                began = time.perf_counter()
                try:
                    pose = self.process_frame(frame)
                except Exception as error:  # one bad frame must not end the capture
                    self._fanout.note_rejected(f"frame {frame.index}: {type(error).__name__}: {error}")
                    continue
                finally:
                    self.last_process_ms = (time.perf_counter() - began) * 1000.0
                if pose is None:
                    self._fanout.note_skipped(f"frame {frame.index}: nobody found")
                    continue
                self._fanout.publish(pose)
        except Exception:
            log.exception("%s capture loop failed", self.name)
        finally:
            reader.close()
            try:
                self.close_models()
            except Exception:
                log.exception("%s: closing the models failed", self.name)
            self.finished.set()
            self._fanout.close()
