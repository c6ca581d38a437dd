"""The Unreal plugin's engine-independent C++ (Protocol/, Transport/), built with g++ and run for real.

* the golden vectors: every valid vector decodes and re-encodes byte for byte, every invalid one is
  rejected with its error code (engine_plugins/unreal/Tests/protocol_vectors_test.cpp);
* a live session of the C++ client against a BridgeServer started here: HELLO, 100 FRAMEs of
  512x512 RGBA, RESULTs in order, a CONTROL that shows in the output, BYE;
* two C++ engines in one session: SESSION events, a MOCAP pose relayed by the server and decoded,
  a STATE change confirmed to both;
* the threaded EngineLink the Unreal worker runs: heartbeats keep an idle session alive, and it
  reconnects after the server says BYE and after the server process dies without a word.

Skips (naming the missing tool) without g++ or the libzmq/cppzmq headers; fails when the C++ does
not compile.  CI installs the tools (apt-get install -y g++ libzmq3-dev cppzmq-dev).
"""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bridge.server import BridgeServer
from bridge.server_config import ServerConfig

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors"
BUILD_SCRIPT = ROOT / "engine_plugins" / "unreal" / "Tests" / "cpp_build.py"


def _load_cpp_build():
    spec = importlib.util.spec_from_file_location("unreal_cpp_build", BUILD_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cpp_programs(tmp_path_factory):
    cpp_build = _load_cpp_build()
    out_dir = tmp_path_factory.mktemp("unreal_cpp")
    reason = cpp_build.missing_toolchain(out_dir, need_zmq=True)
    if reason:
        pytest.skip(f"Unreal plugin C++ checks skipped: {reason}")
    try:
        # -O0: the checks, not speed (benchmarks/bench_cpp_client.py builds with -O2).
        return cpp_build.build(out_dir, optimize="-O0")
    except cpp_build.CppBuildError as exc:
        pytest.fail(f"the Unreal plugin's C++ does not compile:\n{exc}", pytrace=False)


def _run(args: list[str], timeout_s: float) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout_s)


def test_cpp_protocol_passes_every_golden_vector(cpp_programs):
    proc = _run([cpp_programs.vectors_test, VECTORS], timeout_s=60)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["valid_vectors"] == len(list(VECTORS.glob("*.json"))) >= 15
    assert summary["invalid_vectors"] == len(list((VECTORS / "invalid").glob("*.json"))) >= 26
    assert summary["failures"] == 0 and summary["vector_checks"] > 200 and summary["unit_checks"] > 50


def test_cpp_protocol_test_fails_on_a_corrupted_vector(cpp_programs, tmp_path):
    """The vector test really compares bytes: one flipped bit in a golden file makes it fail."""
    copy = tmp_path / "vectors"
    (copy / "invalid").mkdir(parents=True)
    for path in VECTORS.glob("*"):
        if path.is_file():
            (copy / path.name).write_bytes(path.read_bytes())
    header = bytearray((copy / "heartbeat.0.bin").read_bytes())
    header[-1] ^= 0x01  # t_ns changes: the JSON no longer matches
    (copy / "heartbeat.0.bin").write_bytes(bytes(header))

    proc = _run([cpp_programs.vectors_test, copy], timeout_s=60)

    assert proc.returncode == 1
    assert "heartbeat" in proc.stderr and json.loads(proc.stdout.strip().splitlines()[-1])["failures"] > 0


@pytest.mark.timeout(180)
def test_cpp_client_live_session_with_control_change(cpp_programs):
    server = BridgeServer(ServerConfig(endpoints=["tcp://127.0.0.1:*"]))
    server.start()
    try:
        proc = _run([cpp_programs.live_client, "session", "--endpoint", server.endpoint, "--frames", "100",
                     "--size", "512x512", "--pipeline", "default", "--control-stage", "stylize",
                     "--control-param", "strength", "--control-value", "0"], timeout_s=150)
    finally:
        server.stop()

    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["results"] == report["frames_sent"] == 100
    assert report["in_order"] and report["sizes_ok"] and report["dropped"] == 0
    # stylize at strength 1 changes the picture; after CONTROL strength 0 the output is the input
    assert report["mean_abs_diff_before_control"] > 5.0
    assert report["control"]["ok"] and report["identical_after_control"] == 50
    assert report["rejected_control_code"] == 10  # UNKNOWN_PARAM
    assert report["stats_frames_in"] >= 100 and report["stats_frames_out"] >= 100
    assert report["after_bye"] == "NOT_WELCOMED"


