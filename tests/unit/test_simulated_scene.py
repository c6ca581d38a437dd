from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from bridge import simulated_scene as ss
from bridge.simulated_scene import FAR_M, NEAR_M, SceneFrame, SceneSettings, SimulatedScene, to_bgra, to_rgb


@pytest.fixture(scope="module")
def scene() -> SimulatedScene:
    return SimulatedScene(SceneSettings(width=640, height=360, seed=0))


@pytest.fixture(scope="module")
def frame(scene: SimulatedScene) -> SceneFrame:
    return scene.render(1.25)


def test_shapes_and_dtypes(frame: SceneFrame) -> None:
    assert frame.color_rgba.shape == (360, 640, 4) and frame.color_rgba.dtype == np.uint8
    assert frame.depth_m.shape == (360, 640) and frame.depth_m.dtype == np.float32
    assert frame.actor_mask.shape == (360, 640) and frame.actor_mask.dtype == np.uint8
    assert np.all(frame.color_rgba[..., 3] == 255)
    assert np.isfinite(frame.depth_m).all()
    assert frame.depth_m.min() >= NEAR_M and frame.depth_m.max() <= FAR_M
    assert frame.depth_m.max() == pytest.approx(FAR_M)  # open sky
    cam = frame.camera
    assert len(cam.world_from_camera) == 16 and len(cam.intrinsics_px) == 4
    assert (cam.near_m, cam.far_m) == (NEAR_M, FAR_M)
    assert set(np.unique(frame.actor_mask)) >= {0, 255}


def test_non_default_size_and_settings_validation() -> None:
    f = SimulatedScene(SceneSettings(width=320, height=240, seed=3)).render(0.0)
    assert f.color_rgba.shape == (240, 320, 4) and f.depth_m.shape == (240, 320)
    with pytest.raises(ValueError, match="width"):
        SceneSettings(width=8)
    with pytest.raises(ValueError, match="seed"):
        SceneSettings(seed=-1)
    with pytest.raises(ValueError, match="finite"):
        SimulatedScene(SceneSettings(width=64, height=36)).render(float("nan"))


def test_deterministic_for_seed_and_time(frame: SceneFrame) -> None:
    again = SimulatedScene(SceneSettings(seed=0)).render(1.25)
    np.testing.assert_array_equal(frame.color_rgba, again.color_rgba)
    np.testing.assert_array_equal(frame.depth_m, again.depth_m)
    np.testing.assert_array_equal(frame.actor_mask, again.actor_mask)
    other_seed = SimulatedScene(SceneSettings(seed=1)).render(1.25)
    assert np.abs(other_seed.color_rgba.astype(int) - frame.color_rgba).mean() > 1.0


def test_actor_matte_is_repeatable() -> None:
    first = ss._actor_matte_src().copy()
    ss._actor_matte_src.cache_clear()
    cv2.setRNGSeed(12345)  # disturb OpenCV's RNG: the matte must not depend on it
    cv2.randu(np.zeros((8, 8), np.uint8), 0, 255)
    np.testing.assert_array_equal(first, ss._actor_matte_src())


def test_animated(scene: SimulatedScene) -> None:
    a, b, c = (scene.render(t) for t in (0.0, 0.5, 3.0))
    assert np.abs(a.color_rgba.astype(int) - b.color_rgba).mean() > 0.5
    assert np.abs(a.depth_m - c.depth_m).max() > 0.5  # props moved in depth too
    assert not np.array_equal(a.actor_mask, c.actor_mask)  # the actor sways


def test_actor_mask_fraction_and_depth_order(scene: SimulatedScene, frame: SceneFrame) -> None:
    solid = frame.actor_mask == 255
    fraction = (frame.actor_mask > 0).mean()
    assert 0.05 < fraction < 0.35, fraction
    assert solid.mean() > 0.8 * fraction  # soft edge, solid interior
    # Actor is nearer than whatever of the set it covers, and its depth is about the billboard's.
    behind = scene.background_depth_m[solid]
    assert np.all(frame.depth_m[solid] < behind)
    assert np.median(frame.depth_m[solid]) == pytest.approx(ss.ACTOR_DEPTH_M, abs=0.15)
    # Outside the actor nothing is as near as the actor.
    assert frame.depth_m[frame.actor_mask == 0].min() > ss.ACTOR_DEPTH_M


