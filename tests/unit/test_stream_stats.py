from __future__ import annotations

import pytest

from bridge.stream_stats import StreamStatsTracker


def test_rates_latency_and_stage_means():
    tracker = StreamStatsTracker(3, "main")
    t = 10_000_000_000
    for i in range(31):  # 30 intervals of 1/30 s -> 30 fps
        tracker.record_in(t + i * 33_333_333)
        tracker.record_out(server_us=1000 * (i + 1), stage_us={"stylize": 20_000, "cadence": 10}, now_ns=t + i * 33_333_333)
    snap = tracker.snapshot(dropped=4, now_ns=t + 30 * 33_333_333)
    assert snap.id == 3 and snap.name == "main" and snap.frames_in == 31 and snap.frames_out == 31 and snap.dropped == 4
    assert snap.fps_in == pytest.approx(30.0, rel=0.01) and snap.fps_out == pytest.approx(30.0, rel=0.01)
    assert snap.latency_ms_p50 == pytest.approx(16.0)
    assert 28.0 < snap.latency_ms_p95 <= 31.0
    assert snap.stage_ms == {"stylize": pytest.approx(20.0), "cadence": pytest.approx(0.01)}


def test_rates_fall_to_zero_when_the_stream_stops():
    tracker = StreamStatsTracker(0, "s")
    t = 1_000_000_000
    for i in range(10):
        tracker.record_in(t + i * 10_000_000)
    assert tracker.snapshot(0, now_ns=t + 100_000_000).fps_in > 50
    assert tracker.snapshot(0, now_ns=t + 10_000_000_000).fps_in == 0.0


def test_a_retracted_result_is_not_counted():
    """The server records a RESULT before sending it; one the engine could not take is taken back."""
    tracker = StreamStatsTracker(0, "s")
    t = 1_000_000_000
    for i in range(10):
        tracker.record_out(server_us=2000, stage_us={"stylize": 1000}, now_ns=t + i * 10_000_000)
    tracker.record_out(server_us=9000, stage_us={"stylize": 8000}, now_ns=t + 10 * 10_000_000)
    tracker.retract_out(server_us=9000, stage_us={"stylize": 8000})
    snap = tracker.snapshot(0, now_ns=t + 9 * 10_000_000)
    assert snap.frames_out == 10
    assert snap.fps_out == pytest.approx(100.0, rel=0.01)
    assert snap.latency_ms_p50 == pytest.approx(2.0) and snap.latency_ms_p95 == pytest.approx(2.0)
    assert snap.stage_ms == {"stylize": pytest.approx(1.0)}


def test_rates_stay_right_above_the_kept_arrival_times():
    """Arrival times are appended without trimming (the RESULT path stays an append); above the 4096 kept per
    direction the rate comes from the newest ones."""
    tracker = StreamStatsTracker(0, "s")
    t = 1_000_000_000
    for i in range(6000):  # 3 kHz for 2 s
        tracker.record_in(t + i * 333_333)
    snap = tracker.snapshot(0, now_ns=t + 5999 * 333_333)
    assert snap.frames_in == 6000
    assert snap.fps_in == pytest.approx(3000.0, rel=0.01)
