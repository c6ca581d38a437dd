"""``film_look``: aged archive footage (real lossy re-encoding, chroma bleed, grain, fade, weave).

Parameters (live; see ``realtime_models.film_look.FilmLookSettings`` for ranges):
  codec            "none", "jpeg", "mpeg2", "mpeg4" or "h264": real encode + decode every frame
  quality          1..100: JPEG quality, or mapped to the video codec's quantiser (low = blocky, smeared)
  chroma_bleed_px  horizontal colour smear, like composite video
  grain            0..1 film grain
  fade             0..1 lifted blacks, faded and warm colour
  weave_px         random gate weave amplitude
  interlace        comb the fields of this and the previous frame
  vignette         0..1 darkened corners
  seed             grain/weave random seed
"""

from __future__ import annotations

import dataclasses

import numpy as np

from bridge.stage import StageBase, StageFrame, StreamSpec
from bridge.stage_params import ParamSpec
from realtime_models.film_look import FilmLook, FilmLookSettings

_DEFAULTS = FilmLookSettings()


class FilmLookStage(StageBase):
    TYPE = "film_look"
    PARAMS = (
        ParamSpec("codec", "choice", _DEFAULTS.codec, "lossy codec to age the picture with",
                  choices=("none", "jpeg", "mpeg2", "mpeg4", "h264")),
        ParamSpec("quality", "int", _DEFAULTS.quality, "codec quality (low = more artefacts)", lo=1, hi=100),
        ParamSpec("chroma_bleed_px", "float", _DEFAULTS.chroma_bleed_px, "colour smear", lo=0.0, hi=64.0),
        ParamSpec("grain", "float", _DEFAULTS.grain, "film grain", lo=0.0, hi=1.0),
        ParamSpec("fade", "float", _DEFAULTS.fade, "faded colour", lo=0.0, hi=1.0),
        ParamSpec("weave_px", "float", _DEFAULTS.weave_px, "gate weave", lo=0.0, hi=32.0),
        ParamSpec("interlace", "bool", _DEFAULTS.interlace, "field combing"),
        ParamSpec("vignette", "float", _DEFAULTS.vignette, "dark corners", lo=0.0, hi=1.0),
        ParamSpec("seed", "int", _DEFAULTS.seed, "random seed", lo=0, hi=2**31 - 1),
    )

    _look: FilmLook | None = None
    _version = -1

    def _settings(self) -> FilmLookSettings:
        names = {f.name for f in dataclasses.fields(FilmLookSettings)}
        return FilmLookSettings(**{k: v for k, v in self.params.snapshot().items() if k in names})

    def setup(self, stream: StreamSpec) -> None:
        super().setup(stream)
        settings = self._settings()
        settings.validate()
        self._look = FilmLook(settings)
        # open the codec now, so a missing encoder refuses the HELLO instead of failing every frame
        self._look.apply(np.zeros((stream.height, stream.width, 3), np.uint8))
        self._look.reset()
        self._version = self.params.version

    def process(self, frame: StageFrame) -> None:
        assert self._look is not None, "setup() was not called"
        if self._version != self.params.version or self.params.gliding:
            self._version = self.params.version
            self._look.update(self._settings())
        frame.image = self._look.apply(frame.rgb())

    def close(self) -> None:
        if self._look is not None:
            self._look.close()
            self._look = None
