"""StreamDiffusion mechanics on the tiny models: lag and warm-up, determinism, CFG batch sizes, filter, resizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from realtime_models.stream_diffusion.backend import TorchBackend
from realtime_models.stream_diffusion.diffusion_stream import DiffusionSettings
from realtime_models.stream_diffusion.prompt_travel import PromptEncoder
from realtime_models.stream_diffusion.schedule import LcmSchedule
from realtime_models.stream_diffusion.stream_diffusion import CFG_TYPES, StreamConfig, StreamDiffusion

from diffusion_helpers import make_stream, moving_frames


def _core(models, steps: int = 3, cfg: str = "self", guidance: float = 1.5, seed: int = 7):
    backend = TorchBackend(models, "cpu", torch.float32)
    prompts = PromptEncoder(models.tokenizer, models.text_encoder)
    stream = StreamDiffusion(backend, LcmSchedule(models.scheduler_config))
    t_index = tuple(range(10, 10 + 10 * steps, 10))
    stream.prepare(StreamConfig(64, 64, t_index, guidance, cfg, seed=seed), prompts.encode("a castle"), prompts.encode(""))
    return stream, backend


def _image(seed: int) -> torch.Tensor:
    return torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize("steps", [1, 2, 3])
def test_output_lags_steps_minus_one_frames_and_warm_up_is_flagged(tiny_models, steps):
    stream, _ = _core(tiny_models, steps)
    ready = [stream(_image(i))[2] for i in range(steps + 1)]
    assert ready == [False] * (steps - 1) + [True, True]
    assert stream.warmup_frames == steps - 1


def test_the_emitted_frame_is_the_one_that_entered_steps_minus_one_calls_ago(tiny_models):
    """Two streams fed the same first frame but different later ones emit the same latent after the lag."""
    a, _ = _core(tiny_models, steps=3, cfg="none")
    b, _ = _core(tiny_models, steps=3, cfg="none")
    outs_a = [a(_image(i))[1] for i in (0, 1, 2)]
    outs_b = [b(_image(i))[1] for i in (0, 11, 12)]
    assert torch.allclose(outs_a[2], outs_b[2], atol=1e-5)  # call 2 emits frame 0's latent in both
    c, _ = _core(tiny_models, steps=3, cfg="none")
    outs_c = [c(_image(i))[1] for i in (5, 1, 2)]  # different first frame -> different emitted latent
    assert (outs_a[2] - outs_c[2]).abs().max() > 1e-3


def test_same_seed_same_output_other_seed_other_output(tiny_models):
    settings = DiffusionSettings(process_long_side_px=64, prompt="a castle", steps=2, seed=3)
    frames = moving_frames(4)
    runs = []
    for seed in (3, 3, 4):
        stream, _ = make_stream(tiny_models, DiffusionSettings(**{**settings.__dict__, "seed": seed}), controlnets=False)
        runs.append([stream.process(f).image for f in frames])
    assert all(np.array_equal(x, y) for x, y in zip(runs[0][1:], runs[1][1:]))
    assert runs[0][0] is None and runs[1][0] is None  # warm-up frame is never an image
    assert any(np.abs(x.astype(int) - y.astype(int)).mean() > 0.5 for x, y in zip(runs[0][1:], runs[2][1:]))


@pytest.mark.parametrize("cfg", CFG_TYPES)
def test_cfg_modes_run_the_unet_at_the_right_batch_size(tiny_models, cfg):
    stream, backend = _core(tiny_models, steps=3, cfg=cfg, guidance=2.0)
    seen: list[int] = []
    hook = backend.unet_module.register_forward_pre_hook(lambda _m, args, kw: seen.append(int(args[0].shape[0])),
                                                        with_kwargs=True)
    try:
        for i in range(3):
            stream(_image(i))
    finally:
        hook.remove()
    expected = {"none": 3, "self": 3, "initialize": 4, "full": 6}[cfg]
    assert seen == [expected] * 3
    assert stream.config.unet_batch_size == expected


def test_guidance_at_one_never_pays_for_a_negative_pass(tiny_models):
    stream, backend = _core(tiny_models, steps=2, cfg="full", guidance=1.0)
    seen: list[int] = []
    hook = backend.unet_module.register_forward_pre_hook(lambda _m, args, kw: seen.append(int(args[0].shape[0])),
                                                        with_kwargs=True)
    try:
        stream(_image(0))
    finally:
        hook.remove()
    assert seen == [2]


def test_cfg_changes_the_picture_and_full_cfg_follows_the_guidance_formula(tiny_models):
    none, _ = _core(tiny_models, steps=1, cfg="none", guidance=3.0)
    full, _ = _core(tiny_models, steps=1, cfg="full", guidance=3.0)
    x = _image(1)
    out_none, out_full = none(x)[1], full(x)[1]
    assert (out_none - out_full).abs().max() > 1e-3
    # by hand: eps = u + g (c - u) from two UNet passes, then the LCM step
    s = full._state
    x0 = full.encode(x)
    x_t = s.alpha[:1] * x0 + s.beta[:1] * s.init_noise[:1]
    with torch.no_grad():
        eps = full.backend.unet(torch.cat([x_t, x_t]), torch.cat([s.timesteps, s.timesteps]), s.embeds)
    e_u, e_c = eps.chunk(2)
    e = e_u + 3.0 * (e_c - e_u)
    expected = s.c_out * ((x_t - s.beta * e) / s.alpha) + s.c_skip * x_t
    full2, _ = _core(tiny_models, steps=1, cfg="full", guidance=3.0)
    assert torch.allclose(full2(x)[1], expected, atol=1e-5)


def test_the_per_frame_math_never_reads_a_tensor_back_to_the_host(tiny_models, monkeypatch):
    """No .item()/.tolist()/bool(tensor)/.cpu()/.numpy() between the network calls of a frame."""
    stream, backend = _core(tiny_models, steps=2, cfg="initialize", guidance=1.5)
    stream(_image(0))  # first call may allocate
    calls: list[str] = []
    inside_network = {"depth": 0}

    def guard(name):
        original = getattr(torch.Tensor, name)

        def wrapper(self, *a, **k):
            if inside_network["depth"] == 0:
                calls.append(name)
            return original(self, *a, **k)
        return wrapper

    for name in ("item", "tolist", "__bool__", "cpu", "numpy"):
        monkeypatch.setattr(torch.Tensor, name, guard(name))
    for method in ("unet", "encode", "decode", "controlnet"):
        original = getattr(backend, method)

        def networked(*a, _original=original, **k):
            inside_network["depth"] += 1
            try:
                return _original(*a, **k)
            finally:
                inside_network["depth"] -= 1
        monkeypatch.setattr(backend, method, networked)
    for i in range(1, 4):
        stream(_image(i))
    assert calls == []


def test_similarity_filter_skips_identical_frames_up_to_the_cap_and_never_changing_ones(tiny_models):
    settings = DiffusionSettings(process_long_side_px=64, prompt="a castle", steps=1, similarity_filter=True,
                                 similarity_threshold=0.95, max_skip_frames=3)
    stream, backend = make_stream(tiny_models, settings, controlnets=False)
    frame = moving_frames(1)[0]
    results = [stream.process(frame) for _ in range(10)]
    skipped = [r.skipped for r in results]
    assert skipped == [False, True, True, True, False, True, True, True, False, True]
    assert all(np.array_equal(r.image, results[0].image) for r in results if r.skipped)
    backend.times.reset()
    changing = moving_frames(8, speed_px=6.0, seed=3)
    assert not any(stream.process(f).skipped for f in changing)
    assert backend.times.calls["unet"] == 8


def test_resolution_changes_mid_stream_restart_the_batch_at_the_new_size(tiny_models):
    stream, _ = make_stream(tiny_models, DiffusionSettings(process_long_side_px=64, prompt="a castle", steps=2),
                            controlnets=False)
    wide = moving_frames(3, width=96, height=64)
    square = moving_frames(3, width=64, height=64)
    out = [stream.process(f) for f in square]
    assert out[0].warming_up and out[1].image.shape == (64, 64, 3)
    out = [stream.process(f) for f in wide]
    assert out[0].warming_up, "a new size must warm up again, not mix latents of two sizes"
    assert out[1].image.shape == (64, 96, 3) and out[1].process_size_px == (64, 48)
    stream.update(process_long_side_px=96)
    r = [stream.process(f) for f in wide]
    assert r[0].warming_up and r[1].process_size_px == (96, 64) and r[1].image.shape == (64, 96, 3)


def test_strength_maps_to_the_schedule_and_changes_how_much_of_the_input_survives(tiny_models):
    frame = moving_frames(1)[0]
    diffs = []
    for strength in (0.1, 0.9):
        stream, _ = make_stream(tiny_models, DiffusionSettings(process_long_side_px=64, prompt="a castle", steps=1,
                                                                strength=strength), controlnets=False)
        image = stream.process(frame).image
        assert stream.stream.config.t_index_list == ((44,) if strength == 0.1 else (5,))
        diffs.append(np.abs(image.astype(int) - frame.astype(int)).mean())
    assert diffs[0] != diffs[1]


def test_bad_settings_are_refused_with_the_setting_named_and_the_old_ones_kept(tiny_models):
    stream, _ = make_stream(tiny_models, controlnets=False)
    before = stream.settings
    for bad, word in (({"cfg_type": "bogus"}, "cfg_type"), ({"strength": 0.0}, "strength"),
                      ({"prompt_schedule": "oops no keyframe"}, "prompt_schedule"),
                      ({"controlnet_scales": (1.0,)}, "ControlNet"), ({"t_index_list": (30, 10)}, "t_index_list"),
                      ({"depth_near_m": 1.0}, "depth_far_m")):
        with pytest.raises(ValueError, match=word):
            stream.update(**bad)
        assert stream.settings == before
    with pytest.raises(ValueError, match="uint8"):
        stream.process(np.zeros((64, 64, 3), np.float32))
