"""The built-in stages on real frames with the real models (no server)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from bridge.pipeline_config import load_builtin
from bridge.protocol.errors import ErrorCode
from bridge.stage import StageFrame, StageSetupError, StreamSpec, create_stage, rgb_to_format
from bridge.stage_params import ParamError

H, W = 96, 128


def _astronaut_rgb() -> np.ndarray:
    return cv2.resize(data.astronaut(), (W, H), interpolation=cv2.INTER_AREA)


def _spec(mask: bool = True, fmt: str = "RGBA8") -> StreamSpec:
    return StreamSpec("e", 0, "main", W, H, fmt, "F32", mask, 30.0)


def _frame(rgb: np.ndarray, index: int = 0, t_ns: int = 0, mask: np.ndarray | None = None) -> StageFrame:
    return StageFrame(index=index, t_capture_ns=t_ns, t_received_ns=0, input_color=rgb_to_format(rgb, "RGBA8"),
                      input_format="RGBA8", mask=mask)


@pytest.mark.parametrize("fmt", ["RGBA8", "BGRA8", "RGB8"])
def test_stage_frame_converts_every_wire_format_to_rgb(fmt):
    rgb = _astronaut_rgb()
    frame = StageFrame(0, 0, 0, rgb_to_format(rgb, fmt), fmt)
    assert np.array_equal(frame.rgb(), rgb)
    assert frame.original_rgb() is frame.original_rgb()  # converted once


def test_stylize_changes_the_picture_and_strength_zero_restores_it():
    stage = create_stage("stylize", params={"style": 19})
    stage.setup(_spec())
    rgb = _astronaut_rgb()
    frame = _frame(rgb)
    stage.process(frame)
    assert frame.image.shape == rgb.shape and frame.image.dtype == np.uint8
    assert np.abs(frame.image.astype(int) - rgb).mean() > 20
    stage.params.update({"strength": 0.0})
    frame = _frame(rgb)
    stage.process(frame)
    assert np.array_equal(frame.image, rgb)
    stage.close()


def test_stylize_style_alias_and_blend_are_different_looks():
    stage = create_stage("stylize")
    stage.setup(_spec())
    rgb = _astronaut_rgb()
    outs = []
    for updates in ({"style": 3}, {"style": 19}, {"style_weights": [0.5 if i in (3, 19) else 0.0 for i in range(26)]}):
        stage.params.update(stage.translate_updates(dict(updates)))
        frame = _frame(rgb)
        stage.process(frame)
        outs.append(frame.image.astype(int))
    a, b, blend = outs
    assert np.abs(a - b).mean() > 15
    assert np.abs(blend - a).mean() > 5 and np.abs(blend - b).mean() > 5
    with pytest.raises(ParamError):
        stage.translate_updates({"style": 26})
    with pytest.raises(ParamError) as info:
        stage.params.update({"style_weights": [0.0] * 26})
    assert info.value.code == ErrorCode.BAD_PARAM_VALUE


def test_stylize_arbitrary_needs_a_readable_style_image(tmp_path):
    stage = create_stage("stylize")
    with pytest.raises(ParamError, match="needs a style_image"):
        stage.translate_updates({"model": "arbitrary"})
    with pytest.raises(ParamError, match="missing.png"):
        stage.translate_updates({"style_image": str(tmp_path / "missing.png")})
    style = tmp_path / "coffee.png"
    cv2.imwrite(str(style), cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR))
    stage.setup(_spec())
    stage.params.update(stage.translate_updates({"model": "arbitrary", "style_image": str(style)}))
    rgb = _astronaut_rgb()
    frame = _frame(rgb)
    stage.process(frame)
    assert frame.image.shape == rgb.shape and np.abs(frame.image.astype(int) - rgb).mean() > 10


def test_composite_keeps_the_set_untouched_outside_the_actor_mask():
    stylize, comp = create_stage("stylize"), create_stage("composite", params={"feather_px": 0.0})
    for s in (stylize, comp):
        s.setup(_spec())
    rgb = _astronaut_rgb()
    mask = np.zeros((H, W), np.uint8)
    mask[20:70, 40:90] = 255
    frame = _frame(rgb, mask=mask)
    stylize.process(frame)
    comp.process(frame)
    out = frame.image.astype(int)
    outside = mask == 0
    assert np.array_equal(out[outside], rgb[outside])
    assert np.abs(out[~outside] - rgb[~outside]).mean() > 10
    comp.params.update({"invert": True})
    frame = _frame(rgb, mask=mask)
    stylize.process(frame)
    comp.process(frame)
    assert np.array_equal(frame.image[~outside], rgb[~outside])


def test_composite_refuses_a_stream_without_mask():
    with pytest.raises(StageSetupError, match="needs an actor mask"):
        create_stage("composite").setup(_spec(mask=False))


def test_cadence_holds_on_twos_and_by_time():
    stage = create_stage("cadence", params={"mode": "frames", "hold_frames": 2})
    stage.setup(_spec())
    held = []
    for i in range(6):
        frame = _frame(_astronaut_rgb(), index=i, t_ns=i * 33_333_333)
        stage.process(frame)
        held.append(frame.held)
    assert held == [False, True, False, True, False, True]
    stage.params.update({"mode": "fps", "target_fps": 10.0})
    updates = 0
    for i in range(90):  # 3 s at 30 fps
        frame = _frame(_astronaut_rgb(), index=i, t_ns=10**9 + i * 33_333_333)
        stage.process(frame)
        updates += not frame.held
    assert 29 <= updates <= 31


def test_film_look_ages_the_picture_and_follows_live_changes():
    stage = create_stage("film_look", params={"codec": "jpeg", "quality": 5, "grain": 0.3, "fade": 0.5})
    stage.setup(_spec())
    rgb = _astronaut_rgb()
    frame = _frame(rgb)
    stage.process(frame)
    aged = frame.image.astype(int)
    assert np.abs(aged - rgb).mean() > 5
    stage.params.update({"codec": "none", "grain": 0.0, "fade": 0.0, "quality": 100})
    frame = _frame(rgb)
    stage.process(frame)
    assert np.abs(frame.image.astype(int) - rgb).mean() < 1.0
    stage.close()


def test_every_builtin_pipeline_sets_up_and_processes_a_frame():
    rgb = _astronaut_rgb()
    mask = np.zeros((H, W), np.uint8)
    mask[10:80, 30:100] = 255
    for name in ("default", "passthrough", "aged_archive", "uncanny"):
        stages = load_builtin(name).build_stages()
        for s in stages:
            s.setup(_spec())
        frame = _frame(rgb, mask=mask)
        for s in stages:
            if not frame.held:
                s.process(frame)
        out = frame.rgb()
        assert out.shape == rgb.shape, name
        for s in stages:
            s.close()
