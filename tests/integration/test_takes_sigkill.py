"""SIGKILL the recording process in the middle of a take: the take reopens and at most about a second is lost.

The child records the simulated scene (colour, depth, mask), CONTROLs, poses and audio through TakeRecorder at
30 fps on the real clock and prints every frame it hands over; the test kills it with SIGKILL mid-take.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bridge.simulated_scene import SceneSettings, SimulatedScene
from bridge.takes import TakeReader, export_take, rerender
from bridge.takes.layout import MANIFEST

ROOT = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT, FPS = 320, 180, 30.0


def child_main(takes_dir: str) -> None:
    from bridge.takes import TakeRecorder
    from mocap.pose_wire import pose_to_wire
    from mocap.skeleton import t_pose

    scene = SimulatedScene(SceneSettings(WIDTH, HEIGHT, seed=5))
    recorder = TakeRecorder(takes_dir, "killed", fps_hint=FPS)
    recorder.start({"cam": {"name": "passthrough", "stage": [{"type": "passthrough"}]}})
    start = time.monotonic()
    for i in range(100_000):
        frame = scene.render(i / FPS)
        if i % 10 == 5:
            recorder.on_control("cam", "film_look", {"grain": (i % 100) / 100}, None, i)
        recorder.on_input("cam", i, i, None, frame.color_rgba, frame.depth_m, frame.actor_mask, color_format="RGBA8")
        recorder.on_output("cam", i, frame.color_rgba, False, color_format="RGBA8")
        recorder.on_audio("cam", i, 48_000, 1, np.zeros(1600, "<i2").tobytes())
        recorder.on_mocap("dancer", *pose_to_wire(t_pose("dancer", timestamp_ns=time.time_ns())))
        print(json.dumps({"index": i, "t_ns": recorder.take_time_ns()}), flush=True)
        time.sleep(max(0.0, start + (i + 1) / FPS - time.monotonic()))


def _read_lines(proc: subprocess.Popen, until_index: int, timeout_s: float) -> list[dict]:
    lines: list[dict] = []
    buffer = b""
    deadline = time.monotonic() + timeout_s
    fd = proc.stdout.fileno()
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        lines.extend(json.loads(line) for line in complete if line.strip())
        if until_index >= 0 and lines and lines[-1]["index"] >= until_index:
            break
    return lines


# just after a segment boundary (2.5 s: the previous segment may not be committed yet) and late in a segment
@pytest.mark.parametrize("kill_after_frames", [77, 88])
def test_a_take_killed_mid_recording_reopens_with_all_but_the_last_second(tmp_path, kill_after_frames):
    proc = subprocess.Popen(
        [sys.executable, __file__, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        handed = _read_lines(proc, kill_after_frames, timeout_s=90)
        assert handed and handed[-1]["index"] >= kill_after_frames, proc.stderr.read().decode()[-3000:]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        handed += _read_lines(proc, -1, timeout_s=5)  # lines printed before it died
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    take = tmp_path / "killed"
    assert json.loads((take / MANIFEST).read_text())["status"] == "recording"  # as the dead process left it

    reader = TakeReader(take)
    assert reader.rebuilt and reader.status == "interrupted"
    manifest = json.loads((take / MANIFEST).read_text())  # rewritten (atomically) with what was kept
    assert manifest["status"] == "interrupted"
    kept_segments = manifest["streams"]["cam"]["input"]["segments"]
    assert kept_segments and manifest["streams"]["cam"]["input"]["count"] == sum(s["count"] for s in kept_segments)
    assert manifest["recovery"]["partial_files_left_out"], "the unfinished segment should be listed as left out"

    frames = list(reader.input_frames("cam"))
    kept = [f.index for f in frames]
    assert kept == list(range(len(kept)))  # nothing missing before the end
    last_handed = handed[-1]
    lost_s = (last_handed["t_ns"] - frames[-1].t_ns) / 1e9
    assert 0 <= lost_s <= 1.0, f"lost {lost_s:.2f} s of take (kept {len(kept)} of {last_handed['index'] + 1} frames)"
    assert manifest["streams"]["cam"]["input"]["count"] == len(kept)

    scene = SimulatedScene(SceneSettings(WIDTH, HEIGHT, seed=5))
    for frame in (frames[0], frames[len(frames) // 2], frames[-1]):
        source = scene.render(frame.index / FPS)
        assert np.array_equal(frame.color_rgb, source.to_rgb())
        assert np.array_equal(frame.mask, source.actor_mask)
        assert np.array_equal(frame.depth_m, source.depth_m.astype(np.float16))

    outputs = list(reader.output_frames("cam"))
    assert [o.index for o in outputs] == list(range(len(outputs))) and len(outputs) >= len(kept) - FPS
    controls = reader.controls("cam")
    assert controls and [c.input_index for c in controls] == list(range(5, controls[-1].input_index + 1, 10))
    assert reader.performers()["dancer"] >= len(kept)
    assert manifest["mocap"]["performers"]["dancer"] == reader.performers()["dancer"]

    # what survived is a usable take: it re-renders one frame per kept input and exports
    report = rerender(reader, "builtin:passthrough", tmp_path / "again.mkv")
    assert report.frames_written == len(kept)
    result = export_take(reader, tmp_path / "export")
    assert {p.name for p in result.files} >= {"cam.mp4", "cam.wav", "dancer.bvh"}
    assert TakeReader(take).rebuilt is False  # the repaired manifest is the take's manifest now


if __name__ == "__main__":
    child_main(sys.argv[1])
