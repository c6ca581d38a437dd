"""Provider resolution and model-file handling of realtime_models.onnx_runtime_session."""
from __future__ import annotations

import logging
import warnings

import numpy as np
import onnxruntime
import pytest

from realtime_models import onnx_runtime_session as ors
from realtime_models.onnx_runtime_session import (
    CPU_PROVIDER,
    CUDA_PROVIDER,
    TENSORRT_PROVIDER,
    ModelFileError,
    open_session,
    resolve_providers,
)
from realtime_models.style_transfer import MULTISTYLE_MODEL_FILE, styletransfer_models_dir

AVAILABLE = onnxruntime.get_available_providers()


def multistyle_path():
    return styletransfer_models_dir() / MULTISTYLE_MODEL_FILE


def test_cpu_request_gives_cpu_only():
    assert resolve_providers("cpu") == [CPU_PROVIDER]


def test_auto_ends_with_cpu_and_lists_only_available_providers():
    providers = resolve_providers("auto")
    assert providers[-1] == CPU_PROVIDER
    assert all(p in AVAILABLE for p in providers)
    expected_accelerators = [p for p in (TENSORRT_PROVIDER, CUDA_PROVIDER) if p in AVAILABLE]
    assert providers[:-1] == expected_accelerators


@pytest.mark.parametrize("device, provider", [("cuda", CUDA_PROVIDER), ("tensorrt", TENSORRT_PROVIDER)])
def test_explicit_unavailable_device_names_what_is_available(device, provider):
    if provider in AVAILABLE:
        pytest.skip(f"{provider} is available on this machine")
    with pytest.raises(ValueError) as excinfo:
        resolve_providers(device)
    message = str(excinfo.value)
    assert provider in message
    assert CPU_PROVIDER in message  # names what IS available


def test_unknown_device_is_rejected_with_the_valid_names():
    with pytest.raises(ValueError, match="auto, cpu, cuda, tensorrt"):
        resolve_providers("tpu")


def test_explicit_provider_list_with_unavailable_entry_is_rejected():
    if CUDA_PROVIDER in AVAILABLE:
        pytest.skip("CUDA is available on this machine")
    with pytest.raises(ValueError, match=CUDA_PROVIDER):
        open_session(multistyle_path(), [CUDA_PROVIDER, CPU_PROVIDER])


def test_missing_model_file_names_the_path(tmp_path):
    missing = tmp_path / "models" / "absent.onnx"
    with pytest.raises(ModelFileError) as excinfo:
        open_session(missing, "cpu")
    assert str(missing) in str(excinfo.value)
    assert excinfo.value.path == missing


def test_corrupt_model_file_names_the_path_and_cause(tmp_path):
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"this is not a protobuf" * 10)
    with pytest.raises(ModelFileError) as excinfo:
        open_session(corrupt, "cpu")
    message = str(excinfo.value)
    assert str(corrupt) in message
    assert "valid ONNX" in message
    assert excinfo.value.cause  # onnxruntime's reason is kept


def test_directory_instead_of_model_file_is_rejected(tmp_path):
    with pytest.raises(ModelFileError, match="not a regular file"):
        open_session(tmp_path, "cpu")


def test_bad_thread_count_is_rejected():
    with pytest.raises(ValueError, match="intra_op_threads"):
        open_session(multistyle_path(), "cpu", intra_op_threads=0)


def test_real_model_opens_on_cpu_and_runs(caplog):
    with caplog.at_level(logging.INFO, logger=ors.__name__):
        session = open_session(multistyle_path(), "cpu", intra_op_threads=1)
    assert session.get_providers() == [CPU_PROVIDER]
    assert "CPUExecutionProvider" in caplog.text
    weights = np.zeros(26, dtype=np.float32)
    weights[0] = 1.0
    image = np.full((1, 3, 16, 16), 0.5, dtype=np.float32)
    (out,) = session.run(None, {"image": image, "style_weights": weights})
    assert out.shape == (1, 3, 16, 16)


def test_silent_fallback_to_cpu_is_logged_as_a_warning(monkeypatch, caplog):
    if CUDA_PROVIDER in AVAILABLE:
        pytest.skip("CUDA is really available; cannot provoke a fallback")
    # pretend the build offers CUDA; onnxruntime then quietly runs on the CPU
    monkeypatch.setattr(ors, "available_providers", lambda: [CUDA_PROVIDER, CPU_PROVIDER])
    with caplog.at_level(logging.WARNING, logger=ors.__name__), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        session = open_session(multistyle_path(), "cuda")
    assert session.get_providers() == [CPU_PROVIDER]
    warnings_logged = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings_logged and CUDA_PROVIDER in warnings_logged[0].getMessage()
