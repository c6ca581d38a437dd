"""Stochastic similarity filter: skip the networks when the input has hardly changed.

Cosine similarity ``cos`` between the new input and the last input that was
processed (both mapped to [-1, 1]).  With threshold ``t`` the frame is skipped
with probability ``max(0, 1 - (1 - cos) / (1 - t))``: identical frames are
(almost) always skipped, frames that differ by more than the threshold
never; in between it is a coin toss weighted by similarity, so a slowly
drifting picture still refreshes now and then.  At most ``max_skip_frames``
frames in a row are skipped, so a static scene still updates.

No host sync: the decision has to be known on the host (to not call the
networks), and reading it back from a GPU tensor would need ``.item()``,
which waits for the GPU.  The frame arrives on the host anyway, so the
filter works on a small strided thumbnail of the host frame (a 64 px grid
costs microseconds) and never touches the device.  The coin tosses come
from a seeded generator, so a run is reproducible.
"""

from __future__ import annotations

import numpy as np


class StochasticSimilarityFilter:
    def __init__(self, threshold: float = 0.98, max_skip_frames: int = 10, seed: int = 0,
                 thumbnail_px: int = 64) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"similarity threshold must be in 0..1, got {threshold}")
        if max_skip_frames < 0:
            raise ValueError(f"max_skip_frames must be >= 0, got {max_skip_frames}")
        self.threshold = float(threshold)
        self.max_skip_frames = int(max_skip_frames)
        self.thumbnail_px = int(thumbnail_px)
        self._rng = np.random.default_rng(seed)
        self._previous: np.ndarray | None = None
        self.consecutive_skips = 0
        self.last_similarity = float("nan")
        self.skipped_total = 0

    def reset(self) -> None:
        """Forget the last frame (after a resolution change or a new scene)."""
        self._previous = None
        self.consecutive_skips = 0

    def _thumbnail(self, frame: np.ndarray) -> np.ndarray:
        step = max(1, max(frame.shape[0], frame.shape[1]) // self.thumbnail_px)
        thumb = frame[::step, ::step, :3].astype(np.float32)
        thumb *= 1.0 / 127.5
        thumb -= 1.0
        return thumb.reshape(-1)

    def similarity(self, a: np.ndarray, b: np.ndarray) -> float:
        denom = float(np.linalg.norm(a) * np.linalg.norm(b))
        if denom <= 1e-12:
            return 1.0 if float(np.abs(a - b).max(initial=0.0)) == 0.0 else 0.0
        return float(np.dot(a, b) / denom)

    def skip_probability(self, cos_similarity: float) -> float:
        if self.threshold >= 1.0:
            return 0.0
        return max(0.0, 1.0 - (1.0 - cos_similarity) / (1.0 - self.threshold))

    def note_processed(self, frame_rgb: np.ndarray) -> None:
        """Record a frame that was processed without asking (e.g. no previous output existed to reuse)."""
        self._previous = self._thumbnail(frame_rgb)
        self.consecutive_skips = 0

    def should_skip(self, frame_rgb: np.ndarray) -> bool:
        """True when this host frame (HxWx3 uint8) may reuse the previous output."""
        thumb = self._thumbnail(frame_rgb)
        previous = self._previous
        if previous is None or previous.shape != thumb.shape:
            self._previous = thumb
            self.consecutive_skips = 0
            self.last_similarity = float("nan")
            return False
        cos = self.similarity(previous, thumb)
        self.last_similarity = cos
        if self.consecutive_skips < self.max_skip_frames and self._rng.random() < self.skip_probability(cos):
            self.consecutive_skips += 1
            self.skipped_total += 1
            return True
        self._previous = thumb
        self.consecutive_skips = 0
        return False
