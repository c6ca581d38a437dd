"""Confidence-aware hold: when a limb's landmarks are not seen, keep its last good rotation.

Per bone, every frame: the solver offers a local rotation and a confidence (the lowest
visibility of the landmarks that rotation came from), or nothing (nobody found).

* confidence >= ``threshold``: the rotation is used and remembered with its confidence and time;
  a bone that was held comes back once its confidence reaches ``threshold + hysteresis`` (so a
  value wavering around the threshold does not flicker between held and live).
* otherwise the bone *holds* its last good local rotation and reports a decaying confidence::

      confidence(t) = last_good_confidence * 0.5 ** ((t - t_last_good) / half_life_s)

  After ``relax_after_s`` of holding, the rotation eases over ``relax_duration_s`` towards the
  bone's rest rotation (arms down, legs straight), so a limb lost for long does not stay frozen
  in mid-gesture; ``relax_after_s=None`` holds for ever.
* a bone never seen yet gets its rest rotation with confidence 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mocap import quaternion as quat

ARMS_DOWN_DEG = 75.0
"""Rest rotation of the upper arms (from the T-pose, about the forward axis): arms hanging down."""


def default_rest_rotations() -> dict[str, np.ndarray]:
    """Rest local rotations of bones whose rest is not the T-pose (identity): the upper arms hang down."""
    angle = np.radians(ARMS_DOWN_DEG)
    return {
        "LeftUpperArm": quat.from_axis_angle(np.array([0.0, 0.0, 1.0]), angle),
        "RightUpperArm": quat.from_axis_angle(np.array([0.0, 0.0, 1.0]), -angle),
    }


@dataclass(frozen=True)
class HoldSettings:
    """``threshold``: lowest confidence (0..1) that is trusted; ``hysteresis``: extra confidence a held
    bone needs to come back; ``half_life_s``: decay of a held bone's confidence; ``relax_after_s`` /
    ``relax_duration_s``: when and how fast a held bone eases to its rest rotation (None: never)."""

    threshold: float = 0.5
    hysteresis: float = 0.1
    half_life_s: float = 0.5
    relax_after_s: float | None = 2.0
    relax_duration_s: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"hold threshold must be within 0..1, got {self.threshold}")
        if self.hysteresis < 0.0 or self.half_life_s <= 0.0 or self.relax_duration_s <= 0.0:
            raise ValueError(f"hold needs hysteresis >= 0, half_life_s > 0 and relax_duration_s > 0, got {self}")
        if self.relax_after_s is not None and self.relax_after_s < 0.0:
            raise ValueError(f"relax_after_s must be >= 0 or None, got {self.relax_after_s}")


@dataclass
class _BoneMemory:
    rotation: np.ndarray
    confidence: float
    time_s: float
    held: bool = False


class ConfidenceHold:
    """Per-bone hold state; `update` is called once per bone per frame, parents first."""

    def __init__(self, settings: HoldSettings | None = None, rest_rotations: dict[str, np.ndarray] | None = None) -> None:
        self.settings = settings or HoldSettings()
        self.rest_rotations = default_rest_rotations() if rest_rotations is None else dict(rest_rotations)
        self._memory: dict[str, _BoneMemory] = {}

    def reset(self) -> None:
        self._memory.clear()

    def rest(self, bone: str) -> np.ndarray:
        rotation = self.rest_rotations.get(bone)
        return quat.identity() if rotation is None else rotation.copy()

    def is_held(self, bone: str) -> bool:
        memory = self._memory.get(bone)
        return memory is None or memory.held

    def update(self, bone: str, rotation: np.ndarray | None, confidence: float, t_s: float) -> tuple[np.ndarray, float]:
        """The local rotation to output for ``bone`` and the confidence to report with it."""
        s = self.settings
        memory = self._memory.get(bone)
        needed = s.threshold + (s.hysteresis if memory is not None and memory.held else 0.0)
        if rotation is not None and confidence >= needed:
            self._memory[bone] = _BoneMemory(np.asarray(rotation, dtype=np.float64).copy(), float(confidence), t_s)
            return self._memory[bone].rotation.copy(), float(confidence)
        if memory is None:
            return self.rest(bone), 0.0
        memory.held = True
        elapsed_s = max(0.0, t_s - memory.time_s)
        decayed = memory.confidence * 0.5 ** (elapsed_s / s.half_life_s)
        held = memory.rotation
        if s.relax_after_s is not None and elapsed_s > s.relax_after_s:
            blend = min(1.0, (elapsed_s - s.relax_after_s) / s.relax_duration_s)
            held = quat.slerp(memory.rotation, self.rest(bone), blend)
        return held.copy(), float(decayed)
