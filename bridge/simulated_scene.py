"""Built-in "engine" scene for ``machinima-bridge simulate`` and the demo.

A small deterministic 3D set rendered with numpy/cv2 only:

* a perspective ground plane with a box-filtered checker (no moire towards the
  horizon) and distance fog, a distant hill backdrop and a sky gradient with a
  sun glow; these are static and precomputed once per ``SimulatedScene``;
* a few moving spheres and yaw-spinning boxes, ray-cast per pixel inside their
  projected bounding boxes, shaded (hemisphere ambient + Lambert + Blinn) and
  z-tested against each other and the set, with soft blob shadows on the floor;
* an "actor": a head-and-shoulders crop of ``skimage.data.astronaut()`` on a
  camera-facing billboard with a soft silhouette alpha and a slight depth
  bulge, swaying and bobbing in front of the set.

Conventions (shared with ``bridge.protocol.CameraInfo``):

* world: right-handed, metres, x right, y forward, z up, floor is z = 0;
* camera: OpenCV pinhole, x right, y down, z forward, 60 deg horizontal field of
  view at 16:9 (narrower frames keep the 16:9 vertical view); pixel centres sit at
  integer coordinates, so ``u = fx * x / z + cx`` with ``cx = (width - 1) / 2``;
* ``depth_m`` is linear eye depth (camera-space z) in metres, clipped to
  [``NEAR_M``, ``FAR_M``]; empty sky is ``FAR_M``.

``render(t_s)`` is a pure function of the settings and ``t_s``.
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass

import cv2
import numpy as np

from bridge.protocol.messages import CameraInfo

log = logging.getLogger(__name__)

NEAR_M = 0.1
FAR_M = 100.0
HFOV_DEG = 60.0  # at 16:9 and wider; see SimulatedScene.__init__
CAMERA_HEIGHT_M = 1.5
CAMERA_PITCH_DOWN_DEG = 8.0
HILL_RANGE_M = 90.0
FOG_DISTANCE_M = 35.0
TILE_M = 1.0

# Crop of the astronaut photo (x0, y0, x1, y1 in source pixels): head and shoulders.
ACTOR_SOURCE_BOX_PX = (20, 4, 380, 404)
ACTOR_HEIGHT_M = 0.95  # world height of the cropped sprite
ACTOR_DEPTH_M = 2.2  # eye depth of the billboard plane
ACTOR_BULGE_M = 0.12  # how much nearer the middle of the head is than the plane
ACTOR_X_M = -0.45  # camera-space x of the sprite's bottom centre at rest

_SKY_ZENITH = np.array([0.22, 0.40, 0.78], np.float32)
_SKY_HORIZON = np.array([0.86, 0.84, 0.80], np.float32)
_HILL_COLOR = np.array([0.30, 0.42, 0.38], np.float32)
_FLOOR_LIGHT = np.array([0.80, 0.76, 0.68], np.float32)
_FLOOR_DARK = np.array([0.30, 0.33, 0.38], np.float32)
_PALETTE = np.array(
    [[0.90, 0.25, 0.20], [0.20, 0.55, 0.90], [0.95, 0.75, 0.20], [0.30, 0.75, 0.40], [0.70, 0.35, 0.85], [0.95, 0.50, 0.15]],
    np.float32,
)


@dataclass
class SceneSettings:
    width: int = 640
    height: int = 360
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 16 <= value <= 8192:
                raise ValueError(f"SceneSettings.{name} must be an int in [16, 8192], got {value!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"SceneSettings.seed must be a non-negative int, got {self.seed!r}")


@dataclass
class SceneFrame:
    """One rendered frame: RGBA colour, linear eye depth, actor mask and camera."""

    t_s: float
    color_rgba: np.ndarray  # uint8 HxWx4, alpha 255
    depth_m: np.ndarray  # float32 HxW, eye depth in metres
    actor_mask: np.ndarray  # uint8 HxW, 255 on the actor
    camera: CameraInfo

    def to_rgb(self) -> np.ndarray:
        return to_rgb(self.color_rgba)

    def to_bgra(self) -> np.ndarray:
        return to_bgra(self.color_rgba)


def to_rgb(color_rgba: np.ndarray) -> np.ndarray:
    """HxWx4 RGBA uint8 -> contiguous HxWx3 RGB uint8."""
    _check_rgba(color_rgba)
    return cv2.cvtColor(color_rgba, cv2.COLOR_RGBA2RGB)


def to_bgra(color_rgba: np.ndarray) -> np.ndarray:
    """HxWx4 RGBA uint8 -> contiguous HxWx4 BGRA uint8 (what most engines ship)."""
    _check_rgba(color_rgba)
    return cv2.cvtColor(color_rgba, cv2.COLOR_RGBA2BGRA)


def _check_rgba(image: np.ndarray) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 4:
        raise ValueError(f"expected an HxWx4 uint8 RGBA image, got shape {image.shape} dtype {image.dtype}")


@functools.lru_cache(maxsize=1)
def _astronaut_rgb() -> np.ndarray:
    from skimage import data  # imported lazily: skimage pulls in scipy

    image = np.ascontiguousarray(data.astronaut())
    image.setflags(write=False)
    return image


def _actor_shapes_src(h_px: int, w_px: int) -> tuple[np.ndarray, np.ndarray]:
    """Hand-placed head-and-shoulders shapes in crop coordinates: (probable silhouette, sure-foreground core)."""
    x0, y0 = ACTOR_SOURCE_BOX_PX[0], ACTOR_SOURCE_BOX_PX[1]
    probable = np.zeros((h_px, w_px), np.uint8)
    cv2.ellipse(probable, (226 - x0, 88 - y0), (77, 80), 0, 0, 360, 255, -1)  # hair and head
    cv2.ellipse(probable, (224 - x0, 150 - y0), (50, 40), 0, 0, 360, 255, -1)  # chin
    cv2.ellipse(probable, (208 - x0, 222 - y0), (100, 70), -8, 0, 360, 255, -1)  # neck ring
    torso = np.array(
        [(120, 235), (70, 262), (38, 300), (28, 345), (24, 420), (362, 420), (360, 330), (348, 290), (318, 258), (300, 235)],
        np.int32,
    ) - np.array([x0, y0], np.int32)
    cv2.fillPoly(probable, [torso], 255)
    core = cv2.erode(probable, np.ones((31, 31), np.uint8))
    core[: 240 - y0] = 0
    cv2.ellipse(core, (226 - x0, 100 - y0), (56, 70), 0, 0, 360, 255, -1)  # face
    cv2.ellipse(core, (208 - x0, 228 - y0), (84, 52), -8, 0, 360, 255, -1)  # collar
    return probable, core


@functools.lru_cache(maxsize=1)
def _actor_matte_src() -> np.ndarray:
    """Hard (0/255) matte of the person in the astronaut crop, computed once per process.

    GrabCut at half resolution seeded by the hand-placed shapes, then a key that
    removes the bright, grey studio backdrop left around the hair and neck.
    ``cv2.setRNGSeed`` makes GrabCut's k-means start, and so the matte, repeatable.
    """
    x0, y0, x1, y1 = ACTOR_SOURCE_BOX_PX
    crop = _astronaut_rgb()[y0:y1, x0:x1]
    h_px, w_px = crop.shape[:2]
    probable, core = _actor_shapes_src(h_px, w_px)
    small = cv2.resize(crop, (w_px // 2, h_px // 2), interpolation=cv2.INTER_AREA)
    size = (small.shape[1], small.shape[0])
    probable_s = cv2.resize(probable, size, interpolation=cv2.INTER_NEAREST)
    labels = np.full(probable_s.shape, cv2.GC_BGD, np.uint8)
    labels[cv2.dilate(probable_s, np.ones((7, 7), np.uint8)) > 0] = cv2.GC_PR_BGD
    labels[probable_s > 0] = cv2.GC_PR_FGD
    labels[cv2.resize(core, size, interpolation=cv2.INTER_NEAREST) > 0] = cv2.GC_FGD
    cv2.setRNGSeed(0x5EED)
    bgd_model, fgd_model = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(small, labels, None, bgd_model, fgd_model, 4, cv2.GC_INIT_WITH_MASK)
    fg = np.where((labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD), 255, 0).astype(np.uint8)
    fg = cv2.GaussianBlur(cv2.resize(fg, (w_px, h_px), interpolation=cv2.INTER_LINEAR), (0, 0), 1.5)
    hsv = cv2.cvtColor(crop, cv2.COLOR_RGB2HSV)
    face = np.zeros((h_px, w_px), np.uint8)
    cv2.ellipse(face, (226 - x0, 104 - y0), (52, 66), 0, 0, 360, 255, -1)
    backdrop = (hsv[..., 1] < 45) & (hsv[..., 2] > 150) & (face == 0)
    backdrop[175 - y0 :] = False  # below the chin grey means the suit's silver ring, not the backdrop
    matte = np.where((fg > 127) & ~backdrop, 255, 0).astype(np.uint8)
    matte = cv2.morphologyEx(matte, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    # Fill holes (keyed-out highlights in hair and skin): background is only what connects to the border.
    padded = cv2.copyMakeBorder(matte, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    cv2.floodFill(padded, None, (0, 0), 128)
    matte[padded[1:-1, 1:-1] == 0] = 255
    coverage = float(np.count_nonzero(matte)) / matte.size
    if not 0.3 < coverage < 0.9:
        log.warning("actor matte covers %.0f%% of the crop; expected 30..90%%, falling back to the hand shapes", 100 * coverage)
        matte = probable
    matte.setflags(write=False)
    return matte


def _smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - np.float32(e0)) * np.float32(1.0 / (e1 - e0)), 0.0, 1.0)
    return t * t * (np.float32(3.0) - np.float32(2.0) * t)


def _tangent_span(lateral_m: float, depth_m: float, radius_m: float) -> tuple[float, float]:
    """Slopes (lateral / depth) of the two planes through the origin tangent to a sphere, in one axis."""
    centre = math.atan2(lateral_m, depth_m)
    half = math.asin(min(1.0, radius_m / math.hypot(lateral_m, depth_m)))
    return math.tan(centre - half), math.tan(centre + half)


def _filtered_checker(p: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Box-filtered checker (0 or 1 per tile) of coordinates ``p`` with footprint ``w`` (same shape)."""
    w = np.maximum(w, 1e-4)

    def tri(x: np.ndarray) -> np.ndarray:
        return np.abs(x / 2.0 - np.floor(x / 2.0) - 0.5)

    i = 2.0 * (tri(p - 0.5 * w) - tri(p + 0.5 * w)) / w
    return 0.5 - 0.5 * i[0] * i[1]


