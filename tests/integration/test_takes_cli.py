"""``machinima-bridge takes list|show|export|rerender`` as a user runs them (a real process per command)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import av
import pytest

from bridge.simulated_scene import SceneSettings, SimulatedScene
from bridge.takes import TakeRecorder

ROOT = Path(__file__).resolve().parents[2]


def _takes(takes_dir: Path, *args: str, timeout_s: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bridge.takes.cli", "takes", "--takes-dir", str(takes_dir), *args],
        capture_output=True, text=True, timeout=timeout_s, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.fixture(scope="module")
def takes_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("takes")
    scene = SimulatedScene(SceneSettings(192, 108, seed=2))
    now = [0]

    def clock() -> int:
        return now[0]

    recorder = TakeRecorder(root, "scene-7", clock_ns=clock, fps_hint=25.0)
    recorder.start({"cam": {"name": "passthrough", "stage": [{"type": "passthrough"}]}})
    for i in range(30):
        frame = scene.render(i / 25)
        if i == 10:
            recorder.on_control("cam", "stylize", {"strength": 0.0}, None, i)
        recorder.on_input("cam", i, 0, None, frame.color_rgba, None, None, color_format="RGBA8")
        recorder.on_output("cam", i, frame.color_rgba, False, color_format="RGBA8")
        now[0] += 40_000_000
    recorder.stop()
    return root


def test_list_and_show(takes_dir):
    listed = _takes(takes_dir, "list")
    assert listed.returncode == 0, listed.stderr
    assert "scene-7" in listed.stdout and "complete" in listed.stdout
    rows = json.loads(_takes(takes_dir, "list", "--json").stdout)
    assert rows[0]["name"] == "scene-7" and rows[0]["streams"]["cam"]["input_frames"] == 30
    shown = _takes(takes_dir, "show", "scene-7")
    assert shown.returncode == 0, shown.stderr
    assert "30 input, 30 output frames" in shown.stdout and "controls  1" in shown.stdout
    assert "pipeline passthrough [passthrough]" in shown.stdout


def test_export_and_rerender_with_progress(takes_dir, tmp_path):
    exported = _takes(takes_dir, "export", "scene-7", "--out", str(tmp_path / "exp"))
    assert exported.returncode == 0, exported.stderr
    assert Path(exported.stdout.strip()) == tmp_path / "exp" / "cam.mp4"
    assert "ETA" in exported.stderr or "done" in exported.stderr

    out = tmp_path / "render.mp4"
    rendered = _takes(takes_dir, "rerender", "scene-7", "--pipeline", "builtin:default", "--out", str(out))
    assert rendered.returncode == 0, rendered.stderr
    assert "30 frames (192x108)" in rendered.stdout and "1 controls applied" in rendered.stdout
    progress = rendered.stderr.split("\r")
    assert any("ETA" in line for line in progress) and "30/30 100%" in progress[-1]
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 30


def test_errors_name_the_take_or_the_pipeline(takes_dir):
    missing = _takes(takes_dir, "show", "no-such-take")
    assert missing.returncode == 2 and "no take 'no-such-take'" in missing.stderr
    bad = _takes(takes_dir, "rerender", "scene-7", "--pipeline", "builtin:nope", "--out", "x.mp4")
    assert bad.returncode == 2 and "no built-in pipeline 'nope'" in bad.stderr
