"""The ``face_swap`` stage inside a real BridgeServer, driven by a real engine client over a real socket."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

import bridge
import bridge.stage
from bridge.client import BridgeClient
from bridge.pipeline_config import PipelineCatalog, PipelineConfig
from bridge.protocol.errors import ErrorCode
from bridge.protocol.messages import Error, Result, StreamDeclaration
from bridge.server import BridgeServer
from bridge.server_config import ServerConfig

pytestmark = pytest.mark.timeout(120)
WAIT_S = 30.0
W, H = 640, 480
PIPELINE_FILE = Path(bridge.__file__).parent / "configs" / "face_swap.toml"


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setitem(bridge.stage.STAGE_TYPES, "face_swap", "bridge.stages.face_swap:FaceSwapStage")
    config = PipelineConfig.parse(PIPELINE_FILE.read_text(encoding="utf-8"), str(PIPELINE_FILE), "face_swap")
    catalog = PipelineCatalog({**PipelineCatalog.with_builtins().pipelines, "face_swap": config})
    srv = BridgeServer(ServerConfig(endpoints=["tcp://127.0.0.1:*"]), catalog)
    srv.start()
    yield srv
    srv.stop(timeout_s=5.0)


@pytest.fixture
def client(server):
    c = BridgeClient(server.endpoint, engine="face-itest")
    yield c
    c.close()


def _performer_bgra() -> np.ndarray:
    frame = np.zeros((H, W, 3), np.uint8)
    frame[:, 80:560] = cv2.resize(data.astronaut(), (480, 480), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(frame, cv2.COLOR_RGB2BGRA)


def _next(client: BridgeClient, index: int) -> Result | Error:
    """The RESULT (or the ERROR) for frame ``index``; other messages are skipped."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        msg = client.recv(timeout_s=max(0.05, deadline - time.monotonic()))
        if isinstance(msg, Result) and msg.index == index:
            return msg
        if isinstance(msg, Error) and msg.index == index:
            return msg
    raise AssertionError(f"no RESULT for frame {index} within {WAIT_S} s")


def _roundtrip(client: BridgeClient, index: int, picture: np.ndarray) -> np.ndarray:
    assert client.send_frame(0, index, picture, color_format="BGRA8", block=True)
    msg = _next(client, index)
    assert isinstance(msg, Result), msg
    return msg.plane("color").array().copy()


def test_face_swap_pipeline_over_the_socket(client):
    welcome = client.connect([StreamDeclaration(0, "cam", W, H, color_format="BGRA8", pipeline="face_swap")],
                             timeout_s=WAIT_S)
    assert welcome.streams[0].pipeline == "face_swap" and welcome.streams[0].stages == ["face_swap"]
    performer = _performer_bgra()
    out = _roundtrip(client, 1, performer)
    assert out.shape == (H, W, 4) and np.all(out[..., 3] == 255)
    changed = np.abs(out[..., :3].astype(int) - performer[..., :3]).sum(axis=2) > 30
    ys, xs = np.nonzero(changed)
    assert changed.sum() > 2000, "the face was swapped"
    assert xs.min() > 200 and xs.max() < 400 and ys.min() > 40 and ys.max() < 230, "only around the face"
    far = np.ones((H, W), bool)
    far[30:250, 180:420] = False
    assert np.array_equal(out[far], performer[far]), "away from the face the engine's pixels come back exactly"

    empty = np.full((H, W, 4), 70, np.uint8)
    assert np.array_equal(_roundtrip(client, 2, empty), empty), "no face: the frame passes through"

    ack = client.control(0, "face_swap", {"opacity": 0.0}, timeout_s=WAIT_S)
    assert ack.ok, ack
    assert np.array_equal(_roundtrip(client, 3, performer)[..., :3], performer[..., :3])
    ack = client.control(0, "face_swap", {"opacity": 1.0, "color_transfer": "lct", "mouth_mask": True,
                                          "smooth_beta": 2.0, "detect_interval": 3}, timeout_s=WAIT_S)
    assert ack.ok and ack.applied["color_transfer"] == "lct", ack
    again = _roundtrip(client, 4, performer)
    assert np.abs(again[..., :3].astype(int) - performer[..., :3]).sum(axis=2).__gt__(30).sum() > 2000


def test_bad_controls_are_refused_and_a_failed_load_does_not_stop_the_stream(client, tmp_path):
    client.connect([StreamDeclaration(0, "cam", W, H, color_format="BGRA8", pipeline="face_swap")],
                   timeout_s=WAIT_S)
    performer = _performer_bgra()
    _roundtrip(client, 1, performer)
    refused = client.control(0, "face_swap", {"color_transfer": "sepia"}, timeout_s=WAIT_S)
    assert not refused.ok and refused.code == int(ErrorCode.BAD_PARAM_VALUE)
    assert "color_transfer" in refused.reason and "rct" in refused.reason
    refused = client.control(0, "face_swap", {"swapper": "onnx_oneshot"}, timeout_s=WAIT_S)
    assert not refused.ok and "swap_model_path" in refused.reason
    refused = client.control(0, "face_swap", {"dfm_model_path": str(tmp_path / "nope.dfm")}, timeout_s=WAIT_S)
    assert not refused.ok and "nope.dfm" in refused.reason

    faceless = tmp_path / "faceless"
    faceless.mkdir()
    cv2.imwrite(str(faceless / "wall.png"), np.full((64, 64, 3), 180, np.uint8))
    assert client.control(0, "face_swap", {"identities": str(faceless)}, timeout_s=WAIT_S).ok
    assert client.send_frame(0, 2, performer, color_format="BGRA8", block=True)
    error = _next(client, 2)
    assert isinstance(error, Error) and error.code == int(ErrorCode.PIPELINE_FAILED)
    assert "faceless" in error.message and "no face found" in error.message
    out = _roundtrip(client, 3, performer)  # the stream goes on with the previous identity
    assert np.abs(out[..., :3].astype(int) - performer[..., :3]).sum(axis=2).__gt__(30).sum() > 2000