@dataclass
class _Sphere:
    orbit_center_w: np.ndarray
    orbit_radius_m: float
    angular_rad_s: float
    phase_rad: float
    radius_m: float
    bounce_m: float
    bounce_hz: float
    color: np.ndarray

    def center_w(self, t_s: float) -> np.ndarray:
        a = self.phase_rad + self.angular_rad_s * t_s
        z = self.radius_m + self.bounce_m * abs(math.sin(math.pi * self.bounce_hz * t_s + self.phase_rad))
        return self.orbit_center_w + np.array([self.orbit_radius_m * math.cos(a), self.orbit_radius_m * math.sin(a), z])


@dataclass
class _Box:
    base_w: np.ndarray
    sweep_m: float
    sweep_hz: float
    yaw_rad_s: float
    phase_rad: float
    half_m: np.ndarray
    color: np.ndarray

    def pose_w(self, t_s: float) -> tuple[np.ndarray, np.ndarray]:
        x = self.sweep_m * math.sin(2.0 * math.pi * self.sweep_hz * t_s + self.phase_rad)
        center = self.base_w + np.array([x, 0.0, self.half_m[2]])
        yaw = self.phase_rad + self.yaw_rad_s * t_s
        c, s = math.cos(yaw), math.sin(yaw)
        rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        return center, rot


