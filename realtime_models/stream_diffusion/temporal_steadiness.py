"""Temporal steadiness: less flicker by leaning on the previous output where the picture did not move.

Per frame, in latent space:

* motion ``m`` in [0, 1] per latent pixel: the channel-mean absolute
  difference between this input latent and the previous one, times
  ``motion_sensitivity``, smoothed over 3x3 and clipped;
* the start latent leans toward the previous output latent by
  ``strength * (1 - m)``: still regions keep the look they had, moving
  regions follow the new input (so motion does not smear);
* the noise added at the first step is scaled by
  ``1 - noise_damping * (1 - m)``: still regions are re-noised less, so
  they are re-imagined less (and the frame-to-frame noise differences of
  the stream batch show less there).

The two act independently (either may be 0).  The blend assumes the
model removes the noise it is given (a trained model does); a model that
does not (random weights) feeds its leftover noise back and flickers
more with it, which the benchmark reports as it is.

All of it is tensor math on the device; nothing is read back to the host.
The benchmark's flicker metric (mean absolute difference between
consecutive outputs of a slowly moving input) measures the effect.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class TemporalSteadiness:
    def __init__(self, strength: float = 0.5, motion_sensitivity: float = 8.0, noise_damping: float = 0.0) -> None:
        self.configure(strength, motion_sensitivity, noise_damping)
        self._prev_input: torch.Tensor | None = None
        self._prev_output: torch.Tensor | None = None

    def configure(self, strength: float, motion_sensitivity: float, noise_damping: float) -> None:
        """``strength``: latent blend toward the previous output; ``noise_damping``: noise cut in still regions."""
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"steadiness strength must be in 0..1, got {strength}")
        if motion_sensitivity < 0:
            raise ValueError(f"motion_sensitivity must be >= 0, got {motion_sensitivity}")
        if not 0.0 <= noise_damping <= 1.0:
            raise ValueError(f"noise_damping must be in 0..1, got {noise_damping}")
        self.strength = float(strength)
        self.motion_sensitivity = float(motion_sensitivity)
        self.noise_damping = float(noise_damping)

    @property
    def active(self) -> bool:
        return self.strength > 0.0 or self.noise_damping > 0.0

    def reset(self) -> None:
        self._prev_input = None
        self._prev_output = None

    def motion(self, latent: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        """(N, 1, h, w) motion in [0, 1] between two latents."""
        diff = (latent - previous).abs().mean(dim=1, keepdim=True)
        diff = F.avg_pool2d(diff, kernel_size=3, stride=1, padding=1, count_include_pad=False)
        return (diff * self.motion_sensitivity).clamp_(0.0, 1.0)

    def apply(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(start latent, noise scale or None) for this frame's encoded input latent."""
        previous_input, previous_output = self._prev_input, self._prev_output
        self._prev_input = latent
        if not self.active or previous_input is None or previous_input.shape != latent.shape:
            return latent, None
        still = 1.0 - self.motion(latent, previous_input)
        start = latent
        if self.strength > 0.0 and previous_output is not None and previous_output.shape == latent.shape:
            start = torch.lerp(latent, previous_output.to(latent.dtype), (still * self.strength).to(latent.dtype))
        noise_scale = None
        if self.noise_damping > 0.0:
            noise_scale = (1.0 - still * self.noise_damping).to(latent.dtype)
        return start, noise_scale

    def remember_output(self, latent: torch.Tensor) -> None:
        self._prev_output = latent
