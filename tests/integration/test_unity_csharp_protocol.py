"""The Unity package's pure C# code, built with Mono and checked against the real Python side.

* The protocol and core assemblies (no UnityEngine) compile with ``mcs`` with warnings as errors.
* The package's own NUnit tests (``engine_plugins/unity/Tests/Editor``, the ones Unity's Test Runner
  shows) run under nunit-console: every golden vector in ``tests/vectors/`` decodes, compares and
  re-encodes byte for byte, and every invalid vector fails with its code.
* Every message kind and every field documented in ``docs/protocol.md`` survives a C# round trip of
  a message the Python implementation built, in canonical key order; and for each documented field,
  removing it, setting it to nil or giving it the wrong type gets the same verdict (and the same
  re-encoded bytes) from the C# and the Python parsers.
* A live session of the C# session logic over libzmq against the real server in child processes:
  lock-step frames, a burst with drop accounting, CONTROL, STATS, heartbeats, reconnect after the
  server is killed and after it says BYE, clean shutdown.
* Takes from the C# session (BridgeSession.StartTake / StopTake, what TakeRecorderControl calls): a named
  take starts, frames go through, a second start and a stop with no take are refused with the server's
  reason, a bad name is refused locally with the server's rule; a session that declares no stream starts and
  stops a take too (its take CONTROLs on stream 0, read back from the bytes sent); the takes are then read
  back with TakeReader.
* The server's take state (STATE ``bridge.take``, docs/protocol.md 6.13) followed by C# sessions with the
  capability "session" while this test starts and stops the take itself (``server.start_take``): a session
  joined before hears the start and the stop, one joining later finds the take in its snapshot, one
  without "session" hears nothing; the NUnit suite checks the parsing (good and malformed values).
* VMC poses from the C# encoder reach python-osc, an independent OSC implementation.

Needs Debian ``mono-mcs mono-runtime nunit-console libnunit-cil-dev libzmq5``; each test says what
is missing when it skips.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import msgpack
import numpy as np
import pytest

from bridge.protocol.audio_messages import Audio, AudioFormat
from bridge.protocol.errors import ProtocolError
from bridge.protocol.messages import (
    Bye, CameraInfo, Control, ControlAck, Error, Frame, Heartbeat, Hello, Mocap, Result, Stats, StreamDeclaration,
    StreamGrant, StreamStats, Welcome, parse_message, serialize_message,
)
from bridge.protocol.planes import Plane, PlaneDescriptor
from bridge.protocol.session_messages import SessionEvent, SessionMember, StateChange
from take_name_cases import assert_verdicts_match_the_server, take_name_cases, write_names_hex

try:  # the MOCAP pose layout (docs/protocol.md 6.11) and the server's check of it
    from bridge.mocap_wire_check import check_mocap_message
    from mocap.pose_wire import pose_from_wire, pose_to_wire
    from mocap.skeleton import HumanoidPose
    HAVE_MOCAP = True
except ImportError:  # pragma: no cover - the mocap relay is not in this tree
    HAVE_MOCAP = False
needs_mocap = pytest.mark.skipif(not HAVE_MOCAP, reason="MOCAP checks skipped: mocap.pose_wire / the relay are missing")

ROOT = Path(__file__).resolve().parents[2]
UNITY = ROOT / "engine_plugins" / "unity"
VECTORS = ROOT / "tests" / "vectors"
PROTOCOL_DOC = ROOT / "docs" / "protocol.md"


def _load_toolchain_module() -> Any:
    spec = importlib.util.spec_from_file_location("unity_csharp_toolchain", UNITY / "Tools~" / "csharp_toolchain.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


csharp = _load_toolchain_module()
TOOLCHAIN = csharp.find_toolchain()
needs_mono = pytest.mark.skipif(
    not TOOLCHAIN.can_compile, reason=f"C# checks skipped: Mono not installed ({', '.join(TOOLCHAIN.missing)})")
needs_nunit = pytest.mark.skipif(
    not TOOLCHAIN.can_run_nunit, reason=f"C# NUnit suite skipped: missing {', '.join(TOOLCHAIN.missing)}")
needs_libzmq = pytest.mark.skipif(
    not TOOLCHAIN.can_run_live, reason=f"C# live session skipped: missing {', '.join(TOOLCHAIN.missing)}")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Any:
    if not TOOLCHAIN.can_compile:
        pytest.skip(f"C# checks skipped: Mono not installed ({', '.join(TOOLCHAIN.missing)})")
    return csharp.build(tmp_path_factory.mktemp("csharp-build"), TOOLCHAIN)


# ---------------------------------------------------------------------------------------------- build


@needs_mono
def test_protocol_and_core_compile_without_any_unity_reference(built: Any) -> None:
    assert built.protocol_dll.stat().st_size > 10_000 and built.core_dll.stat().st_size > 10_000
    for folder in ("Runtime/Protocol", "Runtime/Core"):
        for source in (UNITY / folder).glob("*.cs"):
            text = source.read_text(encoding="utf-8")
            assert not re.search(r"using\s+Unity(Engine|Editor)|Unity(Engine|Editor)\.", text), f"{source} must not use Unity"
        asmdef = json.loads(next((UNITY / folder).glob("*.asmdef")).read_text(encoding="utf-8"))
        assert asmdef["noEngineReferences"] is True, f"{folder} assembly must be engine-free"


# ---------------------------------------------------------------------------------------------- NUnit


@needs_nunit
def test_package_nunit_suite_passes_and_checks_every_golden_vector(built: Any, tmp_path: Path) -> None:
    xml_path = tmp_path / "nunit.xml"
    proc = csharp.run_nunit(TOOLCHAIN, built, VECTORS, xml_path)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    root = ET.parse(xml_path).getroot()
    assert int(root.get("failures")) == 0 and int(root.get("errors")) == 0
    assert int(root.get("ignored")) == 0 and int(root.get("not-run")) == 0, "no test may be skipped here"
    executed = [case for case in root.iter("test-case") if case.get("executed") == "True"]
    assert all(case.get("success") == "True" for case in executed)
    names = [case.get("name") for case in executed]
    valid = sorted(p.stem for p in VECTORS.glob("*.json"))
    invalid = sorted(p.stem for p in (VECTORS / "invalid").glob("*.json"))
    assert len(valid) >= 15 and len(invalid) >= 26
    for vector in valid:
        assert any("ValidVectorParses" in n and f'"{vector}"' in n for n in names), f"valid vector {vector} not checked"
    for vector in invalid:
        assert any("InvalidVectorFails" in n and f'"{vector}"' in n for n in names), f"invalid vector {vector} not checked"
    assert len(executed) > len(valid) + len(invalid) + 40  # the rest of the package's unit tests ran too
    take_state = [n for n in names if "TakeStateTests" in n]
    assert len([n for n in take_state if "MalformedValuesAreRefusedNamingTheField" in n]) >= 10, "malformed take states checked"
    assert any("IndicatorFollowsTakesStartedAndStoppedElsewhere" in n for n in take_state)


# ---------------------------------------------------------------------------------------------- every field


@dataclass
class FieldTable:
    label: str
    keys: list[str]


def documented_field_tables(doc: Path = PROTOCOL_DOC) -> dict[str, FieldTable]:
    """Every "| # | key |" table of the protocol document, labelled by its heading or bold caption."""
    tables: dict[str, FieldTable] = {}
    label = ""
    lines = doc.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        heading = re.match(r"^#+\s+(.*)$", line)
        # "**Grant** (entries of `streams`):", "**Camera** map:", "**Audio format** map (the `audio` field ...):"
        caption = re.match(r"^\*\*([^*]+)\*\*(\s*map)?(\s*\([^)]*\))?(\s*map)?:\s*$", line)
        if heading:
            label = heading.group(1).strip()
        elif caption:
            label = caption.group(1).strip()
        elif line.startswith("| # | key |"):
            keys = []
            i += 2  # header and separator rows
            while i < len(lines) and lines[i].startswith("|"):
                cell = lines[i].split("|")[2].strip()
                keys.append(cell.strip("`"))
                i += 1
            tables[label] = FieldTable(label, keys)
            continue
        i += 1
    return tables


def _table(tables: dict[str, FieldTable], prefix: str) -> list[str]:
    matches = [t for name, t in tables.items() if name.startswith(prefix)]
    assert len(matches) == 1, f"expected one field table labelled {prefix!r} in docs/protocol.md, found {len(matches)}"
    return matches[0].keys


def full_pose() -> Any:
    """A pose with every MOCAP section: rotations, a position, blendshapes and confidences."""
    def axis_angle(axis: tuple[float, float, float], deg: float) -> np.ndarray:
        a = np.asarray(axis, np.float64) / np.linalg.norm(axis)
        half = np.radians(deg) / 2
        return np.array([*(a * np.sin(half)), np.cos(half)])

    return HumanoidPose(
        performer_id="python-actor", timestamp_ns=1700000005000000000, source="bvh",
        root_position_m=np.array([0.25, 0.0, -1.5]), root_rotation=axis_angle((0, 1, 0), -45),
        bone_rotations={"Hips": axis_angle((0, 1, 0), 5), "Spine": axis_angle((1, 0, 0), 12),
                        "RightUpperArm": axis_angle((0, 0, 1), 70), "Head": axis_angle((0, 1, 0), -20)},
        bone_positions_m={"Hips": np.array([0.0, 0.93, 0.02])},
        blendshapes={"jawOpen": 0.4, "eyeBlinkRight": 0.9},
        confidence={"Hips": 1.0, "Spine": 0.75, "RightUpperArm": 0.5, "Head": 0.25},
    )


def full_messages() -> dict[str, list[Any]]:
    """One message of every kind with every documented field set, serialised by the Python implementation."""
    color = np.arange(4 * 3 * 4, dtype=np.uint8).reshape(3, 4, 4)
    padded = np.zeros((3, 20), np.uint8)
    padded[:, :16] = color.reshape(3, 16)
    padded[:, 16:] = 0xEE  # padding bytes must survive too
    color_plane = Plane(PlaneDescriptor("color", "RGBA8", 4, 3, 20), padded.tobytes())
    depth_plane = Plane.from_array("depth", "F16", np.full((3, 4), 2.5, np.float16))
    mask_plane = Plane.from_array("mask", "U8", np.full((3, 4), 255, np.uint8))
    stream = StreamDeclaration(7, "main-cam", 4, 3, "BGRA8", "F32", True, 29.97, "film", AudioFormat(44100, 2))
    # full scale both ways, the most negative sample, silence, odd values: 5 stereo frames
    pcm = np.array([[0, 0], [32767, -32768], [-1, 1], [12345, -23456], [-32767, 32767]], np.int16)
    messages: dict[str, Any] = {
        "hello": Hello("Unity 6000.0.1f1", [stream, StreamDeclaration(8, "overlay", 16, 16)], "probe/1 (café)", "take-02",
                       ["depth", "mask", "camera", "audio"], 250),
        "welcome": Welcome("machinima-bridge 0.1.0", "engine-3", "take-02",
                           [StreamGrant(7, "film", ["cadence", "film_look"], 4, 3, "RGB8")], 250, 5000, 1 << 26),
        "frame": Frame(7, 2**62 + 5, 2**63 - 1, [color_plane, depth_plane, mask_plane], "01:02:03;04",
                       CameraInfo([float(i) for i in range(16)], [100.0, 100.0, 1.5, 1.0], 0.05, 500.0)),
        "result": Result(7, 12, 1700000000123456789, [color_plane], {"cadence": 3, "film_look": 70000}, 70100, 3, True),
        "control": Control(2**63 - 1, 7, "film_look", {"grain": 0.25, "quality": -3, "big": 2**64 - 1, "codec": "jpeg",
                                                       "interlace": False, "tint": [1, 0.5, -2.0], "empty": []}, 0.0),
        "control_ack": ControlAck(99, False, {}, 10, "stage 'film_look': unknown parameter 'x'"),
        "control_ack_applied": ControlAck(100, True, {"grain": 0.25, "tint": [1.0, 0.5]}),
        "stats_request": Stats(t_ns=123),
        "stats_report": Stats(t_ns=2**40, streams=[StreamStats(7, "main-cam", 100, 98, 2, 29.9, 29.5, 12.25, 30.5,
                                                               {"cadence": 0.01, "film_look": 8.5})]),
        "error": Error(6, "UNKNOWN_STREAM", "FRAME names stream 9, which HELLO did not declare", "FRAME", 9, 41),
        "heartbeat": Heartbeat(2**63 - 1),
        "bye": Bye("server shutting down — café"),
        "session_snapshot": SessionEvent("forum-world", "snapshot", "engine-2", "Unity 6000.0.1f1",
                                         [SessionMember("engine-1", "Unreal 5.4"), SessionMember("engine-2", "Unity 6000.0.1f1")],
                                         {"scene.cue": {"act": 2, "cue": "door-opens"}, "lights": [1, 0.5], "note": None}),
        "session_leave": SessionEvent("forum-world", "leave", "engine-1", "Unreal 5.4", reason="timeout"),
        "state_applied": StateChange("scene.cue", {"act": 3, "cue": "blackout", "fade_s": 2.5}, "set", "engine-2", 7),
        "state_delete": StateChange("lights", op="delete"),
        "state_set_nil": StateChange("note", None),
        "audio": Audio.from_array(7, 2**63 - 1, 2**63 - 1, 44100, pcm),
        "audio_mono_max": Audio.from_array(65535, 0, 0, 192000, (np.arange(192000) % 65536 - 32768).astype(np.int16)),
    }
    if HAVE_MOCAP:
        fields, payload = pose_to_wire(full_pose(), include_confidence=True)
        messages["mocap"] = Mocap(fields, [payload])
    return {name: [bytes(p) for p in serialize_message(m)] for name, m in messages.items()}


def _write_parts(folder: Path, name: str, parts: list[bytes]) -> None:
    for i, part in enumerate(parts):
        (folder / f"{name}.{i}.bin").write_bytes(part)


def _run_reencode(built: Any, folder: Path) -> dict[str, dict[str, Any]]:
    proc = csharp.run_probe(TOOLCHAIN, built, "reencode", str(folder), timeout_s=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {e["name"]: e for e in map(json.loads, proc.stdout.splitlines())}


def _unpack_ordered(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, object_pairs_hook=list, strict_map_key=False)


@needs_mono
def test_every_documented_kind_and_field_survives_a_csharp_round_trip(built: Any, tmp_path: Path) -> None:
    tables = documented_field_tables()
    common = _table(tables, "6. Message kinds")
    assert common == ["v", "kind"]
    expected_top = {
        "hello": _table(tables, "6.1 HELLO"), "welcome": _table(tables, "6.2 WELCOME"),
        "frame": _table(tables, "6.3 FRAME"), "result": _table(tables, "6.4 RESULT"),
        "control": _table(tables, "6.5 CONTROL"), "control_ack": _table(tables, "6.6 CONTROL_ACK"),
        "stats_report": _table(tables, "6.7 STATS"), "error": _table(tables, "6.8 ERROR"),
        "heartbeat": _table(tables, "6.9 HEARTBEAT"), "bye": _table(tables, "6.10 BYE"),
        "session_leave": _table(tables, "6.12 SESSION"), "state_applied": _table(tables, "6.13 STATE"),
        "audio": _table(tables, "6.14 AUDIO"),
    }
    if HAVE_MOCAP:
        expected_top["mocap"] = _table(tables, "6.11 MOCAP")
    documented_kinds = {m.group(1) for label in tables if (m := re.match(r"^6\.\d+ ([A-Z_]+)", label))}
    covered_kinds = {"HELLO", "WELCOME", "FRAME", "RESULT", "CONTROL", "CONTROL_ACK", "STATS", "ERROR", "HEARTBEAT", "BYE",
                     "SESSION", "STATE", "AUDIO"}
    covered_kinds |= {"MOCAP"} if HAVE_MOCAP else set()
    assert documented_kinds == covered_kinds, (
        f"docs/protocol.md documents kinds {sorted(documented_kinds - covered_kinds)} that the C# implementation "
        f"(and this test) does not cover yet")
    nested = {
        ("hello", "streams"): _table(tables, "Stream declaration"), ("welcome", "streams"): _table(tables, "Grant"),
        ("frame", "camera"): _table(tables, "Camera"), ("frame", "planes"): _table(tables, "5.1 Plane descriptor"),
        ("result", "planes"): _table(tables, "5.1 Plane descriptor"), ("stats_report", "streams"): _table(tables, "Stream stats"),
    }
    messages = full_messages()
    for name, parts in messages.items():
        _write_parts(tmp_path, name, parts)
    outcome = _run_reencode(built, tmp_path)
    kinds_seen = set()
    for name, parts in messages.items():
        assert outcome[name]["event"] == "reencoded", outcome[name]
        kinds_seen.add(outcome[name]["kind"])
        again = [(tmp_path / f"{name}.{i}.out").read_bytes() for i in range(outcome[name]["parts"])]
        assert again == parts, f"{name}: the C# re-encoding differs from the Python bytes"
        header = _unpack_ordered(again[0])
        keys = [k for k, _ in header]
        if name in expected_top:
            # every documented key is present (the message really exercises each field), in table order
            assert keys == ["v", "kind", *expected_top[name]], f"{name}: keys {keys}"
        for (msg, key), doc_keys in nested.items():
            if msg != name:
                continue
            value = dict(header)[key]
            entries = value if key != "camera" else [value]
            assert entries, f"{name}.{key} is empty"
            for entry in entries:
                entry_keys = [k for k, _ in entry]
                # optional nested keys (depth_format, pipeline) are set on the first stream declaration
                assert entry_keys == [k for k in doc_keys if k in entry_keys], f"{name}.{key}: order {entry_keys}"
            assert [k for k, _ in entries[0]] == doc_keys, f"{name}.{key}[0] lacks documented keys"
        if name == "mocap":
            _assert_same_pose(outcome[name], tmp_path, name, parts, f"{name}")
        if name == "hello":
            # the stream's audio format map: every documented key, in table order
            audio_format = dict(dict(header)["streams"][0])["audio"]
            assert [k for k, _ in audio_format] == _table(tables, "Audio format") == ["sample_rate_hz", "channels"]
        if outcome[name]["kind"] == "AUDIO":
            python_samples = np.frombuffer(parts[1], "<i2")
            assert outcome[name]["sample_count"] == python_samples.size
            assert outcome[name]["sample_sum"] == int(python_samples.astype(np.int64).sum()), f"{name}: C# reads other samples"
            if python_samples.size <= 1024:
                assert outcome[name]["samples_s16"] == python_samples.tolist(), f"{name}: C# reads other samples"
    assert kinds_seen == covered_kinds


def _assert_same_pose(result: dict[str, Any], folder: Path, name: str, python_parts: list[bytes], what: str) -> None:
    """The C# pose decode + encode of a MOCAP gives Python's header bytes and the same float32 values."""
    assert result["pose"] == "ok", f"{what}: C# refused the pose: {result}"
    header = (folder / f"{name}.pose.0.out").read_bytes()
    payload = (folder / f"{name}.pose.1.out").read_bytes()
    assert header == python_parts[0], f"{what}: the C# pose header differs from Python's"
    assert len(payload) == len(python_parts[1])
    ours = np.frombuffer(payload, "<f4")
    theirs = np.frombuffer(python_parts[1], "<f4")
    assert np.allclose(ours, theirs, atol=2e-7), f"{what}: pose values differ by {np.abs(ours - theirs).max()}"