def _make_props(seed: int) -> tuple[list[_Sphere], list[_Box]]:
    """Two orbiting, bouncing spheres and two sweeping, spinning boxes; all behind the actor."""
    rng = np.random.default_rng(seed)
    colors = _PALETTE[rng.permutation(len(_PALETTE))]
    spheres: list[_Sphere] = []
    boxes: list[_Box] = []
    for i, (cx, cy) in enumerate([(-1.6, 6.5), (1.8, 8.0)]):
        spheres.append(_Sphere(
            orbit_center_w=np.array([cx + rng.uniform(-0.3, 0.3), cy + rng.uniform(-0.5, 0.5), 0.0]),
            orbit_radius_m=float(rng.uniform(1.0, 1.8)),
            angular_rad_s=float(rng.uniform(0.35, 0.6)) * (1 if i % 2 == 0 else -1),
            phase_rad=float(rng.uniform(0, 2 * math.pi)),
            radius_m=float(rng.uniform(0.4, 0.6)),
            bounce_m=float(rng.uniform(0.2, 0.6)),
            bounce_hz=float(rng.uniform(0.4, 0.7)),
            color=colors[i],
        ))
    for i, (bx, by) in enumerate([(0.8, 6.5), (-0.8, 10.5)]):
        boxes.append(_Box(
            base_w=np.array([bx + rng.uniform(-0.3, 0.3), by + rng.uniform(-0.4, 0.4), 0.0]),
            sweep_m=float(rng.uniform(0.8, 1.6)),
            sweep_hz=float(rng.uniform(0.08, 0.15)),
            yaw_rad_s=float(rng.uniform(0.3, 0.7)) * (1 if i % 2 == 0 else -1),
            phase_rad=float(rng.uniform(0, 2 * math.pi)),
            half_m=np.array([rng.uniform(0.3, 0.5), rng.uniform(0.3, 0.5), rng.uniform(0.3, 0.6)]),
            color=colors[2 + i],
        ))
    return spheres, boxes


