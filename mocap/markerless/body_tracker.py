"""Markerless body capture: MediaPipe landmarks -> `HumanoidPose` frames of the canonical skeleton.

`MarkerlessBodyTracker` is the pure part (arrays in, poses out; no model, no threads):

1. One-Euro smoothing of the world landmarks (per landmark) and of the camera estimate of the
   hips (`mocap.markerless.one_euro`; ``None`` settings switch a filter off);
2. bone rotations (`mocap.markerless.bone_solver`) through the confidence hold
   (`mocap.markerless.confidence_hold`): per-bone confidence lands in ``HumanoidPose.confidence``;
3. root position with foot contact and locking (`mocap.markerless.root_motion`), in the avatar's
   proportions (forward kinematics of the solved rotations on `T_POSE_OFFSETS_M`).

The pose carries the pelvis in the root: ``root_position_m`` is the hips' world position,
``root_rotation`` is identity, and ``bone_rotations["Hips"]`` the pelvis orientation.

`MarkerlessBodyCapture` adds MediaPipe Pose (and optionally Hands for the fingers) in front of it:
an RGB picture in, a `BodyCaptureFrame` out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from mocap import quaternion as quat
from mocap.markerless import rotation_math as rm
from mocap.markerless.bone_solver import BodySolver, SolverSettings
from mocap.markerless.confidence_hold import ConfidenceHold, HoldSettings
from mocap.markerless.landmarks import (
    POSE,
    BodyLandmarks,
    HandLandmarks,
    assign_hands,
    body_landmarks_from_mediapipe,
)
from mocap.markerless.mediapipe_runtime import MediaPipeHands, MediaPipePose
from mocap.markerless.one_euro import OneEuroFilter, OneEuroSettings
from mocap.markerless.root_motion import (
    RootMotionResult,
    RootMotionSettings,
    RootMotionSolver,
    estimate_hips_from_camera,
    leg_length_m,
)
from mocap.skeleton import T_POSE_OFFSETS_M, HumanoidPose, forward_kinematics

SOURCE_NAME = "markerless"


@dataclass(frozen=True)
class MarkerlessBodySettings:
    """Every tunable of the body tracker. ``landmark_smoothing`` speeds are metres per second,
    ``root_smoothing`` likewise; ``None`` turns that smoothing off."""

    landmark_smoothing: OneEuroSettings | None = field(
        default_factory=lambda: OneEuroSettings(min_cutoff_hz=1.0, beta=2.0, d_cutoff_hz=1.0)
    )
    root_smoothing: OneEuroSettings | None = field(
        default_factory=lambda: OneEuroSettings(min_cutoff_hz=0.5, beta=1.0, d_cutoff_hz=1.0)
    )
    hold: HoldSettings = field(default_factory=HoldSettings)
    solver: SolverSettings = field(default_factory=SolverSettings)
    root: RootMotionSettings = field(default_factory=RootMotionSettings)
    fingers: bool = False


@dataclass
class BodyCaptureFrame:
    """One tracked frame: the pose, which feet are planted, the (smoothed) landmarks used."""

    pose: HumanoidPose
    found: bool
    contacts: dict[str, bool]
    landmarks: BodyLandmarks | None
    root: RootMotionResult | None = None


def _avatar_leg_length(offsets: dict[str, np.ndarray]) -> float:
    return float(np.linalg.norm(offsets["LeftLowerLeg"]) + np.linalg.norm(offsets["LeftFoot"]))


class MarkerlessBodyTracker:
    """Landmark frames -> poses for one performer (see module doc); call `update` once per frame."""

    def __init__(
        self,
        performer_id: str = "webcam",
        settings: MarkerlessBodySettings | None = None,
        offsets_m: dict[str, np.ndarray] | None = None,
    ) -> None:
        if not performer_id:
            raise ValueError("performer_id must not be empty")
        self.performer_id = performer_id
        self.settings = settings or MarkerlessBodySettings()
        self.offsets_m = dict(T_POSE_OFFSETS_M if offsets_m is None else offsets_m)
        self.solver = BodySolver(self.settings.solver, self.offsets_m)
        self.hold = ConfidenceHold(self.settings.hold)
        rest = forward_kinematics(
            HumanoidPose("rest", 0, np.zeros(3), quat.identity(), {}), self.offsets_m
        )
        foot_y, toe_y = float(rest["LeftFoot"][0][1]), float(rest["LeftToes"][0][1])
        floor_y = min(foot_y, toe_y)  # the rest pose stands on its lowest foot point
        self.root = RootMotionSolver(
            self.settings.root,
            avatar_leg_length_m=_avatar_leg_length(self.offsets_m),
            ankle_height_m=foot_y - floor_y,
            toe_height_m=toe_y - floor_y,
            start_hips_height_m=-floor_y,
        )
        self._landmark_filter = OneEuroFilter(self.settings.landmark_smoothing) if self.settings.landmark_smoothing else None
        self._root_filter = OneEuroFilter(self.settings.root_smoothing) if self.settings.root_smoothing else None
        self._last_camera: np.ndarray | None = None

    def reset(self) -> None:
        """Forget history: filters, holds, contacts and the root offset."""
        self.hold.reset()
        self.root.reset()
        for f in (self._landmark_filter, self._root_filter):
            if f is not None:
                f.reset()

    def _foot_relative(self, local_rotations: dict[str, np.ndarray], side: str) -> tuple[np.ndarray, np.ndarray]:
        """Ankle and toe positions relative to the hips (forward kinematics of one leg chain)."""
        position = np.zeros(3)
        rotation = local_rotations.get("Hips", quat.IDENTITY)
        for bone in (f"{side}UpperLeg", f"{side}LowerLeg", f"{side}Foot"):
            position = position + rm.rotate(rotation, self.offsets_m[bone])
            rotation = rm.mul(rotation, local_rotations.get(bone, quat.IDENTITY))
        toe = position + rm.rotate(rotation, self.offsets_m[f"{side}Toes"])
        return position, toe

    def update(
        self,
        body: BodyLandmarks | None,
        t_s: float,
        timestamp_ns: int | None = None,
        hands: dict[str, HandLandmarks] | None = None,
    ) -> BodyCaptureFrame:
        """Track one frame. ``t_s`` drives the filters (seconds on any steady clock, e.g. video time);
        ``timestamp_ns`` is the pose's capture time (wall clock, default now)."""
        stamp = time.time_ns() if timestamp_ns is None else int(timestamp_ns)
        smoothed = body
        if body is not None and self._landmark_filter is not None:
            smoothed = BodyLandmarks(self._landmark_filter(body.world_m, t_s), body.image_px, body.visibility, body.image_size)
        solved = self.solver.solve(smoothed, self.hold, t_s, hands=hands, solve_fingers=self.settings.fingers)

        camera = None
        feet_seen = {"Left": False, "Right": False}
        if smoothed is not None:
            estimate = estimate_hips_from_camera(smoothed, self.settings.root.fov_deg, self.settings.root.min_visibility)
            if estimate is not None:
                camera = estimate.hips_m if self._root_filter is None else self._root_filter(estimate.hips_m, t_s)
            for side in ("Left", "Right"):
                length = leg_length_m(smoothed, side, self.settings.root.min_visibility)
                if length is not None:
                    self.root.note_leg_length(length)
                s = side.lower()
                feet_seen[side] = bool(
                    min(smoothed.visibility[POSE[f"{s}_{n}"]] for n in ("knee", "ankle", "heel", "foot_index"))
                    >= self.settings.root.min_visibility
                )
        feet_relative = {side: self._foot_relative(solved.local_rotations, side) for side in ("Left", "Right")}
        root = self.root.update(t_s, camera, feet_relative, feet_seen)

        pose = HumanoidPose(
            performer_id=self.performer_id,
            timestamp_ns=stamp,
            root_position_m=root.root_m,
            root_rotation=quat.identity(),
            bone_rotations=solved.local_rotations,
            source=SOURCE_NAME,
            confidence=solved.confidence,
        )
        return BodyCaptureFrame(pose=pose, found=body is not None, contacts=root.contacts, landmarks=smoothed, root=root)