def _mutations(header: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[str, Callable[[Any], None]]]:
    """For each field (any depth except free-form maps): drop it, set it to nil, give it the wrong type."""
    free_form = {"params", "applied", "stage_us", "stage_ms"}
    if isinstance(header, dict):
        for key, value in header.items():
            where = ".".join(str(p) for p in (*path, key))

            def setter(new: Any, *, _key: str = key, _path: tuple[Any, ...] = path) -> Callable[[Any], None]:
                def apply(root: Any) -> None:
                    target = root
                    for p in _path:
                        target = target[p]
                    if new is _DROP:
                        del target[_key]
                    else:
                        target[_key] = new
                return apply

            yield f"drop {where}", setter(_DROP)
            yield f"nil {where}", setter(None)
            wrong = 1.5 if isinstance(value, str) else "text"
            yield f"wrong type {where}", setter(wrong)
            if key not in free_form and isinstance(value, (dict, list)):
                yield from _mutations(value, (*path, key))
    elif isinstance(header, list):
        for i, value in enumerate(header[:1]):
            if isinstance(value, dict):
                yield from _mutations(value, (*path, i))


_DROP = object()


@needs_mono
def test_csharp_and_python_parsers_agree_on_every_broken_field(built: Any, tmp_path: Path) -> None:
    cases: dict[str, tuple[str, list[bytes]]] = {}
    for name, parts in full_messages().items():
        header = msgpack.unpackb(parts[0], raw=False)
        for n, (what, mutate) in enumerate(_mutations(header)):
            changed = copy.deepcopy(header)
            mutate(changed)
            case = f"{name}-{n:03d}"
            cases[case] = (f"{name}: {what}", [msgpack.packb(changed, use_bin_type=True), *parts[1:]])
            _write_parts(tmp_path, case, cases[case][1])
    outcome = _run_reencode(built, tmp_path)
    assert len(outcome) == len(cases) > 250
    refusals = 0
    pose_checks = 0
    for case, (what, parts) in cases.items():
        try:
            expected = [bytes(p) for p in serialize_message(parse_message(parts))]
        except ProtocolError as exc:
            refusals += 1
            assert outcome[case]["event"] == "refused", f"{what}: Python refuses ({exc}), C# accepted"
            assert outcome[case]["error_name"] == exc.code.name, (
                f"{what}: Python says {exc.code.name} ({exc.message}), C# says {outcome[case]['error_name']} "
                f"({outcome[case]['message']})")
            continue
        assert outcome[case]["event"] == "reencoded", f"{what}: Python accepts, C# refuses: {outcome[case]}"
        again = [(tmp_path / f"{case}.{i}.out").read_bytes() for i in range(outcome[case]["parts"])]
        assert again == expected, f"{what}: C# and Python re-encode differently"
        if outcome[case]["kind"] == "MOCAP" and HAVE_MOCAP:
            pose_checks += 1
            try:
                mocap_msg = parse_message(parts)
                check_mocap_message(mocap_msg)
                pose = pose_from_wire(mocap_msg.fields, mocap_msg.parts[0])
            except ProtocolError as exc:
                assert outcome[case]["pose"] == exc.code.name, (
                    f"{what}: the server refuses the pose with {exc.code.name} ({exc.message}); "
                    f"C# says {outcome[case]['pose']} ({outcome[case].get('pose_message')})")
                continue
            fields, payload = pose_to_wire(pose, include_confidence=bool(parse_message(parts).fields.get("confidence")))
            _assert_same_pose(outcome[case], tmp_path, case, serialize_message(Mocap(fields, [payload])), what)
    assert refusals > 150
    assert pose_checks > 20 or not HAVE_MOCAP


