"""When to draw a new picture: limited-rate and "on twos / threes" animation cadence.

A live stage that is slower than the engine, or a deliberately stop-motion
look, produces a fresh picture only on some frames and holds the last one in
between. :class:`FrameCadence` makes that decision per captured frame.

Time-based (``target_fps``): capture time is cut into ticks of 1/target_fps
seconds on a grid anchored at the first frame; a frame gets a new picture when
it is the first one to land in a new tick. Because the grid is fixed (not
re-anchored at each update), jitter in the capture clock does not accumulate
and a long run averages exactly ``target_fps`` pictures per second (or the
input rate, if that is lower). The tick index is computed in exact integer
arithmetic, so even 23.976 fps does not drift over hours.

Count-based (``hold_frames``): every hold_frames-th frame gets a new picture,
"on twos" (2) or "on threes" (3) in animation terms, whatever the timing.

A capture time earlier than the previous one (a clock reset, a replay or a
new take) restarts the grid at that frame, which gets a new picture.
"""
from __future__ import annotations

import logging
import math
from fractions import Fraction

import numpy as np

logger = logging.getLogger(__name__)

NS_PER_S = 1_000_000_000
_FPS_MAX_DENOMINATOR = 1_000_000  # exact enough for 24000/1001-style rates


class FrameCadence:
    """Decides per frame whether to produce a new picture; give exactly one of target_fps or hold_frames."""

    def __init__(self, target_fps: float | None = None, hold_frames: int | None = None) -> None:
        if (target_fps is None) == (hold_frames is None):
            raise ValueError(
                f"give exactly one of target_fps or hold_frames, got target_fps={target_fps!r}, hold_frames={hold_frames!r}"
            )
        self.target_fps: float | None = None
        self.hold_frames: int | None = None
        self._fps_fraction: Fraction | None = None
        if target_fps is not None:
            if isinstance(target_fps, bool):
                raise ValueError(f"target_fps must be a positive number, got {target_fps!r}")
            fps = float(target_fps)
            if not (math.isfinite(fps) and fps > 0.0):
                raise ValueError(f"target_fps must be a positive finite number, got {target_fps!r}")
            self.target_fps = fps
            self._fps_fraction = Fraction(fps).limit_denominator(_FPS_MAX_DENOMINATOR)
        else:
            if isinstance(hold_frames, bool) or not isinstance(hold_frames, (int, np.integer)) or hold_frames < 1:
                raise ValueError(f"hold_frames must be an integer >= 1, got {hold_frames!r}")
            self.hold_frames = int(hold_frames)
        self._grid_origin_ns: int | None = None
        self._last_tick: int = -1
        self._last_capture_ns: int | None = None
        self._frame_count = 0

    def __repr__(self) -> str:
        if self.target_fps is not None:
            return f"FrameCadence(target_fps={self.target_fps})"
        return f"FrameCadence(hold_frames={self.hold_frames})"

    def reset(self) -> None:
        """Forget all history: the next frame gets a new picture and anchors a new grid."""
        self._grid_origin_ns = None
        self._last_tick = -1
        self._last_capture_ns = None
        self._frame_count = 0

    def tick_index(self, t_capture_ns: int) -> int:
        """The grid tick a capture time falls in (time-based mode only; the grid must be anchored)."""
        if self._fps_fraction is None or self._grid_origin_ns is None:
            raise RuntimeError("tick_index needs a time-based cadence that has seen a frame")
        elapsed_ns = t_capture_ns - self._grid_origin_ns
        # floor(elapsed_ns * fps / 1e9), exactly, with fps = numerator / denominator
        return (elapsed_ns * self._fps_fraction.numerator) // (NS_PER_S * self._fps_fraction.denominator)

    def should_update(self, t_capture_ns: int) -> bool:
        """True when the frame captured at ``t_capture_ns`` should get a new picture."""
        if not isinstance(t_capture_ns, int) or isinstance(t_capture_ns, bool):
            if not isinstance(t_capture_ns, np.integer):
                raise ValueError(f"t_capture_ns must be an integer nanosecond timestamp, got {t_capture_ns!r}")
            t_capture_ns = int(t_capture_ns)
        backwards = self._last_capture_ns is not None and t_capture_ns < self._last_capture_ns
        if backwards:
            logger.debug("capture time went back %d ns; restarting the cadence", self._last_capture_ns - t_capture_ns)
            self.reset()
        self._last_capture_ns = t_capture_ns

        if self.hold_frames is not None:
            update = self._frame_count % self.hold_frames == 0
            self._frame_count += 1
            return update

        if self._grid_origin_ns is None:
            self._grid_origin_ns = t_capture_ns
        tick = self.tick_index(t_capture_ns)
        if tick > self._last_tick:
            self._last_tick = tick
            return True
        return False
