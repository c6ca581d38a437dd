"""The Unreal plugin's engine-independent C++ (Protocol/, Transport/), built with g++ and run for real.

* the golden vectors: every valid vector decodes and re-encodes byte for byte, every invalid one is
  rejected with its error code (engine_plugins/unreal/Tests/protocol_vectors_test.cpp);
* a live session of the C++ client against a BridgeServer started here: HELLO, 100 FRAMEs of
  512x512 RGBA, RESULTs in order, a CONTROL that shows in the output, BYE;
* two C++ engines in one session: SESSION events, a MOCAP pose relayed by the server and decoded,
  a STATE change confirmed to both;
* the threaded EngineLink the Unreal worker runs: heartbeats keep an idle session alive, and it
  reconnects after the server says BYE and after the server process dies without a word;
* AUDIO (docs/protocol.md 6.14): the C++ and Python parsers agree on every field of AUDIO and of
  the stream's audio format, broken or not; float -> s16 follows the reference rule; sound cut into
  chunks flows beside frames through EngineLink, and the server's refusals come back as ERRORs;
* takes: the take name rule matches the server's, EngineLink starts and stops a take, and so do a
  stream-less EngineSession and EngineLink (HELLO without streams; the take CONTROL on stream 0); the server's
  take state (STATE ``bridge.take``) reaches EngineLinks with the capability "session" when this test
  starts and stops the take itself, from the snapshot for a link that joins during the take (the
  parsing of good and malformed values is checked by protocol_vectors_test).

Skips (naming the missing tool) without g++ or the libzmq/cppzmq headers; fails when the C++ does
not compile.  CI installs the tools (apt-get install -y g++ libzmq3-dev cppzmq-dev).
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import msgpack
import numpy as np
import pytest

from bridge.protocol.audio_messages import Audio, AudioFormat
from bridge.protocol.errors import ProtocolError
from bridge.protocol.messages import Hello, StreamDeclaration, parse_message, serialize_message
from bridge.server import BridgeServer
from bridge.server_config import ServerConfig
from take_name_cases import assert_verdicts_match_the_server, take_name_cases, write_names_hex

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


# ---------------------------------------------------------------------------------------------- AUDIO


def _audio_messages() -> dict[str, list[bytes]]:
    """HELLO declaring a stream with sound (every declaration key set) and AUDIO chunks, as Python writes them."""
    pcm = np.array([[0, 0], [32767, -32768], [-1, 1], [12345, -23456], [-32767, 32767]], np.int16)
    messages = {
        "hello_audio": Hello("Unreal 5.4", [StreamDeclaration(7, "set-cam", 4, 3, "BGRA8", "F32", True, 24.0, "film",
                                                              AudioFormat(44100, 2)),
                                            StreamDeclaration(8, "quiet", 16, 16)],
                             "probe/1", "take-3", ["audio"], 250),
        "audio": Audio.from_array(7, 2**63 - 1, 2**63 - 1, 44100, pcm),
        "audio_mono_max": Audio.from_array(65535, 0, 0, 192000, (np.arange(192000) % 65536 - 32768).astype(np.int16)),
    }
    return {name: [bytes(p) for p in serialize_message(m)] for name, m in messages.items()}


def _field_mutations(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[str, Any]]:
    """For each field at any depth (first entry of arrays): drop it, set it to nil, give it the wrong type."""
    if isinstance(value, dict):
        for key, item in value.items():
            here = (*path, key)
            for what, new in (("drop", _DROP), ("nil", None), ("wrong type", 1.5 if isinstance(item, str) else "text")):
                yield f"{what} {'.'.join(map(str, here))}", (here, new)
            if isinstance(item, (dict, list)):
                yield from _field_mutations(item, here)
    elif isinstance(value, list) and value and isinstance(value[0], dict):
        yield from _field_mutations(value[0], (*path, 0))


_DROP = object()


def _mutated(header: dict[str, Any], where: tuple[Any, ...], new: Any) -> dict[str, Any]:
    changed = copy.deepcopy(header)
    target = changed
    for key in where[:-1]:
        target = target[key]
    if new is _DROP:
        del target[where[-1]]
    else:
        target[where[-1]] = new
    return changed


def _run_reencode(cpp_programs, folder: Path) -> dict[str, dict[str, Any]]:
    proc = _run([cpp_programs.vectors_test, "--reencode", folder], timeout_s=60)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {e["name"]: e for e in map(json.loads, proc.stdout.splitlines())}


def test_cpp_and_python_agree_on_every_audio_field(cpp_programs, tmp_path):
    cases: dict[str, tuple[str, list[bytes]]] = {}
    for name, parts in _audio_messages().items():
        cases[name] = (name, parts)
        header = msgpack.unpackb(parts[0], raw=False)
        for n, (what, (where, new)) in enumerate(_field_mutations(header)):
            cases[f"{name}-{n:03d}"] = (f"{name}: {what}", [msgpack.packb(_mutated(header, where, new)), *parts[1:]])
        if name.startswith("audio"):
            cases[f"{name}-no-part"] = (f"{name}: no part", parts[:1])
            cases[f"{name}-two-parts"] = (f"{name}: two parts", [*parts, parts[1]])
            cases[f"{name}-short-part"] = (f"{name}: a byte short", [parts[0], parts[1][:-1]])
            for key, value in (("samples", 0), ("samples", 48001), ("channels", 0), ("channels", 9),
                               ("sample_rate_hz", 7999), ("sample_rate_hz", 192001), ("index", -1), ("stream", 65536)):
                changed = {**header, key: value}
                cases[f"{name}-{key}-{value}"] = (f"{name}: {key} = {value}", [msgpack.packb(changed), parts[1]])
    for case, (_, parts) in cases.items():
        for i, part in enumerate(parts):
            (tmp_path / f"{case}.{i}.bin").write_bytes(part)
    outcome = _run_reencode(cpp_programs, tmp_path)
    assert len(outcome) == len(cases) > 60
    refusals = 0
    for case, (what, parts) in cases.items():
        try:
            expected = [bytes(p) for p in serialize_message(parse_message(parts))]
        except ProtocolError as exc:
            refusals += 1
            assert outcome[case]["event"] == "refused", f"{what}: Python refuses ({exc}), C++ accepted"
            assert outcome[case]["error_name"] == exc.code.name, (
                f"{what}: Python says {exc.code.name} ({exc.message}), C++ says {outcome[case]['error_name']} "
                f"({outcome[case]['message']})")
            continue
        assert outcome[case]["event"] == "reencoded", f"{what}: Python accepts, C++ refuses: {outcome[case]}"
        again = [(tmp_path / f"{case}.{i}.out").read_bytes() for i in range(outcome[case]["parts"])]
        assert again == expected, f"{what}: C++ and Python re-encode differently"
        if outcome[case]["kind"] == "AUDIO":
            samples = np.frombuffer(parts[1], "<i2")
            assert outcome[case]["sample_count"] == samples.size
            assert outcome[case]["sample_sum"] == int(samples.astype(np.int64).sum()), f"{what}: C++ reads other samples"
            if samples.size <= 1024:
                assert outcome[case]["samples_s16"] == samples.tolist()
    assert refusals > 40
    assert outcome["hello_audio"]["event"] == outcome["audio"]["event"] == outcome["audio_mono_max"]["event"] == "reencoded"


def _reference_s16(samples: np.ndarray) -> np.ndarray:
    """round(x * 32767), half to even, clamped; NaN is silence (bridge/simulated_sound.py's rule)."""
    scaled = np.nan_to_num(samples.astype(np.float64) * 32767.0, nan=0.0, posinf=32767.0, neginf=-32768.0)
    return np.clip(np.round(scaled), -32768, 32767).astype("<i2")


def test_cpp_float_to_s16_matches_the_reference_rule(cpp_programs, tmp_path):
    rng = np.random.default_rng(11)
    edges = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 0.25, 1.5, -1.5, -32768 / 32767, 1 / 32767, 0.5 / 32767,
                      1.5 / 32767, 2.5 / 32767, -2.5 / 32767, 1e-40, np.nan, np.inf, -np.inf, 1e30, -1e30], np.float32)
    halves = ((np.arange(-200, 200) + 0.5) / 32767).astype(np.float32)
    floats = np.concatenate([edges, halves, rng.uniform(-1.2, 1.2, 20000).astype(np.float32)])
    (tmp_path / "in.f32").write_bytes(floats.astype("<f4").tobytes())
    proc = _run([cpp_programs.vectors_test, "--pcm", tmp_path / "in.f32", tmp_path / "out.s16"], timeout_s=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ours = np.frombuffer((tmp_path / "out.s16").read_bytes(), "<i2")
    want = _reference_s16(floats)
    bad = np.flatnonzero(ours != want)
    assert bad.size == 0, f"C++ differs at {bad[:5]}: floats {floats[bad[:5]]} -> {ours[bad[:5]]}, want {want[bad[:5]]}"
    assert ours[:4].tolist() == [0, 0, 32767, -32767] and ours[16] == 0


@pytest.mark.timeout(120)
def test_cpp_audio_beside_frames_against_the_real_server(cpp_programs):
    server = BridgeServer(ServerConfig(endpoints=["tcp://127.0.0.1:*"]))
    server.start()
    try:
        proc = _run([cpp_programs.live_client, "audio", "--endpoint", server.endpoint], timeout_s=90)
    finally:
        server.stop()

    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    link = report["link"]
    # 20 frames of 40 ms of sound through EngineLink: 40 chunks of 20 ms, all sent, no ERROR, frames still answered
    assert link["results"] == link["frames"] == 20
    assert link["chunk_samples"] == 960 and link["chunks"] == 40 and link["indices_consecutive"]
    assert link["chunks_sent"] == 40 and link["errors"] == 0
    assert link["chunks_submitted"] == 41 and link["chunks_dropped"] == 1  # the mono chunk refused locally
    assert "declared 48000 Hz x 2" in link["local_refusal"]
    repeated = report["repeated"]
    assert repeated["name"] == "BAD_FIELD" and repeated["stream"] == 0 and repeated["index"] == 2
    assert "previous chunk's 2" in repeated["message"], "the server accepted the chunks before it"
    wrong = report["wrong_channels"]
    assert wrong["name"] == "PLANE_MISMATCH" and wrong["ref_kind"] == "AUDIO" and wrong["stream"] == 0 and wrong["index"] == 3
    assert "48000 Hz x 1" in wrong["message"] and "declared 48000 Hz x 2" in wrong["local"]
    assert report["frames_after"] and report["ok"]


# ---------------------------------------------------------------------------------------------- takes


def test_cpp_take_name_rule_matches_the_server(cpp_programs, tmp_path):
    names = take_name_cases()
    write_names_hex(tmp_path / "names.hex", names)
    proc = _run([cpp_programs.vectors_test, "--take-names", tmp_path / "names.hex"], timeout_s=60)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert_verdicts_match_the_server(names, proc.stdout, "C++")


def _cpp_test_picture_rgb(index: int, width: int, height: int) -> np.ndarray:
    """live_session_client's testPicture (R = x + 3i, G = 2y + i, B = (x ^ y) + xy / 64), as RGB."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([(x + index * 3) & 255, (y * 2 + index) & 255, ((x ^ y) + (x * y) // 64) & 255], axis=-1).astype(np.uint8)


@pytest.mark.timeout(120)
def test_cpp_engine_link_starts_and_stops_a_take_on_the_real_server(cpp_programs, tmp_path):
    from bridge.takes.reader import TakeReader

    takes_dir = tmp_path / "takes"
    # compaction "manual": the take stays in its raw segments (read as such), so no idle-priority
    # re-encoder has to get CPU time on a loaded machine before the server stops
    server = BridgeServer(ServerConfig(endpoints=["tcp://127.0.0.1:*"], takes_dir=str(takes_dir), take_compaction="manual"))
    server.start()
    frames = 12
    try:
        proc = _run([cpp_programs.live_client, "take", "--endpoint", server.endpoint, "--name", "scene-7",
                     "--frames", frames, "--stream", 3], timeout_s=90)
    finally:
        server.stop()  # finishes the take's writers

    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["bad_name"]["request_id"] == 0 and "' ' at position 5" in report["bad_name"]["error"]
    idle = report["stop_idle"]
    assert not idle["ok"] and not idle["record"] and idle["code"] == 11 and "no take is recording" in idle["reason"]
    started = report["started"]
    assert started["ok"] and started["record"] and started["take"] == "scene-7"
    assert Path(started["path"]) == takes_dir / "scene-7"
    assert re.fullmatch(r"\d\d:\d\d:\d\d[:;]\d\d", started["timecode"]), started["timecode"]
    assert report["frames"] == report["results"] == frames
    twice = report["start_twice"]
    assert not twice["ok"] and twice["record"] and twice["code"] == 11 and "'scene-7' is already recording" in twice["reason"]
    stopped = report["stopped"]
    assert stopped["ok"] and not stopped["record"] and stopped["take"] == "scene-7"
    assert stopped["status"] in ("stopping", "complete") and Path(stopped["path"]) == takes_dir / "scene-7"
    # the synchronous EngineSession: a used name, a bad name, nothing to stop
    assert not report["same_name"]["ok"] and "'scene-7' already exists" in report["same_name"]["reason"]
    assert report["session_bad_name"]["request_id"] == 0 and "starts with '-'" in report["session_bad_name"]["error"]
    assert not report["session_stop"]["ok"] and "no take is recording" in report["session_stop"]["reason"]
    # no stream declared (a director console): an EngineSession starts a take, an EngineLink stops it, on stream 0
    streamless = report["streamless"]
    assert streamless["take_stream"] == 0, "a session with no stream sends the take CONTROL on stream 0"
    director_started, director_stopped = streamless["started"], streamless["stopped"]
    assert director_started["ok"] and director_started["record"] and director_started["take"] == "scene-7-director"
    assert Path(director_started["path"]) == takes_dir / "scene-7-director"
    assert director_stopped["ok"] and not director_stopped["record"] and director_stopped["take"] == "scene-7-director"
    assert director_stopped["status"] in ("stopping", "complete")
    assert report["control_acks"] == 0, "take answers go to on_take_ack, not on_control_ack"

    assert sorted(p.name for p in takes_dir.iterdir()) == ["scene-7", "scene-7-director"], "the refused starts made no take"
    director = TakeReader(takes_dir / "scene-7-director")
    assert director.status == "complete" and director.name == "scene-7-director"
    assert director.stream_keys() == [], "nobody streamed during the director's take"
    take = TakeReader(takes_dir / "scene-7")
    assert take.status == "complete" and take.name == "scene-7"
    (key,) = take.stream_keys()
    assert key.endswith("/3:take-cam"), key  # the stream the client declared (id 3)
    inputs = list(take.input_frames(key))
    assert [f.index for f in inputs] == list(range(frames))
    for f in inputs:
        assert np.array_equal(f.color_rgb, _cpp_test_picture_rgb(f.index, 64, 48)), f"input {f.index} differs from what C++ sent"
        assert f.depth_m is None and f.mask is None  # the stream declared colour only
    outputs = list(take.output_frames(key))
    assert [o.index for o in outputs] == list(range(frames))
    assert all(np.array_equal(o.color_rgb, _cpp_test_picture_rgb(o.index, 64, 48)) for o in outputs)  # passthrough


def _expect_line(lines: queue.Queue, proc: subprocess.Popen, event: str, timeout_s: float = 30, **match: Any) -> dict:
    """The next JSON line of the client with this event (and these fields); fails when it exits or stays silent."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            line = lines.get(timeout=max(0.05, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"the C++ client printed no {event} {match} within {timeout_s} s") from None
        if line is None:
            raise AssertionError(f"the C++ client exited (status {proc.wait(10)}) while waiting for {event} {match}:\n"
                                 + proc.stderr.read()[-4000:])
        got = json.loads(line)
        if got["event"] == event and all(got.get(k) == v for k, v in match.items()):
            return got


@pytest.mark.timeout(120)
def test_cpp_engine_links_follow_the_take_state_whoever_starts_the_take(cpp_programs, tmp_path):
    server = BridgeServer(ServerConfig(endpoints=["tcp://127.0.0.1:*"], takes_dir=str(tmp_path / "takes"), take_compaction="manual"))
    server.start()
    proc = subprocess.Popen([str(cpp_programs.live_client), "take-state", "--endpoint", server.endpoint],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True).start()
    try:
        before = _expect_line(lines, proc, "take_state", 60, link="first")
        assert before == {"event": "take_state", "link": "first", "recording": False, "take": None, "timecode": None,
                          "status": None, "text": "no take recorded yet"}, "the snapshot before any take"

        summary = server.start_take("scene-y")  # the Python side starts it, as the CLI or OSC would
        started = _expect_line(lines, proc, "take_state", link="first")
        assert started["recording"] is True and started["take"] == "scene-y" and started["status"] is None
        assert started["timecode"] == summary["timecode"] and re.fullmatch(r"\d\d:\d\d:\d\d[:;]\d\d", started["timecode"])
        late = _expect_line(lines, proc, "take_state", link="late")  # joined another session after the start
        assert late == {**started, "link": "late"}, "the late joiner finds the take in its snapshot"

        stop = server.stop_take()
        stopped = _expect_line(lines, proc, "take_state", link="first")
        assert stopped["recording"] is False and stopped["take"] == "scene-y" and stopped["timecode"] is None
        assert stopped["status"] == stop["status"] and stop["status"] in ("stopping", "complete")
        assert _expect_line(lines, proc, "take_state", link="late") == {**stopped, "link": "late"}

        done = _expect_line(lines, proc, "done")
        assert done["first"] == done["late"] == f"take 'scene-y' {stop['status']}"
        assert done["more_states"] is False, "one report per change, no more"
        assert done["deaf_state"] is None, "without \"session\" the server tells nothing"
        assert done["ok"] is True and proc.wait(30) == 0, proc.stderr.read()[-4000:]
    finally:
        if proc.poll() is None:
            proc.kill()
        server.stop()