# ---------------------------------------------------------------------------------------------- live session

FILM_PIPELINE = """
name = "film"
description = "film_look with every effect off (an identity) until a CONTROL turns one on"
[[stage]]
type = "film_look"
[stage.params]
codec = "none"
chroma_bleed_px = 0.0
grain = 0.0
fade = 0.0
weave_px = 0.0
interlace = false
vignette = 0.0
"""


def _free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """``machinima-bridge serve`` in a child process; its log lines are collected on a thread."""

    def __init__(self, config: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "bridge", "serve", "--config", str(config)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        self.lines: list[str] = []
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(60):
            self.proc.kill()
            raise RuntimeError("server did not start within 60 s:\n" + "\n".join(self.lines[-30:]))

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip())
            if "serving on" in line:
                self._ready.set()

    def log(self) -> str:
        return "\n".join(self.lines)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class ProbeProcess:
    def __init__(self, command: list[str], cwd: Path) -> None:
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.put(json.loads(line))
        self.events.put({"event": "exited"})

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip())

    def expect(self, event: str, timeout_s: float = 60, **match: Any) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"probe sent no {event} {match} within {timeout_s} s:\n" + "\n".join(self.stderr[-40:]))
            try:
                e = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if e["event"] in ("failed", "exited"):
                raise AssertionError(f"probe {e['event']} while waiting for {event}: {e}\n" + "\n".join(self.stderr[-40:]))
            if e["event"] == event and all(e.get(k) == v for k, v in match.items()):
                return e

    def expect_state(self, state: str, reason_contains: str, timeout_s: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            e = self.expect("state", max(0.1, deadline - time.monotonic()), state=state)
            if reason_contains in e["reason"]:
                return e


@needs_libzmq
@pytest.mark.timeout(240)
def test_live_csharp_session_against_the_real_server(built: Any, tmp_path: Path) -> None:
    (tmp_path / "film.toml").write_text(FILM_PIPELINE, encoding="utf-8")
    port = _free_tcp_port()
    config = tmp_path / "server.toml"
    config.write_text(f'[server]\nendpoints = ["tcp://127.0.0.1:{port}"]\nheartbeat_ms = 100\ntimeout_ms = 1500\n'
                      f'[pipelines]\nfilm = "film.toml"\n', encoding="utf-8")
    servers = [ServerProcess(config)]
    probe = ProbeProcess(csharp.probe_command(TOOLCHAIN, built, "live", f"tcp://127.0.0.1:{port}"), built.folder)
    try:
        welcome = probe.expect("welcome")
        assert welcome["heartbeat_ms"] == 100 and welcome["timeout_ms"] == 1500 and welcome["stages"] == "film_look"

        lockstep = probe.expect("lockstep")
        assert lockstep["frames"] == 100 and lockstep["in_order"] and lockstep["sizes_ok"]
        assert lockstep["max_rgb_diff"] == 0, "film_look with every effect off must return the frame unchanged"

        burst = probe.expect("burst")
        assert burst["accounted"], f"RESULTs + reported drops must equal frames sent: {burst}"
        assert burst["sent"] + burst["replaced_before_send"] + burst["refused_queue_full"] == burst["submitted"]
        assert burst["in_order"] and burst["results"] >= 1
        assert burst["results"] + burst["server_dropped"] == burst["sent"]

        control = probe.expect("control")
        assert control["ok"] and control["applied"] == {"fade": 1.0}
        assert control["mean_rgb_diff_after"] > 10, "the CONTROL must show in the output"
        assert control["rejected_ok"] is False and control["rejected_code"] == 10  # UNKNOWN_PARAM
        assert "no_such_param" in control["rejected_reason"]

        stats = probe.expect("stats")
        assert stats["streams"] == 1 and stats["name"] == "probe-cam" and stats["frames_in"] >= 100

        idle = probe.expect("idle", 30)
        assert idle["new_welcomes"] == 0 and not idle["bye_received"], "heartbeats alone must keep the session"
        assert idle["heartbeats_sent"] >= 5

        # SIGKILL: no BYE; the C# session must notice the silence itself, then find the next server
        probe.expect("ready", next="kill")
        servers[-1].stop(signal.SIGKILL)
        probe.expect_state("Disconnected", "silent", 20)
        servers.append(ServerProcess(config))
        back = probe.expect("reconnected", 60, after="kill")
        assert back["reconnects"] >= 1

        # SIGTERM: the server says BYE; the session reconnects to the next server
        probe.expect("ready", next="term")
        servers[-1].stop(signal.SIGTERM)
        probe.expect_state("Disconnected", "server said BYE", 20)
        servers.append(ServerProcess(config))
        back = probe.expect("reconnected", 60, after="term")
        assert back["bye_reason"] == "server shutting down"

        stopped = probe.expect("stopped", 30)
        assert stopped["thread_ended"] and stopped["state"] == "Stopped" and stopped["stop_ms"] < 2000
        assert stopped["parse_errors"] == 0, "\n".join(line for line in probe.stderr if "unparseable" in line)
        assert probe.proc.wait(30) == 0, "\n".join(probe.stderr[-40:])
        deadline = time.monotonic() + 10
        while "said BYE (probe finished)" not in servers[-1].log() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "said BYE (probe finished)" in servers[-1].log(), "the server must receive the engine's BYE"
    finally:
        if probe.proc.poll() is None:
            probe.proc.kill()
        for server in servers:
            server.stop()


# ---------------------------------------------------------------------------------------------- AUDIO


def reference_s16(samples: np.ndarray) -> np.ndarray:
    """The float -> s16 rule of every implementation (bridge/simulated_sound.py): round(x * 32767), half to
    even, clamped; NaN is silence."""
    scaled = np.nan_to_num(samples.astype(np.float64) * 32767.0, nan=0.0, posinf=32767.0, neginf=-32768.0)
    return np.clip(np.round(scaled), -32768, 32767).astype("<i2")


def pcm_test_floats() -> np.ndarray:
    """Edge values (full scale, beyond it, halves, NaN, infinities, denormals) and 20000 random samples."""
    rng = np.random.default_rng(7)
    edges = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 0.25, 1.5, -1.5, -32768 / 32767, 1 / 32767, 0.5 / 32767,
                      1.5 / 32767, 2.5 / 32767, -2.5 / 32767, 1e-40, np.nan, np.inf, -np.inf, 1e30, -1e30], np.float32)
    halves = ((np.arange(-200, 200) + 0.5) / 32767).astype(np.float32)
    return np.concatenate([edges, halves, rng.uniform(-1.2, 1.2, 20000).astype(np.float32)])


