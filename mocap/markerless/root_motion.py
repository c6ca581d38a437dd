"""Root position of a markerless performer: a camera estimate, foot contact and foot locking.

MediaPipe's world landmarks are centred on the hips, so where the performer *is* must come
from the picture. `estimate_hips_from_camera` fits the weak-perspective model
``image_px = s * world_xy + t`` (least squares over the visible landmarks, MediaPipe axes) to get
the picture position ``t`` of the hip centre and the scale ``s`` (pixels per metre), then with a
pinhole camera of horizontal field of view ``fov_deg``::

    f = (width / 2) / tan(fov / 2);   Z = f / s;   X = (t_x - cx) * Z / f;   Y = (t_y - cy) * Z / f

and converts (X, Y, Z) to the canonical axes like every other vector (`mediapipe_to_canonical`).
Depth from a single camera is coarse; it only drives the root while no foot is planted.

`RootMotionSolver` works in the avatar's space (the canonical skeleton's proportions, from
forward kinematics of the solved rotations), so feet land exactly on its floor:

* root = camera estimate (scaled by avatar leg length / performer leg length) + offset;
* a foot is *planted* when it is seen, its lowest point (ankle or toe, relative to their T-pose
  heights) is within ``contact_height_m`` of the floor (y = 0) and it moves slower than
  ``contact_speed_m_s``; it is released at 1.5x those limits (hysteresis);
* a newly planted foot is locked where it stands, on the floor; while any foot is locked the
  root is solved so the locked feet stay put (the mean over locked feet), and the offset is
  updated, so the root neither slides nor floats and continues smoothly when feet lift;
* no foot ever goes below the floor (the root is raised instead).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from mocap.markerless.landmarks import POSE, BodyLandmarks

SIDES = ("Left", "Right")


@dataclass(frozen=True)
class RootMotionSettings:
    """Contact limits (metres, metres per second), camera field of view, and whether to scale
    camera motion to the avatar's leg length."""

    contact_height_m: float = 0.05
    contact_speed_m_s: float = 0.35
    release_factor: float = 1.5
    fov_deg: float = 60.0
    min_visibility: float = 0.5
    scale_to_avatar: bool = True

    def __post_init__(self) -> None:
        if self.contact_height_m <= 0.0 or self.contact_speed_m_s <= 0.0 or self.release_factor < 1.0:
            raise ValueError(f"contact limits must be positive and release_factor >= 1, got {self}")
        if not 10.0 <= self.fov_deg <= 170.0:
            raise ValueError(f"fov_deg must be within 10..170 degrees, got {self.fov_deg}")


@dataclass
class CameraEstimate:
    """Hip centre in the canonical camera frame (metres) and the fitted scale (pixels per metre)."""

    hips_m: np.ndarray
    pixels_per_m: float
    residual_px: float


def estimate_hips_from_camera(body: BodyLandmarks, fov_deg: float = 60.0, min_visibility: float = 0.5) -> CameraEstimate | None:
    """Weak-perspective estimate of the hip centre's position relative to the camera (see module doc)."""
    visible = body.visibility >= min_visibility
    if int(visible.sum()) < 4:
        return None
    world_mp = -body.world_m[visible]  # back to MediaPipe axes, matching the picture's x right / y down
    image = body.image_px[visible]
    xy = world_mp[:, :2]
    centred_world = xy - xy.mean(axis=0)
    centred_image = image - image.mean(axis=0)
    denominator = float(np.sum(centred_world * centred_world))
    if denominator < 1e-8:
        return None
    scale = float(np.sum(centred_world * centred_image)) / denominator
    if not scale > 1e-6:
        return None
    offset = image.mean(axis=0) - scale * xy.mean(axis=0)
    residual = float(np.sqrt(np.mean(np.sum((scale * xy + offset - image) ** 2, axis=1))))
    width, height = body.image_size
    focal = (0.5 * width) / math.tan(math.radians(fov_deg) / 2.0)
    depth = focal / scale
    camera = np.array([(offset[0] - 0.5 * width) * depth / focal, (offset[1] - 0.5 * height) * depth / focal, depth])
    return CameraEstimate(hips_m=-camera, pixels_per_m=scale, residual_px=residual)


def leg_length_m(body: BodyLandmarks, side: str, min_visibility: float = 0.5) -> float | None:
    """Hip-knee-ankle length of one leg from the world landmarks, None when not all seen."""
    s = side.lower()
    names = (f"{s}_hip", f"{s}_knee", f"{s}_ankle")
    if min(body.visibility[POSE[n]] for n in names) < min_visibility:
        return None
    hip, knee, ankle = (body.world_m[POSE[n]] for n in names)
    return float(np.linalg.norm(knee - hip) + np.linalg.norm(ankle - knee))


@dataclass
class FootState:
    """One foot: seen this frame, planted, where it is locked (avatar world), last world position."""

    seen: bool = False
    planted: bool = False
    lock_m: np.ndarray | None = None
    last_position_m: np.ndarray | None = None
    last_time_s: float | None = None
    speed_m_s: float = 0.0
    height_m: float = 0.0


@dataclass
class RootMotionResult:
    root_m: np.ndarray
    contacts: dict[str, bool]
    feet: dict[str, FootState] = field(default_factory=dict)


