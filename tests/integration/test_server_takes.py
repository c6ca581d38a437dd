"""Takes recorded by the real server while engines stream, then read back and re-rendered."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from pythonosc.udp_client import SimpleUDPClient

from bridge.client import BridgeClient
from bridge.pipeline_config import load_builtin
from bridge.protocol.messages import ControlAck, Result, StreamDeclaration
from bridge.server import BridgeServer
from bridge.server_config import ServerConfig
from bridge.simulated_scene import SceneSettings, SimulatedScene
from bridge.takes.reader import TakeReader
from bridge.takes.rerender import rerender

pytestmark = pytest.mark.timeout(120)
W, H = 160, 96


def _stream(client: BridgeClient, scene: SimulatedScene, first: int, count: int) -> int:
    results = 0
    for i in range(first, first + count):
        frame = scene.render(i / 30.0)
        client.send_frame(0, i, frame.color_rgba, depth=frame.depth_m, mask=frame.actor_mask, block=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # lock-step: every frame is answered (nothing dropped live)
            msg = client.recv(timeout_s=1.0)
            if isinstance(msg, Result) and msg.index == i:
                results += 1
                break
    return results


def test_a_take_started_by_control_holds_every_frame_and_control_and_rerenders(tmp_path: Path):
    server = BridgeServer(ServerConfig(endpoints=["tcp://127.0.0.1:*"], takes_dir=str(tmp_path / "takes")))
    server.start()
    client = BridgeClient(server.endpoint, engine="unity")
    scene = SimulatedScene(SceneSettings(W, H))
    try:
        client.connect([StreamDeclaration(0, "main", W, H, depth_format="F32", mask=True, pipeline="aged_archive")])
        ack = client.control(0, "take", {"record": True, "name": "scene-4"})
        assert isinstance(ack, ControlAck) and ack.ok and ack.applied["take"] == "scene-4"
        assert _stream(client, scene, 0, 20) == 20
        ack = client.control(0, "film_look", {"grain": 0.0, "fade": 0.0, "codec": "none", "vignette": 0.0,
                                               "weave_px": 0.0, "chroma_bleed_px": 0.0})
        assert ack.ok
        assert _stream(client, scene, 20, 20) == 20
        again = client.control(0, "take", {"record": True})
        assert not again.ok and "already recording" in (again.reason or "")
        stopped = client.control(0, "take", {"record": False})
        assert stopped.ok and stopped.applied["status"] in ("stopping", "complete")
    finally:
        client.close()
        server.stop()  # waits for takes still being written
    take = TakeReader(tmp_path / "takes" / "scene-4")
    (key,) = take.stream_keys()
    inputs = list(take.input_frames(key))
    assert [f.index for f in inputs] == list(range(40))
    assert [(c.stage, c.input_index) for c in take.controls(key)] == [("film_look", 20)]
    assert len(list(take.output_frames(key))) == 40
    report = rerender(take, load_builtin("aged_archive"), tmp_path / "rerender.mkv")
    assert report.frames_written == 40 and report.input_indices == list(range(40))


def test_osc_starts_and_stops_a_take(tmp_path: Path):
    server = BridgeServer(ServerConfig(endpoints=["tcp://127.0.0.1:*"], takes_dir=str(tmp_path / "takes"),
                                       osc_enabled=True, osc_port=0))
    server.start()
    client = BridgeClient(server.endpoint, engine="unity")
    try:
        client.connect([StreamDeclaration(0, "main", W, H, pipeline="passthrough")])
        osc = SimpleUDPClient(*server.osc_address)
        osc.send_message("/bridge/take/start", "from-osc")
        deadline = time.monotonic() + 5
        while server.takes.recorder is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.takes.recorder is not None
        frame = np.zeros((H, W, 4), np.uint8)
        for i in range(5):
            client.send_frame(0, i, frame, block=True)
            assert isinstance(client.recv(5), Result)
        osc.send_message("/bridge/take/stop", [])
        deadline = time.monotonic() + 5
        while server.takes.recorder is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.takes.recorder is None
    finally:
        client.close()
        server.stop()
    take = TakeReader(tmp_path / "takes" / "from-osc")
    assert len(list(take.input_frames(take.default_stream()))) == 5


def test_take_compaction_waits_until_the_live_stream_pauses(tmp_path: Path):
    from bridge.takes.compactor import pending_tables

    server = BridgeServer(ServerConfig(endpoints=["tcp://127.0.0.1:*"], takes_dir=str(tmp_path / "takes"),
                                       take_compaction="idle"))
    server.start()
    client = BridgeClient(server.endpoint, engine="unity")
    scene = SimulatedScene(SceneSettings(W, H))
    try:
        client.connect([StreamDeclaration(0, "main", W, H, depth_format="F32", mask=True, pipeline="passthrough")])
        server.start_take("quiet-later")
        assert _stream(client, scene, 0, 30) == 30
        server.stop_take()
        take_dir = tmp_path / "takes" / "quiet-later"
        recorder = server.takes._finishing[-1]
        # frames keep flowing after the take: its raw segments wait, the live stream keeps the CPU
        index = 30
        deadline = time.monotonic() + 60
        while recorder.wait(0) is None and time.monotonic() < deadline:  # until the take is written
            assert _stream(client, scene, index, 10) == 10
            index += 10
        assert _stream(client, scene, index, 15) == 15
        assert recorder.wait(0) is not None and len(pending_tables(take_dir)) >= 2
        compactor = recorder.compactor
        assert compactor is not None and compactor.paused and compactor.done == 0
        # the engine stops sending: after a quiet spell the compactor runs and every segment is re-encoded
        deadline = time.monotonic() + 30
        while pending_tables(take_dir) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert pending_tables(take_dir) == [] and not compactor.paused and compactor.failed == []
    finally:
        client.close()
        server.stop()
    frames = list(TakeReader(tmp_path / "takes" / "quiet-later").input_frames())
    assert [f.index for f in frames] == list(range(30))