@needs_mono
def test_csharp_float_to_s16_matches_the_reference_rule(built: Any, tmp_path: Path) -> None:
    floats = pcm_test_floats()
    (tmp_path / "in.f32").write_bytes(floats.astype("<f4").tobytes())
    proc = csharp.run_probe(TOOLCHAIN, built, "pcm", str(tmp_path / "in.f32"), str(tmp_path / "out.s16"), timeout_s=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ours = np.frombuffer((tmp_path / "out.s16").read_bytes(), "<i2")
    want = reference_s16(floats)
    bad = np.flatnonzero(ours != want)
    assert bad.size == 0, f"C# differs at {bad[:5]}: floats {floats[bad[:5]]} -> {ours[bad[:5]]}, want {want[bad[:5]]}"
    assert ours[:4].tolist() == [0, 0, 32767, -32767] and ours[16] == 0  # NaN is silence


@needs_libzmq
@pytest.mark.timeout(120)
def test_live_csharp_audio_beside_frames_against_the_real_server(built: Any) -> None:
    from bridge.server import BridgeServer
    from bridge.server_config import ServerConfig

    server = BridgeServer(ServerConfig(endpoints=["tcp://127.0.0.1:*"]))
    server.start()
    probe = ProbeProcess(csharp.probe_command(TOOLCHAIN, built, "audio", server.endpoint), built.folder)
    try:
        audio = probe.expect("audio", 90)
        # 20 frames of 40 ms: 40 chunks of 20 ms from the chunker plus one through SubmitAudio(short[])
        assert audio["results"] == audio["frames"] == 20
        assert audio["chunk_samples"] == 960 and audio["chunks"] == 41 and audio["indices_consecutive"]
        assert audio["chunks_sent"] == 41 and audio["chunks_dropped"] == 0
        assert audio["stats_frames_in"] >= 20
        assert "declared 48000 Hz x 2" in audio["local_refusal"]

        repeated = probe.expect("repeated", 30)
        assert repeated["name"] == "BAD_FIELD" and repeated["stream"] == 0 and repeated["index"] == 40
        assert "previous chunk's 40" in repeated["message"], "the server accepted every chunk up to index 40"

        wrong = probe.expect("wrong_channels", 30)
        assert wrong["name"] == "PLANE_MISMATCH" and wrong["ref_kind"] == "AUDIO"
        assert wrong["stream"] == 0 and wrong["index"] == 41
        assert "48000 Hz x 1" in wrong["message"] and "48000 Hz x 2" in wrong["message"]

        after = probe.expect("after", 30)
        assert after["state"] == "Welcomed" and after["reconnects"] == 0
        assert probe.proc.wait(30) == 0, "\n".join(probe.stderr[-40:])
    finally:
        if probe.proc.poll() is None:
            probe.proc.kill()
        server.stop()


# ---------------------------------------------------------------------------------------------- takes


@needs_mono
def test_csharp_take_name_rule_matches_the_server(built: Any, tmp_path: Path) -> None:
    names = take_name_cases()
    write_names_hex(tmp_path / "names.hex", names)
    proc = csharp.run_probe(TOOLCHAIN, built, "take-names", str(tmp_path / "names.hex"), timeout_s=60)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert_verdicts_match_the_server(names, proc.stdout, "C#")


def probe_picture_rgb(index: int, width: int, height: int) -> np.ndarray:
    """LiveSessionProbe.MakeFrame's colour plane (R = x + i, G = 3y + i, B = x ^ y), as RGB."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([(x + index) & 255, (y * 3 + index) & 255, (x ^ y) & 255], axis=-1).astype(np.uint8)


@needs_libzmq
@pytest.mark.timeout(120)
def test_csharp_session_starts_and_stops_a_take_on_the_real_server(built: Any, tmp_path: Path) -> None:
    from bridge.server import BridgeServer
    from bridge.server_config import ServerConfig
    from bridge.takes.reader import TakeReader

    takes_dir = tmp_path / "takes"
    # compaction "manual": the take stays in its raw segments (read as such), so no idle-priority
    # re-encoder has to get CPU time on a loaded machine before the server stops
    server = BridgeServer(ServerConfig(endpoints=["tcp://127.0.0.1:*"], takes_dir=str(takes_dir), take_compaction="manual"))
    server.start()
    frames = 12
    probe = ProbeProcess(csharp.probe_command(TOOLCHAIN, built, "take", server.endpoint, "scene-4", str(frames)), built.folder)
    try:
        bad = probe.expect("bad_name", 60)
        assert bad["refused"] and bad["pending"] == 0, "a bad name is refused before anything is queued"
        assert "' ' at position 5" in bad["message"] and "letters, digits, '.', '_' or '-'" in bad["message"]

        idle = probe.expect("stop_idle", 30)
        assert not idle["ok"] and not idle["record"] and idle["code"] == 11  # BAD_PARAM_VALUE
        assert "no take is recording" in idle["reason"]

        started = probe.expect("started", 30)
        assert started["ok"] and started["record"] and started["take"] == "scene-4"
        assert Path(started["path"]) == takes_dir / "scene-4"
        assert re.fullmatch(r"\d\d:\d\d:\d\d[:;]\d\d", started["timecode"]), started["timecode"]
        assert probe.expect("frames", 60) == {"event": "frames", "sent": frames, "results": frames}

        twice = probe.expect("start_twice", 30)
        assert not twice["ok"] and twice["record"] and twice["code"] == 11
        assert "'scene-4' is already recording" in twice["reason"] and "already recording" in twice["text"]

        stopped = probe.expect("stopped", 30)
        assert stopped["ok"] and not stopped["record"] and stopped["take"] == "scene-4"
        assert stopped["status"] in ("stopping", "complete") and Path(stopped["path"]) == takes_dir / "scene-4"

        same = probe.expect("same_name", 30)
        assert not same["ok"] and same["code"] == 11 and "'scene-4' already exists" in same["reason"]

        after = probe.expect("after", 30)
        assert after == {"event": "after", "state": "Welcomed", "reconnects": 0, "pending": 0,
                         "last_request_id": same["request_id"]}

        # a session that declared no stream (a director console) starts and stops a take: stream 0
        director_started = probe.expect("streamless_started", 60)
        assert director_started["ok"] and director_started["record"] and director_started["take"] == "scene-4-director"
        assert Path(director_started["path"]) == takes_dir / "scene-4-director"
        director_stopped = probe.expect("streamless_stopped", 30)
        assert director_stopped["ok"] and not director_stopped["record"] and director_stopped["take"] == "scene-4-director"
        assert director_stopped["status"] in ("stopping", "complete")
        sent = probe.expect("streamless_sent", 30)
        assert sent == {"event": "streamless_sent", "take_stream": 0,
                        "start_request_id": director_started["request_id"], "start_stream": 0, "start_stage": "take",
                        "stop_request_id": director_stopped["request_id"], "stop_stream": 0, "stop_stage": "take"}
        assert probe.proc.wait(30) == 0, "\n".join(probe.stderr[-40:])
    finally:
        if probe.proc.poll() is None:
            probe.proc.kill()
        server.stop()  # finishes the take's writers

    assert sorted(p.name for p in takes_dir.iterdir()) == ["scene-4", "scene-4-director"], "the refused starts made no take"
    director = TakeReader(takes_dir / "scene-4-director")
    assert director.status == "complete" and director.name == "scene-4-director"
    assert director.stream_keys() == [], "nobody streamed during the director's take"
    take = TakeReader(takes_dir / "scene-4")
    assert take.status == "complete" and take.name == "scene-4"
    (key,) = take.stream_keys()
    assert key.endswith("/4:take-cam"), key  # the stream the probe declared (id 4)
    inputs = list(take.input_frames(key))
    assert [f.index for f in inputs] == list(range(frames))
    for f in inputs:
        assert np.array_equal(f.color_rgb, probe_picture_rgb(f.index, 64, 48)), f"input {f.index} differs from what C# sent"
        assert f.engine_timecode == f"00:00:00:{f.index:02d}"
        assert f.depth_m is not None and np.all(f.depth_m == 2.0)
        assert f.mask is not None and np.array_equal(f.mask > 0, np.broadcast_to(np.arange(64) < 32, (48, 64)))
    outputs = list(take.output_frames(key))
    assert [o.index for o in outputs] == list(range(frames))
    assert all(np.array_equal(o.color_rgb, probe_picture_rgb(o.index, 64, 48)) for o in outputs)  # passthrough


@needs_libzmq
@pytest.mark.timeout(120)
def test_csharp_sessions_follow_the_take_state_whoever_starts_the_take(built: Any, tmp_path: Path) -> None:
    from bridge.server import BridgeServer
    from bridge.server_config import ServerConfig

    server = BridgeServer(ServerConfig(endpoints=["tcp://127.0.0.1:*"], takes_dir=str(tmp_path / "takes"), take_compaction="manual"))
    server.start()
    probe = ProbeProcess(csharp.probe_command(TOOLCHAIN, built, "take-state", server.endpoint), built.folder)
    try:
        before = probe.expect("take_state", 60, session="first")
        assert before == {"event": "take_state", "session": "first", "recording": False, "take": None, "timecode": None,
                          "status": None, "text": "no take recorded yet"}, "the snapshot before any take"

        summary = server.start_take("scene-x")  # the Python side starts it, as the CLI or OSC would
        started = probe.expect("take_state", 30, session="first")
        assert started["recording"] is True and started["take"] == "scene-x" and started["status"] is None
        assert started["timecode"] == summary["timecode"] and re.fullmatch(r"\d\d:\d\d:\d\d[:;]\d\d", started["timecode"])
        late = probe.expect("take_state", 30, session="late")  # joined another session after the start
        assert late == {**started, "session": "late"}, "the late joiner finds the take in its snapshot"

        stop = server.stop_take()
        stopped = probe.expect("take_state", 30, session="first")
        assert stopped["recording"] is False and stopped["take"] == "scene-x" and stopped["timecode"] is None
        assert stopped["status"] == stop["status"] and stop["status"] in ("stopping", "complete")
        assert probe.expect("take_state", 30, session="late") == {**stopped, "session": "late"}

        done = probe.expect("done", 30)
        assert done["first"] == done["late"] == f"take 'scene-x' {stop['status']}"
        assert done["first_follows"] is True and done["more_states"] is False, "one event per change, no more"
        assert done["deaf_follows"] is False and done["deaf_state"] is None, "without \"session\" the server tells nothing"
        assert done["indicator_events"] == "started scene-x|stopped scene-x" and done["indicator"] == "not recording (last take 'scene-x')"
        assert done["first_error"] is None
        assert probe.proc.wait(30) == 0, "\n".join(probe.stderr[-40:])
    finally:
        if probe.proc.poll() is None:
            probe.proc.kill()
        server.stop()


# ---------------------------------------------------------------------------------------------- VMC


@needs_mono
@pytest.mark.timeout(60)
def test_vmc_pose_from_csharp_reaches_an_independent_osc_receiver(built: Any) -> None:
    from pythonosc.dispatcher import Dispatcher
    from pythonosc.osc_server import ThreadingOSCUDPServer

    received: list[tuple[str, tuple[Any, ...]]] = []
    dispatcher = Dispatcher()
    dispatcher.set_default_handler(lambda address, *args: received.append((address, args)))
    server = ThreadingOSCUDPServer(("127.0.0.1", 0), dispatcher)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        proc = csharp.run_probe(TOOLCHAIN, built, "vmc-send", "127.0.0.1", str(server.server_address[1]), timeout_s=30)
        assert proc.returncode == 0, proc.stderr
        sent = json.loads(proc.stdout.splitlines()[-1])
        assert sent["packets"] > 1 and sent["largest_packet_bytes"] <= 1400
        deadline = time.monotonic() + 10
        while (not received or received[-1][0] != "/VMC/Ext/Blend/Apply") and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        server.shutdown()
        server.server_close()
    addresses = [a for a, _ in received]
    assert addresses[:3] == ["/VMC/Ext/OK", "/VMC/Ext/T", "/VMC/Ext/Root/Pos"]
    assert addresses[-1] == "/VMC/Ext/Blend/Apply"
    args = dict(received)
    assert args["/VMC/Ext/OK"] == (1,)
    assert args["/VMC/Ext/T"] == (pytest.approx(12.25),)
    root = args["/VMC/Ext/Root/Pos"]
    assert root[0] == "root" and all(isinstance(v, float) for v in root[1:])
    assert root[1:4] == pytest.approx((0.5, 0.0, -1.25))
    assert root[4:8] == pytest.approx((0.0, np.sin(np.pi / 4), 0.0, np.cos(np.pi / 4)), abs=1e-6)
    bones = [a for a in received if a[0] == "/VMC/Ext/Bone/Pos"]
    assert [b[1][0] for b in bones][:3] == ["Hips", "LeftUpperLeg", "RightUpperLeg"] and len(bones) == 55
    head = next(b[1] for b in bones if b[1][0] == "Head")  # HumanBodyBones index 10: y = 0.10, 10 deg about x
    assert head[1:4] == pytest.approx((0.0, 0.10, 0.0), abs=1e-6)
    assert head[4:8] == pytest.approx((np.sin(np.radians(5)), 0.0, 0.0, np.cos(np.radians(5))), abs=1e-6)
    blends = [a[1] for a in received if a[0] == "/VMC/Ext/Blend/Val"]
    assert blends == [("Joy", pytest.approx(0.75)), ("Blink_L", pytest.approx(1.0))]


# ---------------------------------------------------------------------------------------------- MOCAP relay


@needs_libzmq
@needs_mocap
@pytest.mark.timeout(120)
def test_shared_session_state_and_mocap_between_csharp_and_python_engines(built: Any) -> None:
    from bridge.client import BridgeClient
    from bridge.server import BridgeServer
    from bridge.server_config import ServerConfig

    server = BridgeServer(ServerConfig(endpoints=["tcp://127.0.0.1:*"]))
    server.start()
    client = BridgeClient(server.endpoint, engine="python-peer", session="stage-7")
    probe = None
    seen: list[Any] = []

    def wait_for(match: Callable[[Any], bool], what: str, timeout_s: float = 30) -> Any:
        deadline = time.monotonic() + timeout_s
        for msg in seen:
            if match(msg):
                return msg
        while time.monotonic() < deadline:
            msg = client.recv(0.2)
            if msg is not None:
                seen.append(msg)
                if match(msg):
                    return msg
        stderr = "\n".join(probe.stderr[-30:]) if probe is not None else ""
        raise AssertionError(f"the Python engine got no {what} within {timeout_s} s\n{stderr}")

    try:
        welcome = client.connect([], capabilities=["mocap", "session"])
        client.send(StateChange("python.cue", {"scene": 1}))
        wait_for(lambda m: isinstance(m, StateChange) and m.key == "python.cue", "STATE python.cue")
        probe = ProbeProcess(csharp.probe_command(TOOLCHAIN, built, "mocap", server.endpoint, "stage-7"), built.folder)
        csharp_id = probe.expect("welcome", 60)["engine_id"]

        # SESSION and STATE: the C# engine sees the members and the state, and its change reaches everyone
        applied = probe.expect("state-applied", 30)
        assert applied["snapshot_session"] == "stage-7" and applied["snapshot_engine_id"] == csharp_id == applied["self"]
        assert f"{welcome.engine_id}=python-peer" in applied["members"] and len(applied["members"]) == 2
        assert applied["snapshot_state"] == {"python.cue": {"scene": 1}}
        assert applied["by"] == csharp_id and applied["version"] >= 2
        assert applied["value"] == {"take": 3, "cue": "lights up", "level": 0.75}
        join = wait_for(lambda m: isinstance(m, SessionEvent) and m.event == "join", "SESSION join")
        assert join.engine_id == csharp_id and join.engine == "machinima-bridge C# mocap probe"
        change = wait_for(lambda m: isinstance(m, StateChange) and m.key == "csharp.cue", "STATE csharp.cue")
        assert change.value == {"take": 3, "cue": "lights up", "level": 0.75} and change.by == csharp_id

        # MOCAP: the C# engine's pose reaches this engine through the relay, decodable by the Python reference
        msg = wait_for(lambda m: isinstance(m, Mocap), "MOCAP from the C# engine")
        received = pose_from_wire(msg.fields, msg.parts[0])
        assert received.performer_id == "csharp-actor" and received.source == "unity"
        assert list(received.bone_rotations) == ["Hips", "Spine", "LeftUpperArm", "Head"]
        half = np.radians(-80) / 2
        assert received.bone_rotations["LeftUpperArm"] == pytest.approx([0, 0, np.sin(half), np.cos(half)], abs=1e-6)
        assert received.bone_positions_m["Hips"] == pytest.approx([0, 0.95, 0], abs=1e-6)
        assert received.blendshapes == pytest.approx({"jawOpen": 0.5, "eyeBlinkLeft": 1.0})
        assert received.confidence == pytest.approx({"Hips": 1.0, "Spine": 0.9, "LeftUpperArm": 0.8, "Head": 0.7}, abs=1e-6)
        assert abs(received.timestamp_ns - time.time_ns()) < 60e9, "t_ns is wall-clock time since the epoch"

        # this engine's pose reaches the C# engine
        sent = full_pose()
        fields, payload = pose_to_wire(sent, include_confidence=True)
        deadline = time.monotonic() + 30
        got = None
        while got is None:
            client.send(Mocap(fields, [payload]))
            try:
                got = probe.expect("mocap-received", 0.2)
            except AssertionError as exc:
                if "within" not in str(exc):
                    raise
                assert time.monotonic() < deadline, "the C# engine received no MOCAP"
        assert got["performer"] == "python-actor" and got["source"] == "bvh" and got["t_ns"] == sent.timestamp_ns
        assert got["bones"] == list(fields["bones"])
        expected_rotations = np.concatenate([sent.bone_rotations[b] for b in fields["bones"]])
        assert got["rotations"] == pytest.approx(list(expected_rotations), abs=1e-6)
        assert got["root"] == pytest.approx([*sent.root_position_m, *sent.root_rotation], abs=1e-9)
        assert got["positions"] == ["Hips"] and got["position_values"] == pytest.approx([0.0, 0.93, 0.02], abs=1e-6)
        assert got["blendshapes"] == ["jawOpen", "eyeBlinkRight"]
        assert got["blend_values"] == pytest.approx([0.4, 0.9], abs=1e-6)
        assert got["confidence"] == pytest.approx([sent.confidence[b] for b in fields["bones"]], abs=1e-6)
        assert probe.proc.wait(30) == 0
    finally:
        if probe is not None and probe.proc.poll() is None:
            probe.proc.kill()
        client.close()
        server.stop()


# ---------------------------------------------------------------------------------------------- package layout

UNITY_BUILTIN_ASSEMBLIES = {"UnityEngine.UI", "UnityEngine.TestRunner", "UnityEditor.TestRunner"}


def _load_package_tool(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"unity_{name}", UNITY / "Tools~" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_unity_package_layout_assemblies_and_meta_files() -> None:
    from bridge import __version__

    manifest = json.loads((UNITY / "package.json").read_text(encoding="utf-8"))
    assert manifest["name"] == "com.machinima-bridge.unity" and manifest["version"] == __version__
    assert re.fullmatch(r"\d{4}\.\d", manifest["unity"])
    connection_source = (UNITY / "Runtime" / "Components" / "BridgeConnection.cs").read_text(encoding="utf-8")
    assert f'PackageVersion = "{__version__}"' in connection_source, "BridgeConnection.PackageVersion must match package.json"
    for folder in ("Runtime", "Editor", "Tests", "Samples~", "Documentation~"):
        assert (UNITY / folder).is_dir(), f"a UPM package has {folder}/"
    readme = (UNITY / "README.md").read_text(encoding="utf-8")
    assert "## Installation" in readme and "## Five-minute walkthrough" in readme and "?path=/engine_plugins/unity" in readme

    # assemblies: unique names, references resolve to package assemblies or Unity's own
    asmdefs = {p: json.loads(p.read_text(encoding="utf-8")) for p in UNITY.rglob("*.asmdef") if "~" not in p.as_posix()}
    names = [a["name"] for a in asmdefs.values()]
    assert len(names) == len(set(names)) and {"MachinimaBridge.Protocol", "MachinimaBridge.Core", "MachinimaBridge.Runtime",
                                              "MachinimaBridge.Editor", "MachinimaBridge.Tests.Editor"} == set(names)
    for path, asmdef in asmdefs.items():
        for ref in asmdef["references"]:
            assert ref in names or ref in UNITY_BUILTIN_ASSEMBLIES, f"{path}: unknown assembly reference {ref}"
    by_name = {a["name"]: a for a in asmdefs.values()}
    assert by_name["MachinimaBridge.Editor"]["includePlatforms"] == ["Editor"]
    assert by_name["MachinimaBridge.Tests.Editor"]["defineConstraints"] == ["UNITY_INCLUDE_TESTS"]
    assert set(by_name["MachinimaBridge.Runtime"]["precompiledReferences"]) == {"NetMQ.dll", "AsyncIO.dll"}

    # .meta files: present, current, unique GUIDs (git-URL installs ignore assets without one)
    metas = _load_package_tool("make_meta_files")
    assets = metas.assets()
    guids = []
    for asset in assets:
        meta = asset.with_name(asset.name + ".meta")
        assert meta.is_file(), f"{asset.relative_to(UNITY)} has no .meta (run Tools~/make_meta_files.py)"
        assert meta.read_text(encoding="utf-8") == metas.meta_text(asset), f"{meta.relative_to(UNITY)} is stale"
        guids.append(re.search(r"^guid: ([0-9a-f]{32})$", meta.read_text(encoding="utf-8"), re.M).group(1))
    assert len(guids) == len(set(guids))
    for meta in UNITY.rglob("*.meta"):
        assert meta.with_suffix("") in assets or meta.with_name(meta.name[: -len(".meta")]) in assets, f"orphan {meta}"

    # every sample scene's scripts resolve to the sample's own scripts
    for sample in manifest["samples"]:
        folder = UNITY / sample["path"]
        scenes = list(folder.glob("*.unity"))
        assert scenes, f"sample {sample['displayName']} has no scene"
        script_guids = {re.search(r"^guid: (\w+)$", m.read_text(encoding="utf-8"), re.M).group(1)
                        for m in folder.glob("*.cs.meta")}
        for scene in scenes:
            used = set(re.findall(r"m_Script: \{fileID: 11500000, guid: (\w+), type: 3\}", scene.read_text(encoding="utf-8")))
            assert used and used <= script_guids, f"{scene.name} refers to scripts {used - script_guids} that are not in the sample"
