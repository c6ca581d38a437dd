"""Streaming diffusion on an NVIDIA GPU: fp16 torch path, no host sync, TensorRT build, cache reuse, equivalence.

Skipped without CUDA (and the TensorRT tests without the ``tensorrt``
package).  Tiny random models keep it quick; tolerances: fp32 engines 1e-2,
fp16 paths 5e-2 (largest absolute difference against fp32 torch).
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU for torch")]

FP32_ENGINE_TOLERANCE = 1e-2
FP16_TOLERANCE = 5e-2


def _has_tensorrt() -> bool:
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return False
    return True


needs_tensorrt = pytest.mark.skipif(not _has_tensorrt(), reason="the tensorrt package is not installed")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from realtime_models.stream_diffusion.tiny_models import write_tiny_models

    return write_tiny_models(tmp_path_factory.mktemp("tiny-models"), controlnet_kinds=("depth",))


@pytest.fixture(scope="module")
def models(tiny):
    from realtime_models.stream_diffusion.model_loading import ControlNetFile, DiffusionModelFiles, load_diffusion_models

    return load_diffusion_models(DiffusionModelFiles(tiny.model_dir, tiny_vae=tiny.tiny_vae_dir,
                                                     controlnets=(ControlNetFile(tiny.controlnet_dirs["depth"], "depth"),)))


@pytest.fixture(scope="module")
def onnx_dir(models, tmp_path_factory) -> Path:
    from realtime_models.stream_diffusion.onnx_export import ExportOptions, export_models

    out = tmp_path_factory.mktemp("onnx")
    export_models(models, out, ExportOptions(min_px=64, opt_px=128, max_px=256, max_batch=4))
    return out


def _cpu_reference(models):
    from realtime_models.stream_diffusion.backend import TorchBackend

    return TorchBackend(models, "cpu", torch.float32)


def test_fp16_torch_path_matches_fp32_and_runs_a_stream(models):
    from realtime_models.stream_diffusion.backend import TorchBackend, compare_backends
    from realtime_models.stream_diffusion.diffusion_stream import DiffusionSettings, DiffusionStream
    from realtime_models.stream_diffusion.prompt_travel import PromptEncoder
    from realtime_models.stream_diffusion.schedule import LcmSchedule

    gpu = TorchBackend(models, "cuda", torch.float16, channels_last=True)
    diffs = compare_backends(_cpu_reference(models), gpu, 64, 64, text_width=32)
    assert max(diffs.values()) <= FP16_TOLERANCE, diffs
    stream = DiffusionStream(gpu, PromptEncoder(models.tokenizer, models.text_encoder, "cuda", torch.float16),
                             LcmSchedule(models.scheduler_config), ["depth"],
                             DiffusionSettings(process_long_side_px=64, prompt="a castle", steps=2),
                             size_multiple_px=gpu.size_multiple_px)
    frame = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    depth = np.linspace(1, 5, 48 * 64, dtype=np.float16).reshape(48, 64)
    results = [stream.process(frame, depth) for _ in range(3)]
    assert results[0].image is None and results[2].image.shape == (48, 64, 3)


def test_stream_math_on_the_gpu_never_synchronises(models):
    """torch's sync debug mode turns any host sync outside the network calls into an error."""
    from realtime_models.stream_diffusion.backend import TorchBackend
    from realtime_models.stream_diffusion.prompt_travel import PromptEncoder
    from realtime_models.stream_diffusion.schedule import LcmSchedule
    from realtime_models.stream_diffusion.stream_diffusion import StreamConfig, StreamDiffusion

    backend = TorchBackend(models, "cuda", torch.float16)

    class Unchecked:  # the networks themselves are not the algorithm's business
        def __getattr__(self, name):
            attr = getattr(backend, name)
            if name not in ("unet", "encode", "decode", "controlnet"):
                return attr

            def call(*a, **k):
                torch.cuda.set_sync_debug_mode(0)
                try:
                    return attr(*a, **k)
                finally:
                    torch.cuda.set_sync_debug_mode(2)
            return call

    prompts = PromptEncoder(models.tokenizer, models.text_encoder, "cuda", torch.float16)
    stream = StreamDiffusion(Unchecked(), LcmSchedule(models.scheduler_config))  # type: ignore[arg-type]
    stream.prepare(StreamConfig(64, 64, (20, 35), 1.5, "initialize"), prompts.encode("a castle"), prompts.encode(""))
    image = torch.rand(1, 3, 64, 64, device="cuda", dtype=torch.float16) * 2 - 1
    stream(image)
    torch.cuda.set_sync_debug_mode(2)
    try:
        for _ in range(3):
            stream(image)
    finally:
        torch.cuda.set_sync_debug_mode(0)


