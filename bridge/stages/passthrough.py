"""``passthrough``: returns the engine's frame untouched (zero copy); the transport baseline."""

from __future__ import annotations

from bridge.stage import StageBase, StageFrame


class PassthroughStage(StageBase):
    TYPE = "passthrough"
    PARAMS = ()
    RUNS_INLINE = True  # nothing to do: no thread hand-off for a pipeline of only this

    def process(self, frame: StageFrame) -> None:
        return None
