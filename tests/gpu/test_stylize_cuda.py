"""The stylize network on the CUDA execution provider agrees with the CPU provider."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from realtime_models.style_transfer import MultiStyleNetwork

pytestmark = pytest.mark.gpu


def test_cuda_stylize_matches_cpu():
    rgb = data.astronaut()
    cpu = MultiStyleNetwork(providers="cpu").stylize(rgb, 19, 320)
    gpu_net = MultiStyleNetwork(providers="cuda")
    assert gpu_net.session.get_providers()[0] == "CUDAExecutionProvider"
    gpu = gpu_net.stylize(rgb, 19, 320)
    assert np.abs(cpu.astype(int) - gpu.astype(int)).mean() < 2.0
