"""When a new picture is drawn: rate-limited and on-twos cadences."""
from __future__ import annotations

import numpy as np
import pytest

from realtime_models.frame_cadence import NS_PER_S, FrameCadence


def capture_times_ns(fps: float, seconds: float, start_ns: int = 1_000_000_000_000) -> list[int]:
    count = int(round(fps * seconds))
    return [start_ns + round(i * NS_PER_S / fps) for i in range(count)]


def updates(cadence: FrameCadence, times_ns: list[int]) -> list[bool]:
    return [cadence.should_update(t) for t in times_ns]


def test_target_8_from_30fps_gives_exactly_8_per_second():
    cadence = FrameCadence(target_fps=8)
    decisions = updates(cadence, capture_times_ns(30, 1))
    assert sum(decisions) == 8
    assert decisions[0]  # the first frame always draws
    # spread out: never two new pictures in a row, never more than 4 frames held
    indices = np.flatnonzero(decisions)
    assert set(np.diff(indices)) <= {3, 4}
    # long runs average exactly the target
    assert sum(updates(cadence, capture_times_ns(30, 60, start_ns=1_000_000_000_000 + NS_PER_S))) == 480


def test_jittery_capture_clock_still_averages_the_target():
    rng = np.random.default_rng(5)
    times = [t + int(rng.integers(-4_000_000, 4_000_001)) for t in capture_times_ns(30, 20)]
    assert sum(updates(FrameCadence(target_fps=8), times)) == 160


def test_ntsc_film_rate_does_not_drift_over_a_long_run():
    cadence = FrameCadence(target_fps=24000 / 1001)
    # 1001 s of 60 fps capture holds exactly 24000 ticks of 23.976 fps
    assert sum(updates(cadence, capture_times_ns(60, 1001))) == 24000


def test_target_above_input_rate_updates_every_frame():
    assert all(updates(FrameCadence(target_fps=60), capture_times_ns(30, 2)))


def test_on_twos_and_threes():
    times = capture_times_ns(24, 1)
    assert updates(FrameCadence(hold_frames=2), times[:6]) == [True, False, True, False, True, False]
    assert updates(FrameCadence(hold_frames=3), times[:6]) == [True, False, False, True, False, False]
    assert all(updates(FrameCadence(hold_frames=1), times))


def test_reset_makes_the_next_frame_draw():
    cadence = FrameCadence(hold_frames=3)
    cadence.should_update(0)
    assert not cadence.should_update(10)
    cadence.reset()
    assert cadence.should_update(20)
    timed = FrameCadence(target_fps=2)
    assert timed.should_update(0)
    assert not timed.should_update(100_000_000)
    timed.reset()
    assert timed.should_update(200_000_000)


def test_backwards_time_restarts_the_grid():
    cadence = FrameCadence(target_fps=10)
    assert cadence.should_update(5 * NS_PER_S)
    assert not cadence.should_update(5 * NS_PER_S + 50_000_000)
    assert cadence.should_update(1 * NS_PER_S)  # clock went back: draw, and anchor a new grid there
    assert not cadence.should_update(1 * NS_PER_S + 99_000_000)
    assert cadence.should_update(1 * NS_PER_S + 100_000_000)


def test_numpy_timestamps_are_accepted():
    cadence = FrameCadence(target_fps=10)
    assert cadence.should_update(np.int64(0))
    assert cadence.should_update(np.int64(NS_PER_S))


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({}, "exactly one"),
        ({"target_fps": 8, "hold_frames": 2}, "exactly one"),
        ({"target_fps": 0}, "positive"),
        ({"target_fps": float("nan")}, "positive"),
        ({"target_fps": -5}, "positive"),
        ({"hold_frames": 0}, ">= 1"),
        ({"hold_frames": 2.5}, ">= 1"),
        ({"hold_frames": True}, ">= 1"),
    ],
)
def test_bad_arguments_are_named(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        FrameCadence(**kwargs)


def test_bad_timestamp_is_named():
    with pytest.raises(ValueError, match="t_capture_ns"):
        FrameCadence(hold_frames=2).should_update("soon")
