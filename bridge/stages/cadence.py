"""``cadence``: hold the picture so it changes at a rate below the engine's (the morphing look).

Parameters (live):
  mode         "fps": at most ``target_fps`` new pictures per second of capture time;
               "frames": a new picture every ``hold_frames`` frames ("on twos", "on threes")
  target_fps   0.5..240
  hold_frames  1..24

A held frame skips every later stage and the previous output is sent again
(RESULT.held = true), so placing ``cadence`` first also saves their work.
"""

from __future__ import annotations

from bridge.stage import StageBase, StageFrame
from bridge.stage_params import ParamSpec
from realtime_models.frame_cadence import FrameCadence


class CadenceStage(StageBase):
    TYPE = "cadence"
    PARAMS = (
        ParamSpec("mode", "choice", "fps", "hold by time or by frame count", choices=("fps", "frames")),
        ParamSpec("target_fps", "float", 12.0, "new pictures per second in fps mode", lo=0.5, hi=240.0, glide=False),
        ParamSpec("hold_frames", "int", 2, "frames each picture is held in frames mode", lo=1, hi=24),
    )

    _cadence: FrameCadence | None = None
    _version = -1

    def _current_cadence(self) -> FrameCadence:
        if self._cadence is None or self._version != self.params.version:
            p = self.params.snapshot()
            self._version = self.params.version
            self._cadence = (
                FrameCadence(target_fps=p["target_fps"]) if p["mode"] == "fps" else FrameCadence(hold_frames=p["hold_frames"])
            )
        return self._cadence

    def process(self, frame: StageFrame) -> None:
        frame.held = not self._current_cadence().should_update(frame.t_capture_ns)
