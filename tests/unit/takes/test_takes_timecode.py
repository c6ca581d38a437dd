"""SMPTE timecode of takes: non-drop and drop-frame counting, parsing, the take clock."""

from __future__ import annotations

import pytest

from bridge.takes.timecode import TakeTimecode, TimecodeError, TimecodeRate, seconds_of_day


def test_non_drop_counts_whole_frames_at_the_nominal_rate():
    rate = TimecodeRate(25.0)
    assert not rate.drop_frame
    assert rate.format(0) == "00:00:00:00"
    assert rate.format(24) == "00:00:00:24"
    assert rate.format(25) == "00:00:01:00"
    assert rate.format(25 * 3600 + 25 * 61 + 3) == "01:01:01:03"
    assert rate.format(25 * 86400) == "00:00:00:00"  # wraps at 24 h


def test_drop_frame_skips_two_labels_each_minute_except_every_tenth():
    rate = TimecodeRate(30000 / 1001)
    assert rate.drop_frame and rate.nominal == 30
    assert rate.format(1799) == "00:00:59;29"
    assert rate.format(1800) == "00:01:00;02"  # ;00 and ;01 do not exist at minute 1
    assert rate.format(17982) == "00:10:00;00"  # minute 10 keeps them
    assert rate.format(17981) == "00:09:59;29"
    # one hour of 29.97 fps is 107892 frames and reads exactly one hour
    assert rate.format(107892) == "01:00:00;00"


def test_drop_frame_at_59_94_skips_four():
    rate = TimecodeRate(60000 / 1001)
    assert rate.drop_frame and rate.dropped_per_minute == 4
    assert rate.format(3600) == "00:01:00;04"


@pytest.mark.parametrize("fps", [24.0, 25.0, 30.0, 30000 / 1001, 60000 / 1001, 50.0])
def test_parse_inverts_format(fps):
    rate = TimecodeRate(fps)
    for frame in list(range(0, 4000, 7)) + [17981, 17982, 17983, 107891, 107892]:
        assert rate.parse(rate.format(frame)) == frame


def test_parse_rejects_labels_that_do_not_exist():
    with pytest.raises(TimecodeError, match="drop-frame"):
        TimecodeRate(30000 / 1001).parse("00:01:00;00")
    with pytest.raises(TimecodeError, match="out of range"):
        TimecodeRate(25.0).parse("00:00:00:25")
    with pytest.raises(TimecodeError, match="not a SMPTE timecode"):
        TimecodeRate(25.0).parse("1:2:3")
    with pytest.raises(TimecodeError, match="between"):
        TimecodeRate(0.0)


def test_take_timecode_is_time_of_day_plus_take_clock():
    tc = TakeTimecode.starting_at(30.0, seconds_of_day(0, 3600 * 10 + 30))  # 10:00:30 local
    assert tc.start == "10:00:30:00"
    assert tc.at(0) == "10:00:30:00"
    assert tc.at(1_000_000_000 // 30 * 2 + 1000) == "10:00:30:02"
    assert tc.at(2_500_000_000) == "10:00:32:15"
    assert tc.at(-5) == tc.start  # nothing is before the start
