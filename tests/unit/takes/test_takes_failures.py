"""A take that cannot be written stops loudly, keeps what was committed, and never disturbs the caller.

Real write errors: a child process records under RLIMIT_FSIZE (the kernel fails the write with EFBIG, even
for root), and -- where this machine lets root mount one -- a 3 MiB tmpfs fills up (ENOSPC).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from bridge.takes import EncodingSettings, TakeReader, TakeRecorder

ROOT = Path(__file__).resolve().parents[3]


def _flat_then_noise(i: int, rng: np.random.Generator, width: int = 320, height: int = 180) -> np.ndarray:
    """Tiny to encode for the first 30 frames, incompressible after: the second segment is what overflows."""
    if i < 30:
        return np.full((height, width, 3), (i * 7) % 256, np.uint8)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def _record_until_stopped(recorder: TakeRecorder, frames: int, fps: float = 30.0) -> dict:
    """The "live stream": frames at ``fps`` into the recorder's hooks, whatever happens to the recording."""
    rng = np.random.default_rng(1)
    slowest = 0.0
    calls_after_failure = 0
    for i in range(frames):
        rgb = _flat_then_noise(i, rng)
        t0 = time.perf_counter()
        recorder.on_input("cam", i, i, None, rgb, np.full(rgb.shape[:2], 2.0, np.float32), None)
        recorder.on_output("cam", i, rgb, False)
        slowest = max(slowest, time.perf_counter() - t0)
        if recorder.failed:
            calls_after_failure += 1
        time.sleep(1.0 / fps)
    return {"slowest_hook_s": slowest, "calls_after_failure": calls_after_failure}


def child_main(take_dir: str, limit_bytes: int) -> None:
    """Run in a child process: record with every file capped at ``limit_bytes`` (EFBIG past it)."""
    import resource
    import signal

    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the cap fails with EFBIG instead of killing us
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))
    # encoded live: a per-file cap falls inside the compressed segments' growth (raw segments all have one
    # size, so they would fail from the first one; the full-disk test below covers the raw writers)
    recorder = TakeRecorder(take_dir, "capped", fps_hint=30.0, encoding=EncodingSettings(deferred=False))
    recorder.start({"cam": {"name": "passthrough"}})
    live = _record_until_stopped(recorder, 75)
    info = recorder.stop()
    print(json.dumps({"failed": recorder.failed, "status": info.status, "input_frames": info.input_frames, **live}))


def test_a_write_error_mid_take_stops_recording_loudly_and_keeps_what_was_written(tmp_path):
    result = subprocess.run(
        [sys.executable, __file__, str(tmp_path), str(1024 * 1024)],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["status"] == "failed"
    assert "File too large" in report["failed"] or "EFBIG" in report["failed"] or "Errno 27" in report["failed"]
    assert "RECORDING STOPPED" in result.stderr  # logged loudly, once
    assert result.stderr.count("RECORDING STOPPED") == 1
    # the live loop went on after the failure and no call ever waited on the disk
    assert report["calls_after_failure"] > 10
    assert report["slowest_hook_s"] < 0.5
    reader = TakeReader(tmp_path / "capped")
    assert reader.status == "failed" and "File too large" in (reader.info().failure or "")
    kept = list(reader.input_frames("cam"))
    assert [f.index for f in kept] == list(range(len(kept))) and len(kept) >= 25  # the first second survived
    assert all(np.array_equal(f.color_rgb, np.full((180, 320, 3), (f.index * 7) % 256, np.uint8)) for f in kept)


@pytest.fixture
def tiny_tmpfs(tmp_path, request):
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    size = getattr(request, "param", "3m")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


@pytest.mark.parametrize("tiny_tmpfs, deferred", [("3m", False), ("12m", True)], indirect=["tiny_tmpfs"],
                         ids=["encoded-live", "raw-then-compacted"])
def test_disk_full_stops_recording_and_the_take_still_opens(tiny_tmpfs, deferred, caplog):
    # raw segments are ~15x larger than encoded ones: the disk is sized so both fill up in the second second
    recorder = TakeRecorder(tiny_tmpfs, "full", fps_hint=30.0, encoding=EncodingSettings(deferred=deferred))
    recorder.start({"cam": {"name": "passthrough"}})
    with caplog.at_level(logging.ERROR, logger="bridge.takes.recorder"):
        live = _record_until_stopped(recorder, 75)
        info = recorder.stop()
    assert info.status == "failed"
    assert "No space left on device" in (recorder.failed or "")
    assert any("RECORDING STOPPED" in r.getMessage() for r in caplog.records)
    assert live["calls_after_failure"] > 10 and live["slowest_hook_s"] < 0.5
    reader = TakeReader(tiny_tmpfs / "full")
    # the final manifest may not have fitted; the in-place status file still says why it stopped
    assert reader.status == "failed" and "No space left" in (reader.info().failure or "")
    kept = list(reader.input_frames("cam"))
    assert len(kept) >= 25 and [f.index for f in kept] == list(range(len(kept)))
    assert recorder.wait_compacted(60)


def test_a_writer_that_cannot_keep_up_stops_the_take_instead_of_dropping_frames(tmp_path, scene_frames, caplog):
    recorder = TakeRecorder(tmp_path, "overflow", max_queued_bytes=1024 * 1024)
    recorder.start({})
    big = np.ascontiguousarray(np.tile(scene_frames[0].color_rgba, (4, 4, 1)))  # 640x384 RGBA, ~1 MB a frame
    with caplog.at_level(logging.ERROR, logger="bridge.takes.recorder"):
        for i in range(30):
            recorder.on_input("cam", i, 0, None, big, None, None, color_format="RGBA8")
        info = recorder.stop()
    assert "fell behind" in (recorder.failed or "") and "MiB" in recorder.failed
    assert info.status == "failed"
    assert any("RECORDING STOPPED" in r.getMessage() for r in caplog.records)
    # nothing accepted was lost: every frame the recorder took before stopping is in the take
    accepted = recorder.accepted["input"]
    assert 1 <= accepted < 30
    assert [f.index for f in TakeReader(info.path).input_frames("cam")] == list(range(accepted))


def test_a_writer_too_far_behind_the_live_stream_stops_the_take(tmp_path, scene_frames):
    base = time.monotonic_ns()

    def clock() -> int:  # the writers see a clock 10 s ahead of the hooks: they are 10 s behind
        writer = threading.current_thread().name.startswith("take-writer")
        return base + (10_000_000_000 if writer else 0)

    recorder = TakeRecorder(tmp_path, "lagging", clock_ns=clock, max_writer_lag_s=2.0)
    recorder.start({})
    for i in range(3):
        recorder.on_input("cam", i, 0, None, scene_frames[i].to_rgb(), None, None)
    info = recorder.stop()
    assert "behind the live stream" in (recorder.failed or "")
    # the first frame the writer reached stopped the take; whatever had been accepted is still written
    assert info.status == "failed" and 1 <= recorder.accepted["input"] <= 3
    assert info.input_frames == recorder.accepted["input"]


def test_start_reports_a_takes_dir_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(OSError):
        TakeRecorder(blocker / "takes", "x").start({})


if __name__ == "__main__":
    child_main(sys.argv[1], int(sys.argv[2]))