def test_actor_pixels_come_from_the_astronaut_photo(scene: SimulatedScene) -> None:
    t = 2.14  # roll is ~0 here, so a plain template match applies
    assert abs(scene.actor_pose(t)[2]) < 0.1
    f = scene.render(t)
    rgb = f.to_rgb()
    rows, cols = np.nonzero(f.actor_mask == 255)
    top = rows.min()
    head_cols = cols[rows < top + 40]
    # The face centre sits ~88 photo pixels below the top of the hair.
    cy, cx = top + int(88 * scene.actor_scale), int(np.median(head_cols))
    size = 32
    patch = rgb[cy - size // 2 : cy + size // 2, cx - size // 2 : cx + size // 2]
    assert np.all(f.actor_mask[cy - size // 2 : cy + size // 2, cx - size // 2 : cx + size // 2] == 255)
    astro = ss._astronaut_rgb()
    scaled = cv2.resize(astro, None, fx=scene.actor_scale, fy=scene.actor_scale, interpolation=cv2.INTER_AREA)
    score = cv2.matchTemplate(scaled, patch, cv2.TM_CCOEFF_NORMED)
    _, best, _, (bx, by) = cv2.minMaxLoc(score)
    assert best > 0.9, best
    src_x, src_y = (bx + size / 2) / scene.actor_scale, (by + size / 2) / scene.actor_scale
    assert 150 < src_x < 300 and 20 < src_y < 200, (src_x, src_y)  # the face of the photo
    # Same spot in the set without the actor looks different.
    bg_patch = scene.background_rgb[cy - size // 2 : cy + size // 2, cx - size // 2 : cx + size // 2]
    assert np.abs(bg_patch.astype(int) - patch).mean() > 20


def test_floor_depth_grows_towards_the_horizon(scene: SimulatedScene, frame: SceneFrame) -> None:
    h0 = scene.horizon_row_px
    assert 0.1 * 360 < h0 < 0.6 * 360
    rows = np.arange(h0 + 2, 360)
    bg = scene.background_depth_m
    # Floor eye depth is constant along a row (no roll) and shrinks towards the bottom of the frame.
    assert np.all(np.diff(bg[rows, 600]) < 0)
    assert bg[h0 + 2, 600] > 30 and bg[359, 600] < 5
    # In the rendered frame the farthest thing on each floor row is still the floor.
    row_max = frame.depth_m[rows].max(axis=1)
    assert np.all(np.diff(row_max) <= 1e-4)


def test_camera_matches_depth(scene: SimulatedScene, frame: SceneFrame) -> None:
    fx, fy, cx, cy = frame.camera.intrinsics_px
    pose = np.array(frame.camera.world_from_camera).reshape(4, 4)
    assert np.allclose(pose[3], [0, 0, 0, 1])
    assert np.allclose(pose[:3, :3] @ pose[:3, :3].T, np.eye(3), atol=1e-9)
    assert np.linalg.det(pose[:3, :3]) == pytest.approx(1.0)
    # Unproject floor pixels: they must land on the world floor plane z = 0.
    v, u = np.mgrid[scene.horizon_row_px + 5 : 360 : 7, 0:640:11]
    z = scene.background_depth_m[v, u]
    cam = np.stack([(u - cx) / fx * z, (v - cy) / fy * z, z, np.ones_like(z)], axis=-1)
    world = cam @ pose.T
    assert np.abs(world[..., 2]).max() < 1e-3 * z.max()
    # Every rendered surface point of the frame is on or above the floor.
    v, u = np.mgrid[0:360:3, 0:640:3]
    z = frame.depth_m[v, u].astype(np.float64)
    cam = np.stack([(u - cx) / fx * z, (v - cy) / fy * z, z, np.ones_like(z)], axis=-1)
    assert (cam @ pose.T)[..., 2].min() > -0.01


def test_props_occlude_by_depth(scene: SimulatedScene) -> None:
    # Over a few seconds the props cover floor pixels with nearer, shaded surfaces.
    for t in (0.0, 1.0, 2.0, 4.0):
        f = scene.render(t)
        nearer = (f.depth_m < scene.background_depth_m - 0.05) & (f.actor_mask == 0)
        assert nearer.mean() > 0.01
        changed = np.abs(f.to_rgb().astype(int) - scene.background_rgb).sum(axis=2) > 30
        assert changed[nearer].mean() > 0.5


def test_helpers_convert_channels(frame: SceneFrame) -> None:
    rgb, bgra = to_rgb(frame.color_rgba), to_bgra(frame.color_rgba)
    assert rgb.shape == (360, 640, 3) and bgra.shape == (360, 640, 4)
    np.testing.assert_array_equal(rgb, frame.color_rgba[..., :3])
    np.testing.assert_array_equal(bgra[..., 0], frame.color_rgba[..., 2])
    np.testing.assert_array_equal(frame.to_rgb(), rgb)
    with pytest.raises(ValueError, match="RGBA"):
        to_rgb(rgb)


@pytest.mark.parametrize("size", [(640, 360)])
def test_render_time(size: tuple[int, int], record_property) -> None:
    scene = SimulatedScene(SceneSettings(width=size[0], height=size[1]))
    scene.render(0.0)
    times_ms = []
    for i in range(30):
        t0 = time.perf_counter()
        scene.render(i / 30.0)
        times_ms.append((time.perf_counter() - t0) * 1e3)
    median_ms = float(np.median(times_ms))
    record_property(f"render_ms_{size[0]}x{size[1]}", round(median_ms, 2))
    print(f"\nSimulatedScene.render {size[0]}x{size[1]}: median {median_ms:.2f} ms, max {max(times_ms):.2f} ms")
    assert median_ms < 50.0