class SimulatedScene:
    """Deterministic animated test scene; ``render(t_s)`` returns a ``SceneFrame``."""

    def __init__(self, settings: SceneSettings | None = None) -> None:
        self.settings = settings or SceneSettings()
        w, h = self.settings.width, self.settings.height
        # 60 deg horizontal at 16:9; narrower or portrait frames keep that vertical view (so the framing of
        # floor and actor holds) and crop the sides instead.
        tan_half_h = math.tan(math.radians(HFOV_DEG) / 2.0)
        self.fx_px = max((w / 2.0) / tan_half_h, (h / 2.0) / (tan_half_h * 9.0 / 16.0))
        self.fy_px = self.fx_px
        self.cx_px = (w - 1) / 2.0
        self.cy_px = (h - 1) / 2.0
        pitch = math.radians(CAMERA_PITCH_DOWN_DEG)
        cp, sp = math.cos(pitch), math.sin(pitch)
        # Columns: camera x (right), y (down), z (forward) expressed in world axes.
        self._world_from_cam_rot = np.array([[1.0, 0.0, 0.0], [0.0, -sp, cp], [0.0, -cp, -sp]])
        self._cam_pos_w = np.array([0.0, 0.0, CAMERA_HEIGHT_M])
        pose = np.eye(4)
        pose[:3, :3] = self._world_from_cam_rot
        pose[:3, 3] = self._cam_pos_w
        self.camera = CameraInfo(
            world_from_camera=[float(v) for v in pose.reshape(-1)],
            intrinsics_px=[self.fx_px, self.fy_px, self.cx_px, self.cy_px],
            near_m=NEAR_M,
            far_m=FAR_M,
        )
        self._sun_w = np.array([-0.45, -0.35, 0.82])
        self._sun_w /= np.linalg.norm(self._sun_w)
        cam_from_world = self._world_from_cam_rot.T
        self._sun_c = (cam_from_world @ self._sun_w).astype(np.float32)
        self._up_c = (cam_from_world @ np.array([0.0, 0.0, 1.0])).astype(np.float32)
        self._spheres, self._boxes = _make_props(self.settings.seed)
        self._build_rays()
        self._build_background()
        self._build_actor()
        log.debug("SimulatedScene %dx%d seed=%d ready", w, h, self.settings.seed)

    # ------------------------------------------------------------------ static layers

    def _build_rays(self) -> None:
        w, h = self.settings.width, self.settings.height
        self._ray_x = ((np.arange(w, dtype=np.float32) - self.cx_px) / self.fx_px)[None, :].repeat(h, 0)
        self._ray_y = ((np.arange(h, dtype=np.float32) - self.cy_px) / self.fy_px)[:, None].repeat(w, 1)
        self._ray_len2 = self._ray_x * self._ray_x + self._ray_y * self._ray_y + 1.0

    def _build_background(self) -> None:
        rx, ry = self._ray_x, self._ray_y
        rot = self._world_from_cam_rot.astype(np.float32)
        dw = [rot[i, 0] * rx + rot[i, 1] * ry + rot[i, 2] for i in range(3)]  # world ray dirs with cam z = 1
        ray_len = np.sqrt(self._ray_len2)
        elev = dw[2] / ray_len  # sin(elevation)
        with np.errstate(divide="ignore", invalid="ignore"):
            floor_depth = np.where(dw[2] < 0, -CAMERA_HEIGHT_M / dw[2], np.inf).astype(np.float32)
        floor_range = floor_depth * ray_len
        floor_mask = floor_range < HILL_RANGE_M
        azimuth = np.arctan2(dw[0], dw[1])
        hill_top = 0.035 + 0.018 * np.sin(3.0 * azimuth + 0.7) + 0.010 * np.sin(7.0 * azimuth + 2.1) + 0.005 * np.sin(17.0 * azimuth)
        hill_mask = ~floor_mask & (elev < hill_top)

        sky_t = np.clip(elev / 0.45, 0.0, 1.0) ** 0.7
        color = _SKY_HORIZON * (1.0 - sky_t)[..., None] + _SKY_ZENITH * sky_t[..., None]
        cos_sun = np.clip((dw[0] * self._sun_w[0] + dw[1] * self._sun_w[1] + dw[2] * self._sun_w[2]) / ray_len, 0.0, 1.0)
        color += (0.55 * cos_sun**256 + 0.18 * cos_sun**12)[..., None] * np.array([1.0, 0.9, 0.7], np.float32)
        depth = np.full(rx.shape, FAR_M, np.float32)

        hill_shade = np.clip((hill_top - elev) / 0.04, 0.0, 1.0)[..., None]
        hill = _HILL_COLOR * (0.75 + 0.25 * hill_shade)
        hill = hill * 0.45 + _SKY_HORIZON * 0.55
        color = np.where(hill_mask[..., None], hill, color)
        depth = np.where(hill_mask, HILL_RANGE_M / ray_len, depth)

        safe_depth = np.where(floor_mask, floor_depth, 0.0)
        fx_w = self._cam_pos_w[0] + safe_depth * dw[0]
        fy_w = self._cam_pos_w[1] + safe_depth * dw[1]
        p = np.stack([fx_w, fy_w]) / TILE_M
        footprint = np.stack([np.abs(np.gradient(c, axis=1)) + np.abs(np.gradient(c, axis=0)) for c in p])
        checker = _filtered_checker(p, footprint)[..., None]
        floor = _FLOOR_DARK * (1.0 - checker) + _FLOOR_LIGHT * checker
        floor = floor * (0.55 + 0.45 * float(self._sun_w[2]))
        fog = (1.0 - np.exp(-floor_range / FOG_DISTANCE_M))[..., None]
        floor = floor * (1.0 - fog) + _SKY_HORIZON * fog
        color = np.where(floor_mask[..., None], floor, color)
        depth = np.where(floor_mask, floor_depth, depth)

        self._bg_rgb = np.clip(color * 255.0 + 0.5, 0, 255).astype(np.uint8)
        self._bg_depth = np.clip(depth, NEAR_M, FAR_M).astype(np.float32)
        self._bg_rgb.setflags(write=False)
        self._bg_depth.setflags(write=False)
        # Floor world coordinates for blob shadows; far away where there is no floor.
        self._floor_x = np.where(floor_mask, fx_w, 1e6).astype(np.float32)
        self._floor_y = np.where(floor_mask, fy_w, 1e6).astype(np.float32)
        rows = np.nonzero(floor_mask.any(axis=1))[0]
        self.horizon_row_px = int(rows[0]) if rows.size else self.settings.height

    def _build_actor(self) -> None:
        x0, y0, x1, y1 = ACTOR_SOURCE_BOX_PX
        crop = _astronaut_rgb()[y0:y1, x0:x1]
        src_h, src_w = crop.shape[:2]
        sprite_h = max(8, int(round(self.fy_px * ACTOR_HEIGHT_M / ACTOR_DEPTH_M)))
        self.actor_scale = sprite_h / src_h  # sprite pixels per source pixel
        sprite_w = max(8, int(round(src_w * self.actor_scale)))
        interp = cv2.INTER_AREA if self.actor_scale < 1.0 else cv2.INTER_CUBIC
        color = cv2.resize(crop, (sprite_w, sprite_h), interpolation=interp)
        hard = cv2.resize(_actor_matte_src(), (sprite_w, sprite_h), interpolation=cv2.INTER_AREA)
        # Soft edge that ramps from 0 at the matte boundary to 255 inside it, so no backdrop shows through.
        blurred = cv2.GaussianBlur(hard, (0, 0), max(0.7, 0.006 * sprite_h)).astype(np.float32)
        alpha = np.clip(2.0 * blurred - 255.0, 0.0, 255.0).astype(np.uint8)
        # Replace colours outside the matte by smeared person colours so bilinear warps do not bleed backdrop in.
        weight = (hard > 127).astype(np.float32)
        smear_sigma = max(2.0, 0.03 * sprite_h)
        smeared = cv2.GaussianBlur(color.astype(np.float32) * weight[..., None], (0, 0), smear_sigma)
        smeared /= np.maximum(cv2.GaussianBlur(weight, (0, 0), smear_sigma), 1e-3)[..., None]
        color = np.where(weight[..., None] > 0, color, np.clip(smeared, 0, 255).astype(np.uint8))
        self._actor_rgb = np.ascontiguousarray(color)
        self._actor_alpha = alpha
        # Depth bulge: nearest at the middle of the head, a flatter dome over the torso.
        yy, xx = np.mgrid[0:sprite_h, 0:sprite_w].astype(np.float32) / np.float32(self.actor_scale)
        head = 1.0 - ((xx + x0 - 226) / 77.0) ** 2 - ((yy + y0 - 92) / 84.0) ** 2
        body = 1.0 - ((xx + x0 - 200) / 190.0) ** 2 - ((yy + y0 - 420) / 260.0) ** 2
        bulge = np.maximum(np.sqrt(np.clip(head, 0, 1)), 0.6 * np.sqrt(np.clip(body, 0, 1)))
        self._actor_offset_m = (ACTOR_BULGE_M * bulge).astype(np.float32)

    @property
    def background_depth_m(self) -> np.ndarray:
        """Read-only depth of the static set (floor, hills, sky) without props or actor."""
        return self._bg_depth

    @property
    def background_rgb(self) -> np.ndarray:
        """Read-only colour of the static set (HxWx3 uint8)."""
        return self._bg_rgb

    # ------------------------------------------------------------------ per frame

    def render(self, t_s: float) -> SceneFrame:
        t_s = float(t_s)
        if not math.isfinite(t_s):
            raise ValueError(f"render() needs a finite time in seconds, got {t_s!r}")
        color = self._bg_rgb.copy()  # RGB while drawing: contiguous ROIs suit cv2
        depth = self._bg_depth.copy()
        mask = np.zeros(depth.shape, np.uint8)
        cam_from_world = self._world_from_cam_rot.T

        spheres = [(s, s.center_w(t_s)) for s in self._spheres]
        boxes = [(b, *b.pose_w(t_s)) for b in self._boxes]
        for sphere, center in spheres:
            self._draw_shadow(color, center, sphere.radius_m * 1.1)
        for box, center, rot in boxes:
            self._draw_shadow(color, center, float(np.linalg.norm(box.half_m[:2])) * 0.95)
        for sphere, center in spheres:
            self._draw_sphere(color, depth, cam_from_world @ (center - self._cam_pos_w), sphere.radius_m, sphere.color)
        for box, center, rot in boxes:
            self._draw_box(color, depth, center, rot, box.half_m, box.color)
        self._draw_actor(color, depth, mask, t_s)
        rgba = cv2.cvtColor(color, cv2.COLOR_RGB2RGBA)  # alpha 255
        return SceneFrame(t_s=t_s, color_rgba=rgba, depth_m=depth, actor_mask=mask, camera=self.camera)

    def _roi_of(self, points_w: np.ndarray) -> tuple[int, int, int, int] | None:
        """Screen bbox (x0, y0, x1, y1, exclusive) of world points, clipped; None if off-screen or behind."""
        pc = (points_w - self._cam_pos_w) @ self._world_from_cam_rot
        if np.any(pc[:, 2] <= NEAR_M):
            return None
        u = self.fx_px * pc[:, 0] / pc[:, 2] + self.cx_px
        v = self.fy_px * pc[:, 1] / pc[:, 2] + self.cy_px
        x0 = max(0, int(math.floor(u.min())) - 1)
        y0 = max(0, int(math.floor(v.min())) - 1)
        x1 = min(self.settings.width, int(math.ceil(u.max())) + 2)
        y1 = min(self.settings.height, int(math.ceil(v.max())) + 2)
        if x1 <= x0 or y1 <= y0:
            return None
        return x0, y0, x1, y1

    def _draw_shadow(self, color: np.ndarray, center_w: np.ndarray, radius_m: float) -> None:
        drop = float(center_w[2] / self._sun_w[2])
        sx = float(center_w[0] - self._sun_w[0] * drop)
        sy = float(center_w[1] - self._sun_w[1] * drop)
        height_m = float(center_w[2])
        r = radius_m * (1.0 + 0.15 * height_m)
        corners = np.array([[sx + dx, sy + dy, 0.0] for dx in (-r, r) for dy in (-r, r)])
        roi = self._roi_of(corners)
        if roi is None:
            return
        x0, y0, x1, y1 = roi
        dx = self._floor_x[y0:y1, x0:x1] - np.float32(sx)
        dy = self._floor_y[y0:y1, x0:x1] - np.float32(sy)
        dist = np.sqrt(dx * dx + dy * dy)
        strength = 0.55 / (1.0 + 0.8 * max(0.0, height_m - radius_m))
        shade = 1.0 - strength * (1.0 - _smoothstep(0.35 * r, r, dist))
        region = color[y0:y1, x0:x1]
        cv2.multiply(region, cv2.merge([shade, shade, shade]), dst=region, dtype=cv2.CV_8U)

    def _light(self, n: tuple[np.ndarray, np.ndarray, np.ndarray] | np.ndarray) -> np.ndarray:
        """Hemisphere ambient + Lambert for camera-space unit normal(s) ``n`` (components first)."""
        sun, up = self._sun_c, self._up_c
        ndl = np.maximum(n[0] * sun[0] + n[1] * sun[1] + n[2] * sun[2], 0.0)
        ndu = n[0] * up[0] + n[1] * up[1] + n[2] * up[2]
        return np.float32(0.30) + np.float32(0.12) * ndu + np.float32(0.75) * ndl

    def _specular(self, n: tuple[np.ndarray, np.ndarray, np.ndarray], rx: np.ndarray, ry: np.ndarray) -> np.ndarray:
        """Blinn specular ``(n . h) ** 48`` for camera rays (rx, ry, 1)."""
        sun = self._sun_c
        inv = 1.0 / np.sqrt(rx * rx + ry * ry + 1.0)
        hx, hy, hz = sun[0] - rx * inv, sun[1] - ry * inv, sun[2] - inv
        ndh = np.maximum((n[0] * hx + n[1] * hy + n[2] * hz) / np.sqrt(hx * hx + hy * hy + hz * hz), 0.0)
        p4 = ndh * ndh
        p4 *= p4
        p16 = p4 * p4
        p16 *= p16
        return p16 * p16 * p16  # ** 48 by squaring; pow() with a float exponent is several times slower

    def _compose(self, light: np.ndarray, spec: np.ndarray | None, base: np.ndarray, depth_m: float) -> np.ndarray:
        """HxW light and (optional) specular terms -> HxWx3 uint8 RGB with fog taken at ``depth_m``."""
        fog = 1.0 - math.exp(-depth_m / FOG_DISTANCE_M)
        lit = light * np.float32(255.0 * (1.0 - fog))
        haze = _SKY_HORIZON * np.float32(255.0 * fog)
        if spec is None:
            channels = [lit * np.float32(base[k]) + np.float32(haze[k]) for k in range(3)]
        else:
            spec = spec * np.float32(0.45 * 255.0 * (1.0 - fog))
            channels = [lit * np.float32(base[k]) + (spec + np.float32(haze[k])) for k in range(3)]
        return cv2.convertScaleAbs(cv2.merge(channels))  # saturating cast to uint8

    def _draw_sphere(self, color: np.ndarray, depth: np.ndarray, c: np.ndarray, r: float, base: np.ndarray) -> None:
        cx, cy, cz = (float(v) for v in c)
        if cz - r <= NEAR_M:
            return
        # Exact screen extent: planes through the camera tangent to the sphere.
        u_lo, u_hi = _tangent_span(cx, cz, r)
        v_lo, v_hi = _tangent_span(cy, cz, r)
        x0 = max(0, int(math.floor(self.fx_px * u_lo + self.cx_px)) - 1)
        x1 = min(self.settings.width, int(math.ceil(self.fx_px * u_hi + self.cx_px)) + 2)
        y0 = max(0, int(math.floor(self.fy_px * v_lo + self.cy_px)) - 1)
        y1 = min(self.settings.height, int(math.ceil(self.fy_px * v_hi + self.cy_px)) + 2)
        if x1 <= x0 or y1 <= y0:
            return
        rx, ry = self._ray_x[y0:y1, x0:x1], self._ray_y[y0:y1, x0:x1]
        a = self._ray_len2[y0:y1, x0:x1]
        b = rx * np.float32(cx) + ry * np.float32(cy) + np.float32(cz)
        rho2 = np.maximum(np.float32(cx * cx + cy * cy + cz * cz) - b * b / a, 0.0)  # squared ray-to-centre distance
        coverage = np.clip((np.float32(r) - np.sqrt(rho2)) * np.float32(self.fx_px / cz) + np.float32(0.5), 0.0, 1.0)
        s = (b - np.sqrt(np.maximum(np.float32(r * r) - rho2, 0.0) * a)) / a  # eye depth of the near hit
        dregion = depth[y0:y1, x0:x1]
        coverage *= s < dregion  # z-test
        inv_r = np.float32(1.0 / r)
        n = ((s * rx - np.float32(cx)) * inv_r, (s * ry - np.float32(cy)) * inv_r, (s - np.float32(cz)) * inv_r)
        rgb = self._compose(self._light(n), self._specular(n, rx, ry), base, cz)
        region = color[y0:y1, x0:x1]
        region[...] = cv2.blendLinear(rgb, region, coverage, 1.0 - coverage)
        np.copyto(dregion, np.maximum(s, NEAR_M), where=coverage >= 0.5)

    def _draw_box(
        self, color: np.ndarray, depth: np.ndarray, center_w: np.ndarray, rot_w: np.ndarray, half: np.ndarray, base: np.ndarray
    ) -> None:
        corners = np.array([[a, b, d] for a in (-1, 1) for b in (-1, 1) for d in (-1, 1)]) * half
        roi = self._roi_of(corners @ rot_w.T + center_w)
        if roi is None:
            return
        x0, y0, x1, y1 = roi
        rx, ry = self._ray_x[y0:y1, x0:x1], self._ray_y[y0:y1, x0:x1]
        box_from_cam = (rot_w.T @ self._world_from_cam_rot).astype(np.float32)
        origin = [np.float32(v) for v in rot_w.T @ (self._cam_pos_w - center_w)]
        half32 = [np.float32(v) for v in half]
        dirs, t_lo = [], []
        t_near = t_far = None
        with np.errstate(divide="ignore", invalid="ignore"):  # d == 0 gives +-inf slabs, which the min/max handle
            for k in range(3):
                d = box_from_cam[k, 0] * rx + box_from_cam[k, 1] * ry + box_from_cam[k, 2]
                inv = 1.0 / d
                t1 = (-half32[k] - origin[k]) * inv
                t2 = (half32[k] - origin[k]) * inv
                dirs.append(d)
                t_lo.append(np.minimum(t1, t2))
                t_near = t_lo[k] if t_near is None else np.maximum(t_near, t_lo[k])
                t_far = np.maximum(t1, t2) if t_far is None else np.minimum(t_far, np.maximum(t1, t2))
        dregion = depth[y0:y1, x0:x1]
        hit = (t_far >= t_near) & (t_near > NEAR_M) & (t_near < dregion)
        if not hit.any():
            return
        # Which slab gave the entry point, and on which side: face id 0..5 = axis * 2 + (direction > 0).
        on_y, on_z = t_lo[1] == t_near, t_lo[2] == t_near
        face = np.where(on_z, np.uint8(4), np.where(on_y, np.uint8(2), np.uint8(0)))
        face += np.where(on_z, dirs[2], np.where(on_y, dirs[1], dirs[0])) > 0
        # Flat matte faces: the light is one value per face (6-entry table).
        normals_box = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], np.float32)
        light_lut = self._light((normals_box @ box_from_cam).T)
        # Bevel: distance to the nearest edge is the second smallest of the three slab gaps (the smallest is ~0).
        g0, g1, g2 = (half32[k] - np.abs(origin[k] + t_near * dirs[k]) for k in range(3))
        edge = np.maximum(np.minimum(g0, g1), np.minimum(np.maximum(g0, g1), g2))
        light = light_lut[face] * (np.float32(0.7) + np.float32(0.3) * _smoothstep(0.0, 0.04, edge))
        centre_depth_m = float((center_w - self._cam_pos_w) @ self._world_from_cam_rot[:, 2])
        rgb = self._compose(light, None, base, centre_depth_m)
        np.copyto(color[y0:y1, x0:x1], rgb, where=hit[..., None])
        np.copyto(dregion, t_near, where=hit)

    def actor_pose(self, t_s: float) -> tuple[float, float, float]:
        """(x_m, y_m, roll_deg): camera-space bottom-centre of the actor billboard and its tilt at ``t_s``."""
        sway = 0.08 * math.sin(2.0 * math.pi * t_s / 6.0)
        bob = 0.015 * math.sin(2.0 * math.pi * t_s / 1.9 + 0.4)
        roll = 2.5 * math.sin(2.0 * math.pi * t_s / 6.0 + 0.9)
        bottom_y_m = (self.settings.height - 1 - self.cy_px + 0.07 * self.settings.height) * ACTOR_DEPTH_M / self.fy_px
        return ACTOR_X_M + sway, bottom_y_m + bob, roll

    def _draw_actor(self, color: np.ndarray, depth: np.ndarray, mask: np.ndarray, t_s: float) -> None:
        x_m, y_m, roll_deg = self.actor_pose(t_s)
        u = self.fx_px * x_m / ACTOR_DEPTH_M + self.cx_px
        v = self.fy_px * y_m / ACTOR_DEPTH_M + self.cy_px
        sh, sw = self._actor_alpha.shape[:2]
        # Rotate about the sprite's bottom centre, then move that point to (u, v).
        m = cv2.getRotationMatrix2D((sw / 2.0, float(sh)), roll_deg, 1.0)
        m[:, 2] += (u - sw / 2.0, v - sh)
        corners = np.array([[0, 0, 1], [sw, 0, 1], [0, sh, 1], [sw, sh, 1]], np.float64) @ m.T
        x0 = max(0, int(math.floor(corners[:, 0].min())))
        y0 = max(0, int(math.floor(corners[:, 1].min())))
        x1 = min(self.settings.width, int(math.ceil(corners[:, 0].max())) + 1)
        y1 = min(self.settings.height, int(math.ceil(corners[:, 1].max())) + 1)
        if x1 <= x0 or y1 <= y0:
            return
        m[:, 2] -= (x0, y0)
        size = (x1 - x0, y1 - y0)
        rgb = cv2.warpAffine(self._actor_rgb, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        alpha = cv2.warpAffine(self._actor_alpha, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        offset = cv2.warpAffine(self._actor_offset_m, m, size, flags=cv2.INTER_LINEAR, borderValue=0)
        actor_depth = ACTOR_DEPTH_M - offset
        dregion = depth[y0:y1, x0:x1]
        alpha = alpha * (actor_depth < dregion)  # uint8; zero where something in the set is nearer
        weight = alpha.astype(np.float32) * np.float32(1.0 / 255.0)
        region = color[y0:y1, x0:x1]
        region[...] = cv2.blendLinear(rgb, region, weight, 1.0 - weight)
        np.copyto(dregion, actor_depth, where=alpha >= 128)
        mask[y0:y1, x0:x1] = alpha