class MarkerlessBodyCapture:
    """MediaPipe Pose (+ optional Hands) and a `MarkerlessBodyTracker`: RGB frames in, poses out."""

    def __init__(
        self,
        performer_id: str = "webcam",
        settings: MarkerlessBodySettings | None = None,
        video: bool = True,
        min_detection_confidence: float = 0.5,
    ) -> None:
        self.tracker = MarkerlessBodyTracker(performer_id, settings)
        self._pose = MediaPipePose(video=video, min_detection_confidence=min_detection_confidence)
        self._hands = MediaPipeHands(video=video) if self.tracker.settings.fingers else None

    def process(self, rgb: np.ndarray, t_s: float, timestamp_ns: int | None = None) -> BodyCaptureFrame:
        """Track the person in ``rgb`` (HxWx3 uint8, unmirrored) captured at ``t_s`` seconds."""
        raw = self._pose.detect(rgb)
        body = None if raw is None else body_landmarks_from_mediapipe(raw)
        hands = None
        if self._hands is not None:
            hands = assign_hands(self._hands.detect(rgb), body)
        return self.tracker.update(body, t_s, timestamp_ns, hands)

    def close(self) -> None:
        self._pose.close()
        if self._hands is not None:
            self._hands.close()

    def __enter__(self) -> MarkerlessBodyCapture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