def test_cpp_clients_share_a_session_mocap_and_state(cpp_programs):
    """Two C++ engines in one session: SESSION events, a MOCAP pose relayed and decoded, a STATE change."""
    server = BridgeServer(ServerConfig(endpoints=["tcp://127.0.0.1:*"]))
    server.start()
    try:
        proc = _run([cpp_programs.live_client, "shared", "--endpoint", server.endpoint], timeout_s=60)
    finally:
        server.stop()

    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["pose_relayed"] and report["state_version"] >= 1 and report["leave_reason"] == "bye"


_HANGABLE_SERVER = """
import sys, time
from bridge.server import BridgeServer
from bridge.server_config import ServerConfig
server = BridgeServer(ServerConfig(endpoints=[sys.argv[1]], heartbeat_ms=200, timeout_ms=1000))
server.start()
print("ready", flush=True)
time.sleep(600)
"""


def _fast_liveness(endpoint: str) -> ServerConfig:
    return ServerConfig(endpoints=[endpoint], heartbeat_ms=200, timeout_ms=1000)


def _read_lines(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


@pytest.mark.timeout(180)
def test_cpp_engine_link_keeps_alive_and_reconnects(cpp_programs):
    """Round 1: the server stops and says BYE.  Round 2: the server process hangs (SIGSTOP: the
    connection stays open, nothing answers), then dies and a new server takes its endpoint."""
    server = BridgeServer(_fast_liveness("tcp://127.0.0.1:*"))
    server.start()
    endpoint = server.endpoint
    hanging = None
    proc = subprocess.Popen([str(cpp_programs.live_client), "link", "--endpoint", endpoint, "--frames", "20",
                             "--idle-ms", "2500", "--restarts", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True).start()
    events = []
    deadline = time.monotonic() + 120
    try:
        while True:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if line is None:
                break
            event = json.loads(line)
            events.append(event)
            step = (event["event"], event.get("round"))
            if step == ("restart_server", 1):
                server.stop()  # says BYE to the engine
                hanging = subprocess.Popen([sys.executable, "-c", _HANGABLE_SERVER, endpoint],
                                           stdout=subprocess.PIPE, text=True, cwd=ROOT,
                                           env={**os.environ, "PYTHONPATH": str(ROOT)})
                assert hanging.stdout.readline().strip() == "ready"
            elif step == ("restart_server", 2):
                hanging.send_signal(signal.SIGSTOP)  # no BYE, no answers: only heartbeats can tell
            elif step == ("disconnected", 2):
                hanging.kill()
                hanging.wait(10)
                server = BridgeServer(_fast_liveness(endpoint))
                server.start()
        assert proc.wait(30) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        if hanging is not None and hanging.poll() is None:
            hanging.kill()
        server.stop()

    by_kind: dict[str, list[dict]] = {}
    for event in events:
        by_kind.setdefault(event["event"], []).append(event)
    frames = by_kind["frames"]
    assert [f["phase"] for f in frames] == ["first", "after_restart_1", "after_restart_2"]
    assert all(f["results"] == 20 and f["in_order"] for f in frames)
    # idle 2.5 s with the server's timeout at 1 s: only the link's heartbeats kept the session
    assert by_kind["idle"][0]["disconnects"] == 0
    assert by_kind["control_ack"][0] == {"event": "control_ack", "ok": False, "code": 9}  # UNKNOWN_STAGE
    reasons = [e["reason"] for e in by_kind["disconnected"]]
    assert "server shutting down" in reasons[0]
    assert reasons[1].startswith("server silent for")
    assert [e["connects"] for e in by_kind["reconnected"]] == [2, 3]
    stopped = by_kind["stopped"][0]
    assert stopped["ok"] and stopped["connects"] == 3 and stopped["results"] == 60
    assert stopped["stop_ms"] < 2000  # a clean shutdown never hangs the engine
