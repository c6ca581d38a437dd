"""ControlNet conditioning from the engine's depth plane and a 2D skeleton; several ControlNets with scales."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from realtime_models.stream_diffusion.control_conditioning import (
    OPENPOSE_COLORS_RGB,
    OPENPOSE_KEYPOINT_COUNT,
    depth_to_control_image,
    render_openpose,
)
from realtime_models.stream_diffusion.diffusion_stream import DiffusionSettings

from diffusion_helpers import make_stream, moving_frames


def _skeleton() -> list[float]:
    points = np.zeros((OPENPOSE_KEYPOINT_COUNT, 3), np.float32)
    points[:, 2] = 1.0
    layout = {0: (0.5, 0.15), 1: (0.5, 0.3), 2: (0.35, 0.3), 3: (0.3, 0.45), 4: (0.28, 0.6), 5: (0.65, 0.3),
              6: (0.7, 0.45), 7: (0.72, 0.6), 8: (0.42, 0.6), 9: (0.42, 0.75), 10: (0.42, 0.9), 11: (0.58, 0.6),
              12: (0.58, 0.75), 13: (0.58, 0.9), 14: (0.47, 0.12), 15: (0.53, 0.12), 16: (0.44, 0.13), 17: (0.56, 0.13)}
    for i, (x, y) in layout.items():
        points[i, :2] = (x, y)
    return points.reshape(-1).tolist()


def test_depth_becomes_near_white_far_black_and_no_surface_black():
    depth = torch.tensor([[1.0, 2.0], [4.0, float("inf")]])
    image = depth_to_control_image(depth, 2, 2)
    assert image.shape == (1, 3, 2, 2) and torch.equal(image[0, 0], image[0, 2])
    # disparity 1, 0.5, 0.25 normalised between nearest (1 m) and farthest (4 m) surface
    assert torch.allclose(image[0, 0], torch.tensor([[1.0, 1 / 3], [0.0, 0.0]]), atol=1e-6)
    bad = torch.tensor([[float("nan"), -1.0], [0.0, 2.0]])
    assert torch.isfinite(depth_to_control_image(bad, 2, 2)).all()
    fixed = depth_to_control_image(torch.tensor([[0.5, 10.0]]), 1, 2, near_m=0.5, far_m=10.0)
    assert torch.allclose(fixed[0, 0], torch.tensor([[1.0, 0.0]]), atol=1e-6)
    ramp = depth_to_control_image(torch.linspace(1.0, 10.0, 128 * 128).reshape(128, 128), 128, 128)
    assert float(ramp.max()) == 1.0 and float(ramp.min()) == 0.0  # range from the 1-in-4 grid still spans it
    resized = depth_to_control_image(torch.full((48, 64), 3.0, dtype=torch.float16), 24, 32)
    assert resized.shape == (1, 3, 24, 32) and resized.dtype == torch.float32
    with pytest.raises(ValueError, match="near_m < far_m"):
        depth_to_control_image(depth, 2, 2, near_m=5.0, far_m=1.0)


def test_openpose_rendering_draws_coloured_limbs_and_leaves_out_invisible_points():
    keypoints = _skeleton()
    picture = render_openpose(keypoints, 128, 128)
    assert picture.shape == (128, 128, 3) and picture.dtype == np.uint8
    # the neck -> right shoulder limb is OpenPose colour 0 (red) at 60 % over black
    mid = (int(round((0.5 + 0.35) / 2 * 128)), int(round(0.3 * 128)))
    assert np.abs(picture[mid[1], mid[0]].astype(int) - np.array(OPENPOSE_COLORS_RGB[0]) * 0.6).max() <= 2
    assert picture[120, 5].max() == 0  # background stays black
    hidden = np.asarray(keypoints).reshape(-1, 3)
    hidden[4, 2] = 0.0  # right wrist not visible: its limb disappears
    without = render_openpose(hidden.reshape(-1), 128, 128)
    wrist = (int(0.28 * 128), int(0.6 * 128))
    assert picture[wrist[1], wrist[0]].max() > 0 and without[wrist[1], wrist[0]].max() == 0
    with pytest.raises(ValueError, match="54 numbers"):
        render_openpose([0.5] * 10, 64, 64)


def test_depth_and_pose_controlnets_run_with_their_own_scales(tiny_models):
    base = DiffusionSettings(process_long_side_px=64, steps=1, cfg_type="none", prompt="a castle")
    frame = moving_frames(1)[0]
    depth = np.linspace(1.0, 8.0, 64 * 64, dtype=np.float32).reshape(64, 64)

    def run(scales: tuple[float, ...], with_depth: bool = True, with_pose: bool = True):
        stream, backend = make_stream(tiny_models, DiffusionSettings(**{**base.__dict__, "controlnet_scales": scales}))
        out = stream.process(frame, depth if with_depth else None, _skeleton() if with_pose else None).image
        return out, backend.times.calls["controlnet"]

    plain, _ = make_stream(tiny_models, base, controlnets=False)
    no_control = plain.process(frame).image
    both, calls_both = run((1.0, 1.0))
    depth_only, calls_depth = run((1.0, 0.0))
    zero, calls_zero = run((0.0, 0.0))
    assert (calls_both, calls_depth, calls_zero) == (1 * 2, 1, 0)  # one call per active net per frame
    assert np.array_equal(zero, no_control)  # scale 0: the net is not even run
    assert np.abs(both.astype(int) - depth_only.astype(int)).max() > 0
    assert np.abs(depth_only.astype(int) - no_control.astype(int)).max() > 0
    strong, _ = run((2.0, 0.0))
    assert np.abs(strong.astype(int) - depth_only.astype(int)).max() > 0
    missing, calls_missing = run((1.0, 1.0), with_depth=False, with_pose=False)
    assert calls_missing == 0 and np.array_equal(missing, no_control)  # nothing to condition on: nets skipped


def test_depth_plane_size_must_match_the_frame(tiny_models):
    stream, _ = make_stream(tiny_models)
    with pytest.raises(ValueError, match="depth plane is 32x32 but the frame is 64x64"):
        stream.process(moving_frames(1)[0], np.ones((32, 32), np.float32))
