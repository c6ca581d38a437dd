"""The ``diffusion`` stage inside the real server, over a real socket, with tiny real models (CPU, offline)."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


import numpy as np  # noqa: E402
import pytest  # noqa: E402

from bridge import stage as stage_module  # noqa: E402
from bridge.client import BridgeClient, BridgeClientError  # noqa: E402
from bridge.pipeline_config import PipelineCatalog, PipelineConfig, load_builtin  # noqa: E402
from bridge.protocol.messages import Error, Result, StreamDeclaration  # noqa: E402
from bridge.server import BridgeServer  # noqa: E402
from bridge.server_config import ServerConfig  # noqa: E402
from realtime_models.stream_diffusion.tiny_models import write_tiny_models  # noqa: E402

RECV_TIMEOUT_S = 60.0
WIDTH, HEIGHT = 64, 48


def _pipeline(name: str, params: dict) -> PipelineConfig:
    return PipelineConfig.from_mapping({"name": name, "stage": [{"type": "diffusion", "params": params}]}, f"test:{name}")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_tiny_models(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture(scope="module")
def server(tiny, tmp_path_factory):
    missing = tmp_path_factory.mktemp("nothing") / "no-such-model"
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(stage_module.STAGE_TYPES, "diffusion", "bridge.stages.diffusion:DiffusionStage")
        common = {"tiny_vae": str(tiny.tiny_vae_dir), "process_long_side_px": 64, "steps": 2, "device": "cpu",
                  "prompt": "a castle at dusk"}
        dream = _pipeline("dream", {"model": str(tiny.model_dir), "controlnet_depth": str(tiny.controlnet_dirs["depth"]),
                                    "controlnet_pose": str(tiny.controlnet_dirs["pose"]), **common})
        broken = _pipeline("broken", {"model": str(missing), **common})
        catalog = PipelineCatalog({"default": load_builtin("passthrough"), "dream": dream, "broken": broken})
        srv = BridgeServer(ServerConfig(endpoints=["tcp://127.0.0.1:*"]), catalog)
        srv.start()
        try:
            yield srv, missing
        finally:
            srv.stop()


def _frame(i: int) -> np.ndarray:
    rng = np.random.default_rng(i)
    rgba = rng.integers(0, 256, (HEIGHT, WIDTH, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    return rgba


def _depth() -> np.ndarray:
    return np.linspace(0.5, 20.0, WIDTH * HEIGHT, dtype=np.float32).reshape(HEIGHT, WIDTH)


def _result(client: BridgeClient, index: int) -> Result:
    while True:
        msg = client.recv(RECV_TIMEOUT_S)
        assert msg is not None, f"no RESULT for frame {index} within {RECV_TIMEOUT_S} s"
        if isinstance(msg, Error):
            raise AssertionError(f"server error: {msg.name}: {msg.message}")
        if isinstance(msg, Result) and msg.index == index:
            return msg


def test_diffusion_stage_restyles_frames_over_the_socket_and_takes_live_control(server):
    srv, _ = server
    with BridgeClient(srv.endpoint, engine="diffusion-test") as client:
        welcome = client.connect([StreamDeclaration(0, "cam", WIDTH, HEIGHT, "RGBA8", depth_format="F32",
                                                    pipeline="dream")], timeout_s=RECV_TIMEOUT_S)
        assert welcome.streams[0].stages == ["diffusion"]
        first = _frame(0)
        client.send_frame(0, 0, first, depth=_depth(), block=True)
        warm = _result(client, 0)
        # warm-up (steps - 1 = 1 frame): the engine gets its own picture back, never an undenoised latent
        assert np.array_equal(warm.plane("color").array(), first)
        second = _frame(1)
        client.send_frame(0, 1, second, depth=_depth(), block=True)
        out = _result(client, 1)
        picture = out.plane("color").array()
        assert picture.shape == (HEIGHT, WIDTH, 4) and not out.held
        assert np.abs(picture[..., :3].astype(int) - second[..., :3].astype(int)).mean() > 5
        assert "diffusion" in out.stage_us

        ack = client.control(0, "diffusion", {"prompt": "a forest :: 0.6 | fog :: 0.4", "strength": 0.7,
                                              "pose_keypoints": [0.5, 0.5, 1.0] * 18}, timeout_s=RECV_TIMEOUT_S)
        assert ack.ok, ack.reason
        client.send_frame(0, 2, second, depth=_depth(), block=True)
        changed = _result(client, 2).plane("color").array()
        assert not np.array_equal(changed, picture)

        bad = client.control(0, "diffusion", {"cfg_type": "sometimes"}, timeout_s=RECV_TIMEOUT_S)
        assert not bad.ok and "cfg_type" in bad.reason
        bad = client.control(0, "diffusion", {"prompt_schedule": "castle then forest"}, timeout_s=RECV_TIMEOUT_S)
        assert not bad.ok and "prompt_schedule" in bad.reason
        fixed = client.control(0, "diffusion", {"model": "/elsewhere"}, timeout_s=RECV_TIMEOUT_S)
        assert not fixed.ok and "fixed when the pipeline starts" in fixed.reason


def test_missing_model_is_reported_to_the_engine_and_other_streams_keep_running(server):
    srv, missing = server
    with BridgeClient(srv.endpoint, engine="healthy") as healthy:
        healthy.connect([StreamDeclaration(0, "cam", WIDTH, HEIGHT, "RGBA8", pipeline="dream")],
                        timeout_s=RECV_TIMEOUT_S)
        with BridgeClient(srv.endpoint, engine="unlucky") as unlucky:
            with pytest.raises(BridgeClientError) as err:
                unlucky.connect([StreamDeclaration(0, "cam", WIDTH, HEIGHT, "RGBA8", pipeline="broken")],
                                timeout_s=RECV_TIMEOUT_S)
            message = str(err.value)
            assert "PIPELINE_FAILED" in message and str(missing) in message and "expected" in message
        for i in range(3):  # the healthy engine's stream is unaffected (no depth plane: ControlNet skipped)
            healthy.send_frame(0, i, _frame(10 + i), block=True)
            result = _result(healthy, i)
            assert result.plane("color").array().shape == (HEIGHT, WIDTH, 4)