def test_onnxruntime_cuda_matches_torch(models, onnx_dir):
    import onnxruntime

    from realtime_models.stream_diffusion.backend import compare_backends
    from realtime_models.stream_diffusion.onnxruntime_backend import OnnxRuntimeBackend

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        pytest.skip("onnxruntime has no CUDA provider")
    diffs = compare_backends(_cpu_reference(models), OnnxRuntimeBackend(onnx_dir, "cuda"), 64, 64, text_width=32)
    assert max(diffs.values()) <= 1e-3, diffs


@needs_tensorrt
def test_tensorrt_engines_build_once_and_are_reused_from_the_cache(onnx_dir, tmp_path):
    from realtime_models.stream_diffusion.engine_cache import cached_specs
    from realtime_models.stream_diffusion.tensorrt_backend import EngineCache

    cache = EngineCache(onnx_dir, tmp_path / "engines", 64, 128, 256, max_batch=4, fp16=True)
    first = cache.build_all()
    assert all(fresh for _, fresh in first.values())
    again = EngineCache(onnx_dir, tmp_path / "engines", 64, 128, 256, max_batch=4, fp16=True).build_all()
    assert all(not fresh for _, fresh in again.values())
    assert {p for p, _ in first.values()} == {p for p, _ in again.values()}
    assert len(cached_specs(tmp_path / "engines")) == len(first)
    other = EngineCache(onnx_dir, tmp_path / "engines", 64, 128, 512, max_batch=4, fp16=True)
    assert other.spec("unet").key() != cache.spec("unet").key()  # another range is another engine


@needs_tensorrt
@pytest.mark.parametrize("fp16", [False, True])
def test_tensorrt_matches_torch(models, onnx_dir, tmp_path, fp16):
    from realtime_models.stream_diffusion.backend import compare_backends
    from realtime_models.stream_diffusion.tensorrt_backend import TensorRTBackend

    trt_backend = TensorRTBackend(onnx_dir, tmp_path / "engines", 64, 128, 256, max_batch=4, fp16=fp16)
    diffs = compare_backends(_cpu_reference(models), trt_backend, 128, 96, text_width=32)
    assert max(diffs.values()) <= (FP16_TOLERANCE if fp16 else FP32_ENGINE_TOLERANCE), diffs


@needs_tensorrt
def test_tensorrt_cuda_graphs_replay_the_same_results(models, onnx_dir, tmp_path):
    from realtime_models.stream_diffusion.tensorrt_backend import TensorRTBackend

    plain = TensorRTBackend(onnx_dir, tmp_path / "engines", 64, 128, 256, max_batch=4, fp16=True)
    graphed = TensorRTBackend(onnx_dir, tmp_path / "engines", 64, 128, 256, max_batch=4, fp16=True, cuda_graphs=True)
    g = torch.Generator(device="cuda").manual_seed(0)
    sample = torch.randn(2, 4, 16, 16, device="cuda", generator=g, dtype=torch.float16)
    emb = torch.randn(2, 77, 32, device="cuda", generator=g, dtype=torch.float16)
    t = torch.tensor([900.0, 300.0], device="cuda")
    for _ in range(3):  # capture, then replays
        out = graphed.unet(sample, t, emb)
    assert torch.allclose(out.float(), plain.unet(sample, t, emb).float(), atol=1e-3)
    sample2 = sample * 0.5
    assert torch.allclose(graphed.unet(sample2, t, emb).float(), plain.unet(sample2, t, emb).float(), atol=1e-3)
