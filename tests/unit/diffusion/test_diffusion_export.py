"""ONNX export as the command runs it, torch vs ONNX Runtime equivalence, and the TensorRT cache rules.

Stated tolerance: every exported graph agrees with torch to 1e-4 (largest
absolute difference, fp32 on the CPU; measured about 1e-6), and a whole
stream on ONNX Runtime gives pictures within 2 levels (of 255) of the
torch stream.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from bridge.model_tools import main as models_main
from realtime_models.onnx_runtime_session import ModelFileError
from realtime_models.stream_diffusion.backend import TorchBackend, compare_backends
from realtime_models.stream_diffusion.diffusion_stream import DiffusionSettings
from realtime_models.stream_diffusion.engine_cache import EngineSpec, cached_specs, engine_path, write_spec_sidecar
from realtime_models.stream_diffusion.onnx_export import ExportManifest, file_sha256, residual_names
from realtime_models.stream_diffusion.onnxruntime_backend import OnnxRuntimeBackend
from realtime_models.stream_diffusion.stream_builder import BackendOptions, open_diffusion_stream
from realtime_models.stream_diffusion.tensorrt_backend import graph_profile

from diffusion_helpers import moving_frames, tiny_files

GRAPH_TOLERANCE = 1e-4
PICTURE_TOLERANCE_LEVELS = 2


def _cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = models_main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def exported(tiny_paths, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("onnx")
    code, stdout, stderr = _cli(
        "models", "export", "--model", str(tiny_paths.model_dir), "--tiny-vae", str(tiny_paths.tiny_vae_dir),
        "--controlnet", f"depth={tiny_paths.controlnet_dirs['depth']}",
        "--controlnet", f"pose={tiny_paths.controlnet_dirs['pose']}",
        "--out", str(out), "--min-px", "64", "--opt-px", "128", "--max-px", "256", "--verify",
    )
    assert code == 0, stderr
    return out, json.loads(stdout.strip().splitlines()[-1])


def test_export_command_writes_every_graph_and_a_manifest(exported):
    folder, summary = exported
    assert set(summary["graphs"]) == {"unet", "vae_encoder", "vae_decoder", "controlnet_0", "controlnet_1"}
    assert max(summary["max_abs_diff"].values()) <= summary["tolerance"]
    manifest = ExportManifest.read(folder)
    assert manifest.controlnet_kinds == ["depth", "pose"] and manifest.opset == 17
    assert manifest.size_multiple_px == 16 and manifest.vae_scale_factor == 8
    for info in manifest.graphs.values():
        assert info.sha256 == file_sha256(folder / info.file)
    names = residual_names(manifest.unet_layout.residual_count)
    assert manifest.graphs["unet"].inputs == ["sample", "timestep", "encoder_hidden_states", *names]
    assert manifest.graphs["controlnet_1"].outputs == names and manifest.graphs["controlnet_1"].kind == "pose"


@pytest.mark.parametrize("size", [(64, 64), (96, 64)])
def test_onnxruntime_matches_torch_for_unet_vae_and_controlnets(exported, tiny_models, size):
    folder, _ = exported
    reference = TorchBackend(tiny_models, "cpu", torch.float32)
    candidate = OnnxRuntimeBackend(folder, "cpu")
    diffs = compare_backends(reference, candidate, *size, text_width=32, batch=3)
    assert set(diffs) == {"vae_encoder", "vae_decoder", "unet", "controlnet_0", "controlnet_1"}
    assert max(diffs.values()) <= GRAPH_TOLERANCE, diffs
    # without ControlNet residuals the exported UNet is fed zeros and must match the plain UNet
    g = torch.Generator().manual_seed(3)
    sample, emb = torch.randn(2, 4, 4, 6, generator=g), torch.randn(2, 77, 32, generator=g)
    t = torch.tensor([900.0, 300.0])
    assert (reference.unet(sample, t, emb) - candidate.unet(sample, t, emb)).abs().max() <= GRAPH_TOLERANCE


def test_a_whole_stream_on_onnxruntime_matches_the_torch_stream(exported, tiny_paths):
    folder, _ = exported
    settings = DiffusionSettings(process_long_side_px=64, prompt="a castle", steps=2, controlnet_scales=(1.0, 0.0))
    frames = moving_frames(4)
    depth = np.linspace(1.0, 5.0, 64 * 64, dtype=np.float32).reshape(64, 64)
    files = tiny_files(tiny_paths)

    def run(options: BackendOptions) -> list:
        opened = open_diffusion_stream(files, options, settings)
        assert opened.stream.controlnet_kinds == ("depth", "pose")
        return [opened.stream.process(f, depth).image for f in frames]

    torch_out = run(BackendOptions(backend="torch", device="cpu"))
    ort_out = run(BackendOptions(backend="onnxruntime", device="cpu", onnx_dir=folder))
    assert torch_out[0] is None and ort_out[0] is None
    for a, b in zip(torch_out[1:], ort_out[1:]):
        assert np.abs(a.astype(int) - b.astype(int)).max() <= PICTURE_TOLERANCE_LEVELS
    with pytest.raises(ModelFileError, match="exported with"):
        open_diffusion_stream(tiny_files(tiny_paths, ("pose",)), BackendOptions(backend="onnxruntime", device="cpu",
                                                                               onnx_dir=folder))


def test_broken_export_folders_name_the_file(exported, tmp_path):
    folder, _ = exported
    with pytest.raises(ModelFileError, match="export_manifest.json"):
        OnnxRuntimeBackend(tmp_path, "cpu")
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    (broken / "vae_decoder.onnx").write_bytes(b"not an onnx graph")
    with pytest.raises(ModelFileError) as err:
        OnnxRuntimeBackend(broken, "cpu")
    assert str(broken / "vae_decoder.onnx") in str(err.value)
    (broken / "unet.onnx").unlink()
    with pytest.raises(ModelFileError, match="unet"):
        ExportManifest.read(broken)


def test_export_refuses_fp16_on_the_cpu_and_build_trt_says_what_it_needs(exported, tiny_paths, tmp_path):
    code, _, err = _cli("models", "export", "--model", str(tiny_paths.model_dir), "--out", str(tmp_path / "x"),
                        "--dtype", "fp16")
    assert code == 2 and "--device cuda" in err
    code, _, err = _cli("models", "export", "--model", str(tmp_path / "missing"), "--out", str(tmp_path / "y"))
    assert code == 2 and str(tmp_path / "missing") in err
    folder, _ = exported
    code, _, err = _cli("models", "build-trt", "--onnx-dir", str(folder), "--cache-dir", str(tmp_path / "engines"),
                        "--min-px", "64", "--opt-px", "128", "--max-px", "256")
    try:
        import tensorrt  # noqa: F401
        has_trt = torch.cuda.is_available()
    except ImportError:
        has_trt = False
    if not has_trt:
        assert code == 1 and ("tensorrt" in err.lower() or "CUDA" in err)
    code, _, err = _cli("models", "build-trt", "--onnx-dir", str(folder), "--min-px", "70")
    assert code == 2 and "multiple of 16" in err


def test_engine_cache_key_covers_model_ranges_batch_precision_version_and_gpu(tmp_path):
    spec = EngineSpec("unet", "ab" * 32, 384, 512, 1024, 1, 2, 4, "fp16", "10.3.0", "NVIDIA H100 80GB HBM3")
    keys = {spec.key()}
    for change in ({"model_sha256": "cd" * 32}, {"min_px": 256}, {"max_px": 768}, {"opt_px": 640},
                   {"max_batch": 8}, {"precision": "fp32"}, {"tensorrt_version": "10.4.0"},
                   {"gpu_name": "NVIDIA GeForce RTX 4090"}, {"graph": "controlnet_0"}):
        keys.add(replace(spec, **change).key())
    assert len(keys) == 10
    assert spec.key() == replace(spec).key()  # stable
    assert "/" not in spec.key() and " " not in spec.key()
    path = engine_path(tmp_path, spec)
    path.write_bytes(b"engine")
    write_spec_sidecar(path, spec)
    assert cached_specs(tmp_path) == [spec]
    with pytest.raises(ValueError):
        replace(spec, precision="int3")
    with pytest.raises(ValueError):
        replace(spec, min_px=2048)


def test_tensorrt_profiles_cover_the_resolution_and_batch_range(exported):
    folder, _ = exported
    manifest = ExportManifest.read(folder)
    unet = graph_profile(manifest, "unet", 64, 128, 256, 1, 2, 4)
    assert unet["sample"] == ((1, 4, 8, 8), (2, 4, 16, 16), (4, 4, 32, 32))
    assert unet["encoder_hidden_states"][2] == (4, 77, 32)
    assert unet["mid_residual"][0] == (1, 32, 4, 4)
    vae = graph_profile(manifest, "vae_encoder", 64, 128, 256, 1, 2, 4)
    assert vae["images"] == ((1, 3, 64, 64), (1, 3, 128, 128), (1, 3, 256, 256))
    cn = graph_profile(manifest, "controlnet_0", 64, 128, 256, 1, 2, 4)
    assert cn["controlnet_cond"][2] == (4, 3, 256, 256) and cn["conditioning_scale"] == ((1,), (1,), (1,))
