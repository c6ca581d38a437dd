"""Fixtures for the streaming diffusion tests: tiny real models written to a temp folder once per session."""

from __future__ import annotations

import pytest

from diffusion_helpers import tiny_files  # first: it switches the model hubs off before any model import
from realtime_models.stream_diffusion.model_loading import LoadedDiffusionModels, load_diffusion_models
from realtime_models.stream_diffusion.tiny_models import TinyModelPaths, write_tiny_models


@pytest.fixture(scope="session")
def tiny_paths(tmp_path_factory: pytest.TempPathFactory) -> TinyModelPaths:
    return write_tiny_models(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture(scope="session")
def tiny_models(tiny_paths: TinyModelPaths) -> LoadedDiffusionModels:
    return load_diffusion_models(tiny_files(tiny_paths))


