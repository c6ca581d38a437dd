"""Deforum-style keyframe schedules: ``"0: prompt A, 48: prompt B"`` and ``"0:(0.5), 96:(0.8)"``.

A schedule is a list of (position, value) keyframes.  Positions are frame
counts or seconds, whichever clock the user drives it with; they must be
non-negative and strictly increasing.  Between two keyframes numbers
interpolate linearly; prompts and seeds give the pair and the fraction, and
the caller slerps their embeddings or noise.  Before the first keyframe the
first value holds, after the last the last.

Accepted text forms:

* ``"0: a castle at dusk, foggy, 48: a forest"`` - a value runs up to the
  next ``, <number>:`` marker, so prompts may contain commas;
* ``"0:(1.0), 30:(1.04)"`` - Deforum's number form (parentheses optional);
* a JSON object ``{"0": "a castle", "48": "a forest"}`` - Deforum's prompt form.
"""

from __future__ import annotations

import bisect
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")

SCHEDULE_KINDS = ("number", "int", "prompt")
_MARKER_RE = re.compile(r"(?:^|,)\s*(\d+(?:\.\d+)?)\s*:")


class ScheduleError(ValueError):
    """A schedule's text is malformed; the message quotes the part at fault."""


@dataclass(frozen=True)
class Keyframe(Generic[T]):
    position: float
    value: T


@dataclass(frozen=True)
class Segment(Generic[T]):
    """Where a position falls: between ``a`` and ``b`` at fraction ``t`` (0 = at a)."""

    a: T
    b: T
    t: float


def _convert(raw: str, kind: str, where: str) -> Any:
    text = raw.strip()
    if kind == "prompt":
        if not text:
            raise ScheduleError(f"{where}: empty prompt")
        return text
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    try:
        value = float(text)
    except ValueError:
        raise ScheduleError(f"{where}: {raw.strip()!r} is not a number (expressions are not supported)") from None
    if not math.isfinite(value):
        raise ScheduleError(f"{where}: {raw.strip()!r} is not a finite number")
    if kind == "int":
        if value != int(value):
            raise ScheduleError(f"{where}: {raw.strip()!r} is not a whole number")
        return int(value)
    return value


class KeyframeSchedule(Generic[T]):
    def __init__(self, keyframes: list[Keyframe[T]], kind: str, source: str = "") -> None:
        if kind not in SCHEDULE_KINDS:
            raise ValueError(f"schedule kind {kind!r} is not one of {SCHEDULE_KINDS}")
        if not keyframes:
            raise ScheduleError(f"schedule {source!r} has no keyframes")
        positions = [k.position for k in keyframes]
        if any(b <= a for a, b in zip(positions, positions[1:])):
            raise ScheduleError(f"schedule {source!r}: keyframe positions must increase ({positions})")
        if positions[0] < 0:
            raise ScheduleError(f"schedule {source!r}: keyframe positions must be >= 0")
        self.keyframes = keyframes
        self.kind = kind
        self.source = source
        self._positions = positions

    @classmethod
    def parse(cls, text: str, kind: str = "number") -> KeyframeSchedule:
        source = text.strip()
        if not source:
            raise ScheduleError("empty schedule")
        if source.startswith("{"):
            try:
                data = json.loads(source)
            except ValueError as exc:
                raise ScheduleError(f"schedule {source[:60]!r} looks like JSON but is not: {exc}") from None
            if not isinstance(data, dict):
                raise ScheduleError("a JSON schedule must be an object of position -> value")
            items = []
            for key, value in data.items():
                try:
                    position = float(key)
                except ValueError:
                    raise ScheduleError(f"schedule key {key!r} is not a number") from None
                items.append((position, str(value) if kind == "prompt" else str(value)))
            items.sort()
            keyframes = [Keyframe(p, _convert(v, kind, f"keyframe {p:g}")) for p, v in items]
            return cls(keyframes, kind, source)
        markers = list(_MARKER_RE.finditer(source))
        if not markers or markers[0].start() != 0:
            raise ScheduleError(f"schedule {source[:60]!r} must start with a keyframe like '0: ...'")
        keyframes = []
        for i, marker in enumerate(markers):
            end = markers[i + 1].start() if i + 1 < len(markers) else len(source)
            position = float(marker.group(1))
            keyframes.append(Keyframe(position, _convert(source[marker.end():end], kind, f"keyframe {position:g}")))
        return cls(keyframes, kind, source)

    @classmethod
    def constant(cls, value: Any, kind: str = "number") -> KeyframeSchedule:
        return cls([Keyframe(0.0, value)], kind, f"0: {value}")

    @property
    def values(self) -> list[T]:
        return [k.value for k in self.keyframes]

    def segment(self, position: float) -> Segment[T]:
        """The keyframe pair around ``position`` and how far between them it is."""
        i = bisect.bisect_right(self._positions, position) - 1
        if i < 0:
            first = self.keyframes[0].value
            return Segment(first, first, 0.0)
        if i >= len(self.keyframes) - 1:
            last = self.keyframes[-1].value
            return Segment(last, last, 0.0)
        a, b = self.keyframes[i], self.keyframes[i + 1]
        return Segment(a.value, b.value, (position - a.position) / (b.position - a.position))

    def number_at(self, position: float) -> float:
        """Linear interpolation between numeric keyframes."""
        if self.kind == "prompt":
            raise TypeError("a prompt schedule has no numeric value; use segment()")
        seg = self.segment(position)
        return float(seg.a) + (float(seg.b) - float(seg.a)) * seg.t


def parse_optional_schedule(text: str | None, kind: str) -> KeyframeSchedule | None:
    """None or blank -> no schedule; otherwise the parsed schedule (ScheduleError on bad text)."""
    if text is None or not text.strip():
        return None
    return KeyframeSchedule.parse(text, kind)
