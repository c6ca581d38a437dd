"""SMPTE timecode for takes: one clock (the take clock) turned into HH:MM:SS:FF.

A take stamps every event with nanoseconds on its own clock (``t_ns``, 0 at the
start of the take).  Its timecode is *time of day*: the take's start is the
local wall-clock time of day when recording started, and every event's
timecode is that start plus its ``t_ns``, counted in frames at the nominal
rate.  So takes recorded on several machines (or beside a camera slate) line
up by timecode, and within a take timecode and ``t_ns`` never disagree.

Rates: the nominal rate is ``round(fps)``.  29.97 and 59.94 fps use SMPTE
drop-frame counting (frame numbers 00 and 01 -- or 00..03 at 59.94 -- are
skipped at the start of every minute except every tenth, separator ``;``) so
the timecode keeps pace with the wall clock; every other rate is non-drop
(separator ``:``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NS_PER_S = 1_000_000_000
_TIMECODE_RE = re.compile(r"^(\d{2}):(\d{2}):(\d{2})([:;])(\d{2,3})$")
_DAY_S = 24 * 3600


class TimecodeError(ValueError):
    """A timecode string or rate that cannot be used; the message names it."""


@dataclass(frozen=True)
class TimecodeRate:
    """The counting rule for an actual frame rate ``fps``."""

    fps: float

    def __post_init__(self) -> None:
        if not (0.5 <= self.fps <= 1000.0):
            raise TimecodeError(f"timecode rate must be between 0.5 and 1000 fps, got {self.fps}")

    @property
    def nominal(self) -> int:
        """Frames counted per timecode second (30 for 29.97)."""
        return max(1, round(self.fps))

    @property
    def drop_frame(self) -> bool:
        return abs(self.fps - 30000 / 1001) < 0.005 or abs(self.fps - 60000 / 1001) < 0.01

    @property
    def dropped_per_minute(self) -> int:
        return 2 * self.nominal // 30 if self.drop_frame else 0

    def frames_at(self, seconds: float) -> int:
        """Frames elapsed after ``seconds`` of real time (floor)."""
        return int(seconds * self.fps + 1e-9)

    def format(self, frame_count: int) -> str:
        """SMPTE label of frame number ``frame_count`` (counted from 00:00:00:00, wraps at 24 h)."""
        if frame_count < 0:
            raise TimecodeError(f"frame count must be >= 0, got {frame_count}")
        nominal = self.nominal
        if self.drop_frame:
            drop = self.dropped_per_minute
            per_10_min = nominal * 600 - drop * 9
            per_min = nominal * 60 - drop
            frames_per_day = per_10_min * 144
            frame_count %= frames_per_day
            tens, rest = divmod(frame_count, per_10_min)
            if rest > drop:
                frame_count += drop * 9 * tens + drop * ((rest - drop) // per_min)
            else:
                frame_count += drop * 9 * tens
            sep = ";"
        else:
            frame_count %= nominal * _DAY_S
            sep = ":"
        ff = frame_count % nominal
        total_s = frame_count // nominal
        return f"{total_s // 3600:02d}:{total_s // 60 % 60:02d}:{total_s % 60:02d}{sep}{ff:02d}"

    def parse(self, text: str) -> int:
        """Frame number of a timecode label (inverse of ``format`` within a day)."""
        match = _TIMECODE_RE.match(text)
        if match is None:
            raise TimecodeError(f"not a SMPTE timecode (HH:MM:SS:FF or HH:MM:SS;FF): {text!r}")
        hh, mm, ss, _sep, ff = match.groups()
        hours, minutes, seconds, frames = int(hh), int(mm), int(ss), int(ff)
        nominal = self.nominal
        if minutes > 59 or seconds > 59 or frames >= nominal or hours > 23:
            raise TimecodeError(f"timecode {text!r} is out of range at {nominal} frames per second")
        total_minutes = hours * 60 + minutes
        count = (total_minutes * 60 + seconds) * nominal + frames
        if self.drop_frame:
            drop = self.dropped_per_minute
            if seconds == 0 and frames < drop and minutes % 10 != 0:
                raise TimecodeError(f"timecode {text!r} does not exist in drop-frame counting")
            count -= drop * (total_minutes - total_minutes // 10)
        return count


@dataclass(frozen=True)
class TakeTimecode:
    """Timecode of a take: time of day of its start plus elapsed take-clock time."""

    rate: TimecodeRate
    start_frame: int  # frame number of the take's start (time of day)

    @classmethod
    def starting_at(cls, fps: float, seconds_of_day: float) -> TakeTimecode:
        rate = TimecodeRate(fps)
        return cls(rate, rate.frames_at(seconds_of_day % _DAY_S))

    @property
    def start(self) -> str:
        return self.rate.format(self.start_frame)

    def at(self, t_ns: int) -> str:
        """Timecode of the take-clock instant ``t_ns`` (ns since the take's start)."""
        return self.rate.format(self.start_frame + self.rate.frames_at(max(0, t_ns) / NS_PER_S))


def seconds_of_day(wall_ns: int, utc_offset_s: int) -> float:
    """Local time of day in seconds for a Unix time in ns and the local UTC offset."""
    return ((wall_ns / NS_PER_S) + utc_offset_s) % _DAY_S
