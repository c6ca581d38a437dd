"""GPU tests: skipped unless onnxruntime offers CUDA (install the `gpu` extra on a CUDA machine)."""

from __future__ import annotations

import onnxruntime
import pytest


def pytest_collection_modifyitems(config, items):
    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        return
    skip = pytest.mark.skip(reason="no CUDA: onnxruntime offers only " + ", ".join(onnxruntime.get_available_providers()))
    for item in items:
        if "tests/gpu" in str(item.fspath):
            item.add_marker(skip)
