"""``composite``: put the processed picture back into the engine's frame through the actor mask.

Parameters (live):
  mode        "over" (processed replaces), "multiply" or "screen" (processed blended onto the original)
  invert      false: processed actor in the untouched set; true: processed set around the untouched actor
  opacity     0..1; glides
  feather_px  soften the mask edge by this many pixels

Needs the stream's actor mask (declare ``mask = true`` in HELLO and send a U8 mask plane).
"""

from __future__ import annotations

from bridge.stage import StageBase, StageFrame, StageSetupError, StreamSpec
from bridge.stage_params import ParamSpec
from realtime_models.compositing import BLEND_MODES, composite


class CompositeStage(StageBase):
    TYPE = "composite"
    PARAMS = (
        ParamSpec("mode", "choice", "over", "how the processed picture is blended", choices=tuple(BLEND_MODES)),
        ParamSpec("invert", "bool", False, "process the set instead of the actor"),
        ParamSpec("opacity", "float", 1.0, "strength of the processed picture", lo=0.0, hi=1.0),
        ParamSpec("feather_px", "float", 2.0, "mask edge softening", lo=0.0, hi=64.0),
    )

    def setup(self, stream: StreamSpec) -> None:
        if not stream.has_mask:
            raise StageSetupError(
                f"composite needs an actor mask, but stream {stream.stream_id} ({stream.name!r}) was declared "
                "without one: declare mask=true in HELLO and send a U8 mask plane"
            )
        super().setup(stream)

    def process(self, frame: StageFrame) -> None:
        if frame.mask is None:
            raise ValueError(f"frame {frame.index} has no mask plane; composite needs the actor mask on every frame")
        p = self.params.snapshot()
        frame.image = composite(
            frame.rgb(), frame.original_rgb(), frame.mask, mode=p["mode"], invert=p["invert"],
            opacity=p["opacity"], feather_px=p["feather_px"],
        )