class RootMotionSolver:
    """Root position with foot contact and locking, frame by frame (see module doc)."""

    def __init__(
        self,
        settings: RootMotionSettings | None = None,
        avatar_leg_length_m: float = 0.84,
        ankle_height_m: float = 0.06,
        toe_height_m: float = 0.0,
        start_hips_height_m: float = 0.95,
    ) -> None:
        self.settings = settings or RootMotionSettings()
        self.avatar_leg_length_m = avatar_leg_length_m
        self.ankle_height_m = ankle_height_m
        self.toe_height_m = toe_height_m
        self.start_hips_height_m = start_hips_height_m
        self.feet: dict[str, FootState] = {}
        self._offset: np.ndarray | None = None
        self._last_camera: np.ndarray | None = None
        self._performer_leg_m: float | None = None
        self.root_m = np.zeros(3)
        self.reset()

    def reset(self) -> None:
        """Forget contacts, locks and the camera offset (the next frame starts at the origin again)."""
        self.feet = {side: FootState() for side in SIDES}
        self._offset = None
        self._last_camera = None
        self._performer_leg_m = None
        self.root_m = np.array([0.0, self.start_hips_height_m, 0.0])

    @property
    def scale(self) -> float:
        if not self.settings.scale_to_avatar or not self._performer_leg_m:
            return 1.0
        return self.avatar_leg_length_m / self._performer_leg_m

    def note_leg_length(self, length_m: float) -> None:
        """Feed a measured performer leg length (a slow running average keeps the scale steady)."""
        if not 0.3 < length_m < 1.5:
            return
        if self._performer_leg_m is None:
            self._performer_leg_m = length_m
        else:
            self._performer_leg_m += 0.05 * (length_m - self._performer_leg_m)

    def update(
        self,
        t_s: float,
        camera_hips_m: np.ndarray | None,
        feet_relative_m: dict[str, tuple[np.ndarray, np.ndarray]],
        feet_seen: dict[str, bool],
    ) -> RootMotionResult:
        """One frame.

        ``camera_hips_m``: camera estimate of the hips (canonical metres, performer scale) or None;
        ``feet_relative_m[side]``: (ankle, toe) positions relative to the hips in the avatar's
        space (forward kinematics of this frame's rotations); ``feet_seen[side]``: whether the
        foot's landmarks are trusted this frame.
        """
        s = self.settings
        if camera_hips_m is not None:
            camera = np.asarray(camera_hips_m, dtype=np.float64) * self.scale
            self._last_camera = camera
        elif self._last_camera is not None:
            camera = self._last_camera
        else:
            camera = np.zeros(3)
        if self._offset is None:
            start = np.array([0.0, self.start_hips_height_m, 0.0])
            lowest = [self._foot_floor_gap(rel, np.zeros(3)) for side, rel in feet_relative_m.items() if feet_seen.get(side)]
            if lowest:
                start[1] = -min(lowest)  # stand the lowest seen foot on the floor
            self._offset = start - camera
        candidate = camera + self._offset

        locked_roots = []
        for side in SIDES:
            foot = self.feet[side]
            relative = feet_relative_m.get(side)
            foot.seen = bool(feet_seen.get(side)) and relative is not None
            if not foot.seen or relative is None:
                foot.planted, foot.lock_m = False, None
                foot.last_position_m, foot.last_time_s = None, None
                continue
            ankle_rel = relative[0]
            position = candidate + ankle_rel
            height = self._foot_floor_gap(relative, candidate)
            speed = 0.0
            if foot.last_position_m is not None and foot.last_time_s is not None and t_s > foot.last_time_s:
                speed = float(np.linalg.norm(position - foot.last_position_m)) / (t_s - foot.last_time_s)
            foot.speed_m_s, foot.height_m = speed, height
            limit = s.release_factor if foot.planted else 1.0
            planted = height < s.contact_height_m * limit and speed < s.contact_speed_m_s * limit
            if planted and not foot.planted:
                lock = position.copy()
                lock[1] -= height  # put it on the floor
                foot.lock_m = lock
            foot.planted = planted
            if not planted:
                foot.lock_m = None
            if foot.planted and foot.lock_m is not None:
                locked_roots.append(foot.lock_m - ankle_rel)
            foot.last_position_m, foot.last_time_s = position, t_s

        root = np.mean(locked_roots, axis=0) if locked_roots else candidate
        # never below the floor
        gaps = [self._foot_floor_gap(feet_relative_m[side], root) for side in SIDES if self.feet[side].seen]
        if gaps and min(gaps) < 0.0:
            root = root.copy()
            root[1] -= min(gaps)
        self._offset = root - camera
        for side in SIDES:  # positions as finally placed, for the next frame's speed
            foot = self.feet[side]
            if foot.seen:
                foot.last_position_m = root + feet_relative_m[side][0]
        self.root_m = root
        return RootMotionResult(root_m=root.copy(), contacts={side: self.feet[side].planted for side in SIDES},
                                feet=self.feet)

    def _foot_floor_gap(self, relative: tuple[np.ndarray, np.ndarray], root: np.ndarray) -> float:
        ankle_rel, toe_rel = relative
        return float(min(root[1] + ankle_rel[1] - self.ankle_height_m, root[1] + toe_rel[1] - self.toe_height_m))
