"""``composite``: put the processed picture back into the engine's frame through the actor mask.

Parameters (live):
  mode        "over" (processed replaces), "multiply" or "screen" (processed blended onto the original)
  invert      false: processed actor in the untouched set; true: processed set around the untouched actor
  opacity     0..1; glides
  feather_px  soften the mask edge by this many pixels

Needs the stream's actor mask (declare ``mask = true`` in HELLO and send a U8 mask plane).
"""

from __future__ import annotations

import logging

from bridge.stage import StageBase, StageFrame, StageSetupError, StreamSpec
from bridge.stage_params import ParamSpec
from realtime_models.compositing import BLEND_MODES, composite


log = logging.getLogger(__name__)


class CompositeStage(StageBase):
    TYPE = "composite"
    PARAMS = (
        ParamSpec("mode", "choice", "over", "how the processed picture is blended", choices=tuple(BLEND_MODES)),
        ParamSpec("invert", "bool", False, "process the set instead of the actor"),
        ParamSpec("opacity", "float", 1.0, "strength of the processed picture", lo=0.0, hi=1.0),
        ParamSpec("feather_px", "float", 2.0, "mask edge softening", lo=0.0, hi=64.0),
    )

    _warned_no_mask = False

    def setup(self, stream: StreamSpec) -> None:
        if not stream.has_mask:
            raise StageSetupError(
                f"composite needs an actor mask, but stream {stream.stream_id} ({stream.name!r}) was declared "
                "without one: declare mask=true in HELLO and send a U8 mask plane"
            )
        super().setup(stream)

    def process(self, frame: StageFrame) -> None:
        if frame.mask is None:
            # a frame may leave the mask out (docs/protocol.md): no actor in it, so no composite
            if not self._warned_no_mask:
                log.warning("stream %s frame %d has no actor mask: composite shows the engine's picture",
                            self.stream.name, frame.index)
                self._warned_no_mask = True
            frame.image = frame.original_rgb() if not self.params.get("invert") else frame.rgb()
            return
        p = self.params.snapshot()
        frame.image = composite(
            frame.rgb(), frame.original_rgb(), frame.mask, mode=p["mode"], invert=p["invert"],
            opacity=p["opacity"], feather_px=p["feather_px"],
        )
