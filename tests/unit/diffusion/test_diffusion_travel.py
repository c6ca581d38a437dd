"""Prompt travel, seed travel, keyframe schedules, the feedback transform and temporal steadiness."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from realtime_models.stream_diffusion.diffusion_stream import DiffusionSettings
from realtime_models.stream_diffusion.feedback_transform import FeedbackMotion, FeedbackTransform, affine_theta
from realtime_models.stream_diffusion.keyframe_schedule import KeyframeSchedule, ScheduleError
from realtime_models.stream_diffusion.prompt_travel import (
    PromptEncoder,
    SeedNoiseCache,
    blend_embeddings,
    parse_weighted_prompts,
    seed_noise,
    slerp,
)
from realtime_models.stream_diffusion.temporal_steadiness import TemporalSteadiness

from diffusion_helpers import make_stream, moving_frames


# ---------------------------------------------------------------------------- slerp and prompts
def test_slerp_hits_both_ends_keeps_the_norm_and_is_not_a_straight_mix():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(1, 77, 32, generator=g), torch.randn(1, 77, 32, generator=g) * 2
    assert torch.allclose(slerp(a, b, 0.0), a, atol=1e-5) and torch.allclose(slerp(a, b, 1.0), b, atol=1e-5)
    mid = slerp(a, b, 0.5)
    lerp = 0.5 * (a + b)
    assert mid.norm() > lerp.norm()  # the straight mix shrinks, slerp does not
    na, nb = seed_noise(1, (2, 4, 8, 8)), seed_noise(2, (2, 4, 8, 8))
    assert abs(float(slerp(na, nb, 0.5).std()) - 1.0) < 0.1  # noise stays unit-variance
    assert torch.allclose(slerp(a, a, 0.3), a, atol=1e-5)  # parallel: falls back to lerp, no NaN


def test_weighted_prompt_lists_parse_and_blend():
    parts = parse_weighted_prompts("a castle :: 0.7 | fog::0.3 | plain")
    assert [(p.text, p.weight) for p in parts] == [("a castle", 0.7), ("fog", 0.3), ("plain", 1.0)]
    with pytest.raises(ValueError, match="add up to 0"):
        parse_weighted_prompts("a :: 0 | b :: 0")
    g = torch.Generator().manual_seed(1)
    e = [torch.randn(1, 4, 8, generator=g) for _ in range(3)]
    assert torch.allclose(blend_embeddings(e[:2], [1.0, 0.0]), e[0], atol=1e-5)
    three = blend_embeddings(e, [1, 1, 1])
    assert three.shape == e[0].shape and torch.isfinite(three).all()


def test_prompt_encoder_caches_and_different_prompts_differ(tiny_models):
    enc = PromptEncoder(tiny_models.tokenizer, tiny_models.text_encoder)
    a1, a2, b = enc.encode("a castle"), enc.encode("a castle"), enc.encode("the forest")
    assert a1 is a2 and a1.shape == (1, 77, 32)
    assert (a1 - b).abs().max() > 1e-3
    blended = enc.encode_weighted("a castle :: 1 | the forest :: 1")
    assert torch.allclose(blended, slerp(a1, b, 0.5), atol=1e-5)


def test_switching_prompt_changes_the_output_and_switching_back_restores_it(tiny_models):
    stream, _ = make_stream(tiny_models, DiffusionSettings(process_long_side_px=64, prompt="a castle", steps=1,
                                                           cfg_type="none"), controlnets=False)
    frame = moving_frames(1)[0]
    castle = stream.process(frame).image
    stream.update(prompt="the forest")
    forest = stream.process(frame).image
    stream.update(prompt="a castle")
    again = stream.process(frame).image
    assert np.abs(castle.astype(int) - forest.astype(int)).max() > 0
    assert np.array_equal(castle, again)


# ---------------------------------------------------------------------------- schedules
def test_schedules_parse_the_deforum_forms_and_interpolate():
    s = KeyframeSchedule.parse("0: a castle at dusk, foggy, 48: a forest", "prompt")
    assert s.values == ["a castle at dusk, foggy", "a forest"]
    seg = s.segment(12)
    assert (seg.a, seg.b, seg.t) == ("a castle at dusk, foggy", "a forest", 0.25)
    assert s.segment(100).a == s.segment(100).b == "a forest"
    n = KeyframeSchedule.parse("0:(1.0), 30:(1.06), 60: 1.0", "number")
    assert n.number_at(15) == pytest.approx(1.03) and n.number_at(45) == pytest.approx(1.03)
    assert n.number_at(-5) == 1.0 and n.number_at(1000) == 1.0
    j = KeyframeSchedule.parse('{"0": "a castle", "24": "a forest"}', "prompt")
    assert j.segment(6).t == 0.25
    seeds = KeyframeSchedule.parse("0: 1, 10: 5", "int")
    assert seeds.values == [1, 5]
    for bad, word in (("castle", "must start"), ("0: 1, 0: 2", "increase"), ("0: x", "not a number"),
                      ("0: 1.5", "whole number"), ("{bad json", "JSON")):
        with pytest.raises(ScheduleError, match=word):
            KeyframeSchedule.parse(bad, "int" if bad == "0: 1.5" else "number")


def test_prompt_schedule_travels_by_frame_with_slerped_embeddings(tiny_models):
    settings = DiffusionSettings(process_long_side_px=64, steps=1, cfg_type="none",
                                 prompt_schedule="0: a castle, 4: the forest")
    stream, _ = make_stream(tiny_models, settings, controlnets=False)
    enc = stream.prompts
    a, b = enc.encode("a castle"), enc.encode("the forest")
    frame = moving_frames(1)[0]
    positions = []
    for i in range(6):
        result = stream.process(frame)
        positions.append(result.position)
        cond = stream.stream._state.cond
        expected = a if i == 0 else (b if i >= 4 else slerp(a, b, i / 4))
        assert torch.allclose(cond, expected, atol=1e-5), f"frame {i}"
    assert positions == [0, 1, 2, 3, 4, 5]


def test_seed_schedule_slerps_the_noise_and_strength_schedule_moves_t_index(tiny_models):
    settings = DiffusionSettings(process_long_side_px=64, steps=1, cfg_type="none", prompt="a castle",
                                 seed_schedule="0: 1, 2: 2", strength_schedule="0: 0.2, 2: 0.8",
                                 schedule_clock="seconds")
    stream, _ = make_stream(tiny_models, settings, controlnets=False)
    frame = moving_frames(1)[0]
    shape = (1, 4, 8, 8)
    stream.process(frame, t_s=100.0)
    assert torch.allclose(stream.stream._state.init_noise, seed_noise(1, shape))
    low = stream.stream.config.t_index_list
    stream.process(frame, t_s=101.0)  # one second in: halfway between the keyframes
    assert torch.allclose(stream.stream._state.init_noise, slerp(seed_noise(1, shape), seed_noise(2, shape), 0.5), atol=1e-5)
    mid = stream.stream.config.t_index_list
    stream.process(frame, t_s=103.0)
    assert torch.allclose(stream.stream._state.init_noise, seed_noise(2, shape))
    assert low[0] > mid[0] > stream.stream.config.t_index_list[0]  # higher strength starts earlier (noisier)
    cache = SeedNoiseCache("cpu", torch.float32)
    assert cache.get(3, shape) is cache.get(3, shape)


# ---------------------------------------------------------------------------- feedback
def test_feedback_transform_translates_zooms_and_rotates_as_named():
    image = torch.zeros(1, 1, 32, 48)
    image[..., 10:14, 20:24] = 1.0
    ft = FeedbackTransform()
    moved = ft.warp(image, FeedbackMotion(translate_x_px=5, translate_y_px=3))
    ys, xs = torch.nonzero(moved[0, 0] > 0.5, as_tuple=True)
    assert xs.min() == 25 and ys.min() == 13
    assert ft.warp(image, FeedbackMotion()) is image
    dot = torch.zeros(1, 1, 33, 33)
    dot[..., 16, 26] = 1.0  # right of centre
    turned = FeedbackTransform().warp(dot, FeedbackMotion(angle_deg=90))
    y, x = np.unravel_index(int(turned[0, 0].argmax()), (33, 33))
    assert (y, x) == (6, 16)  # counter-clockwise on screen: right -> up
    near = torch.zeros(1, 1, 33, 33)
    near[..., 16, 20] = 1.0  # 4 px right of centre
    zoomed = FeedbackTransform().warp(near, FeedbackMotion(zoom=2.0))
    y, x = np.unravel_index(int(zoomed[0, 0].argmax()), (33, 33))
    assert abs(int(y) - 16) <= 1 and abs(int(x) - 24) <= 1  # zoom 2 about the centre: 4 px out -> 8 px out
    assert affine_theta(FeedbackMotion(), 64, 32) == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]


def test_feedback_feeds_the_previous_output_back_as_input(tiny_models):
    base = DiffusionSettings(process_long_side_px=64, steps=1, cfg_type="none", prompt="a castle")
    frames = moving_frames(4)
    plain, _ = make_stream(tiny_models, base, controlnets=False)
    fed, _ = make_stream(tiny_models, DiffusionSettings(**{**base.__dict__, "feedback": 0.7,
                                                           "zoom_schedule": "0: 1.05"}), controlnets=False)
    out_plain = [plain.process(f).image for f in frames]
    out_fed = [fed.process(f).image for f in frames]
    assert np.array_equal(out_plain[0], out_fed[0])  # nothing to feed back on the first frame
    assert np.abs(out_plain[2].astype(int) - out_fed[2].astype(int)).mean() > 0.5


# ---------------------------------------------------------------------------- steadiness
def test_steadiness_leans_on_the_previous_output_where_still_and_follows_motion():
    steady = TemporalSteadiness(strength=1.0, motion_sensitivity=10.0, noise_damping=0.8)
    first = torch.zeros(1, 4, 8, 8)
    steady.apply(first)
    previous_output = torch.full((1, 4, 8, 8), 2.0)
    steady.remember_output(previous_output)
    moved = first.clone()
    moved[..., :, 6:] = 1.0  # the right edge changed a lot, the rest is still
    start, noise_scale = steady.apply(moved)
    assert torch.allclose(start[..., :, :3], previous_output[..., :, :3])  # still: previous look kept
    assert torch.allclose(start[..., :, 7:], moved[..., :, 7:])  # moving: follows the input
    assert torch.allclose(noise_scale[..., :, :3], torch.full_like(noise_scale[..., :, :3], 0.2))
    assert torch.allclose(noise_scale[..., :, 7:], torch.ones_like(noise_scale[..., :, 7:]))
    off = TemporalSteadiness(strength=0.0)
    off.apply(first)
    assert off.apply(moved) == (moved, None)


def test_steadiness_runs_inside_the_stream_and_changes_the_result(tiny_models):
    frames = moving_frames(5, speed_px=0.5)
    base = DiffusionSettings(process_long_side_px=64, steps=2, prompt="a castle")
    plain, _ = make_stream(tiny_models, base, controlnets=False)
    steady, _ = make_stream(tiny_models, DiffusionSettings(**{**base.__dict__, "steadiness": 0.5,
                                                              "motion_noise_damping": 0.5}), controlnets=False)
    a = [plain.process(f).image for f in frames]
    b = [steady.process(f).image for f in frames]
    assert np.array_equal(a[1], b[1])  # first shown frame: nothing to lean on yet
    assert np.abs(a[-1].astype(int) - b[-1].astype(int)).mean() > 0.1
