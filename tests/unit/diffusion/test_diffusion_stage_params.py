"""The ``diffusion`` stage's parameters as a pipeline file and CONTROL messages see them (no models loaded)."""

from __future__ import annotations

import pytest

from bridge import stage as stage_module
from bridge.pipeline_config import PipelineConfig, PipelineConfigError
from bridge.stage_params import ParamError


@pytest.fixture(autouse=True)
def _registered(monkeypatch):
    monkeypatch.setitem(stage_module.STAGE_TYPES, "diffusion", "bridge.stages.diffusion:DiffusionStage")


def _pipeline(params: dict) -> PipelineConfig:
    return PipelineConfig.from_mapping({"stage": [{"type": "diffusion", "name": "dream", "params": params}]},
                                       "looks/dream.toml")


def test_pipeline_file_errors_name_the_file_stage_and_parameter():
    for params, words in (({}, ("'model' is required",)),
                          ({"model": "m", "backend": "tensorrt"}, ("onnx_dir",)),
                          ({"model": "m", "device": "tensorrt"}, ("onnxruntime",)),
                          ({"model": "m", "cfg_type": "always"}, ("cfg_type",)),
                          ({"model": "m", "strength": 1.5}, ("strength", "outside")),
                          ({"model": "m", "prompt_schedule": "no keyframes"}, ("must start with a keyframe",)),
                          ({"model": "m", "t_index_list": [30, 10]}, ("strictly increasing",)),
                          ({"model": "m", "pose_keypoints": [0.5] * 10}, ("54 numbers",))):
        with pytest.raises(PipelineConfigError) as err:
            _pipeline(params)
        assert "looks/dream.toml" in str(err.value)
        for word in words:
            assert word in str(err.value), (params, str(err.value))


def test_live_updates_are_checked_and_setup_parameters_refused():
    stage = _pipeline({"model": "/models/sd-turbo", "prompt": "a castle"}).build_stages()[0]
    applied = stage.params.update(stage.translate_updates({"prompt": "a forest :: 0.5 | fog :: 0.5", "strength": 0.7,
                                                           "zoom_schedule": "0: 1.0, 48: 1.04"}))
    assert applied["strength"] == 0.7
    with pytest.raises(ParamError, match="fixed when the pipeline starts"):
        stage.params.update({"backend": "onnxruntime"})
    with pytest.raises(ParamError, match="zoom_schedule"):
        stage.params.update({"zoom_schedule": "0: fast"})
    settings = stage._settings(stage.params.snapshot())
    assert settings.prompt.startswith("a forest") and settings.zoom_schedule == "0: 1.0, 48: 1.04"
    assert settings.controlnet_scales == ()  # no ControlNet folders configured
