"""The built-in scene's soundtrack: a quiet two-note hum with a clap at every whole second of scene time.

The engine simulator sends it as AUDIO beside its frames, chunk by chunk, each
chunk stamped with the capture time of the frame at the same scene time.  The
claps are sync marks, as a clapperboard's are: the clap of second ``k`` starts
exactly at scene time ``k`` s, so in a recorded take the clap must sit on the
picture of frame ``k * fps`` (``clap_onsets_s`` finds them again in a WAV).
Pure function of scene time: the same samples on every run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_CLAP_S = 0.012  # a short, sharp burst
_HUM_AMPLITUDE = 0.06
_CLAP_AMPLITUDE = 0.9


@dataclass(frozen=True)
class SoundSettings:
    sample_rate_hz: int = 48_000
    channels: int = 2
    clap_period_s: float = 1.0


class SimulatedSoundtrack:
    def __init__(self, settings: SoundSettings | None = None) -> None:
        self.settings = settings or SoundSettings()
        rate = self.settings.sample_rate_hz
        clap_len = max(1, int(round(_CLAP_S * rate)))
        decay = np.exp(-np.arange(clap_len) / (0.25 * clap_len))
        noise = np.random.default_rng(7).uniform(-1.0, 1.0, clap_len)
        self._clap = (_CLAP_AMPLITUDE * decay * noise).astype(np.float64)

    def sample_index(self, t_s: float) -> int:
        """The sample at scene time ``t_s`` (chunks built from consecutive indices never gap or overlap)."""
        return int(round(t_s * self.settings.sample_rate_hz))

    def samples(self, start: int, stop: int) -> np.ndarray:
        """int16 samples ``start..stop-1`` (scene sample indices), shaped (stop - start, channels)."""
        s = self.settings
        n = np.arange(start, stop, dtype=np.int64)
        t = n / s.sample_rate_hz
        mono = _HUM_AMPLITUDE * (np.sin(2 * np.pi * 110.0 * t) + 0.5 * np.sin(2 * np.pi * 165.0 * t))
        period = int(round(s.clap_period_s * s.sample_rate_hz))
        offset = np.mod(n, period)
        in_clap = offset < self._clap.size
        mono[in_clap] += self._clap[offset[in_clap]]
        pcm = np.clip(np.round(mono * 32767.0), -32768, 32767).astype(np.int16)
        if s.channels == 1:
            return pcm[:, None]
        pan = np.linspace(1.0, 0.8, s.channels)  # channels differ slightly so a swap would show
        return np.clip(np.round(pcm[:, None] * pan[None, :]), -32768, 32767).astype(np.int16)


def clap_onsets_s(pcm: np.ndarray, sample_rate_hz: int, threshold: float = 0.5,
                  min_gap_s: float = 0.5) -> list[float]:
    """Times (s from the first sample) where a clap starts: the first sample above ``threshold`` of full scale
    after at least ``min_gap_s`` of quieter sound."""
    mono = np.abs(pcm.astype(np.float64).reshape(pcm.shape[0], -1)[:, 0]) / 32768.0
    loud = np.flatnonzero(mono > threshold)
    onsets: list[float] = []
    last = -np.inf
    for i in loud:
        if i - last > min_gap_s * sample_rate_hz:
            onsets.append(i / sample_rate_hz)
        last = i
    return onsets
