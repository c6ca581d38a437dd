"""Face capture: MediaPipe face mesh -> ARKit blendshapes + head rotation -> `HumanoidPose`.

`FaceTracker` is the pure part: a (478, 3) mesh (or None) per frame in, a `FaceFrame` out —
the head rotation (`mocap.face_capture.head_pose`), the 52 coefficients
(`mocap.face_capture.blendshapes`), both One-Euro smoothed (`mocap.markerless.one_euro`),
relative to the performer's neutral face once calibrated. `FaceTracker.begin_calibration(n)`
averages the next ``n`` frames with a face into a `FaceCalibration` and takes their head
rotation as "looking straight ahead" (a camera above the screen then reads as level).

Poses (`face_pose`) carry the blendshapes, the head turn split over Neck and Head
(``neck_share`` of it on the neck) and, from the iris, LeftEye/RightEye rotations. A face-only
pose takes the chest as upright and facing the camera; `merge_face_into_body` instead puts the
head turn on top of a markerless body pose from the same camera.

`FaceCapture` adds MediaPipe Face Mesh in front of the tracker (an RGB picture in).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from mocap import quaternion as quat
from mocap.face_capture.blendshapes import (
    ARKIT_BLENDSHAPE_NAMES,
    FaceCalibration,
    blendshapes_from_measurements,
    measure_head_local,
)
from mocap.face_capture.head_pose import head_euler_deg, head_pose_from_mesh, to_head_local
from mocap.markerless import rotation_math as rm
from mocap.markerless.mediapipe_runtime import MediaPipeFaceMesh
from mocap.markerless.one_euro import OneEuroFilter, OneEuroRotationFilter, OneEuroSettings
from mocap.skeleton import HumanoidPose, forward_kinematics

SOURCE_NAME = "face_capture"


@dataclass(frozen=True)
class FaceCaptureSettings:
    """Smoothing (``None`` = off; blendshape speeds in coefficient units per second, head speeds
    in quaternion units per second), the neck's share of the head turn, eye-bone ranges."""

    blendshape_smoothing: OneEuroSettings | None = field(
        default_factory=lambda: OneEuroSettings(min_cutoff_hz=3.0, beta=2.0, d_cutoff_hz=1.0)
    )
    head_smoothing: OneEuroSettings | None = field(
        default_factory=lambda: OneEuroSettings(min_cutoff_hz=2.0, beta=3.0, d_cutoff_hz=1.0)
    )
    neck_share: float = 0.4
    eye_yaw_range_deg: float = 30.0
    eye_pitch_range_deg: float = 20.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.neck_share <= 1.0:
            raise ValueError(f"neck_share must be within 0..1, got {self.neck_share}")


@dataclass
class FaceFrame:
    """One face-capture result. ``head_rotation`` is in the canonical camera-aligned world
    (relative to the calibrated neutral when calibrated); ``head_euler_deg`` = (yaw, pitch, roll)."""

    found: bool
    t_s: float
    timestamp_ns: int
    blendshapes: dict[str, float]
    head_rotation: np.ndarray
    head_euler_deg: tuple[float, float, float]
    measurements: dict[str, float] = field(default_factory=dict)
    mesh_px: np.ndarray | None = None


class FaceTracker:
    """Meshes -> `FaceFrame` objects for one performer (see module doc)."""

    def __init__(
        self,
        performer_id: str = "face",
        settings: FaceCaptureSettings | None = None,
        calibration: FaceCalibration | None = None,
    ) -> None:
        if not performer_id:
            raise ValueError("performer_id must not be empty")
        self.performer_id = performer_id
        self.settings = settings or FaceCaptureSettings()
        self.calibration = calibration or FaceCalibration()
        self.neutral_head_rotation = quat.identity()
        self._shape_filter = OneEuroFilter(self.settings.blendshape_smoothing) if self.settings.blendshape_smoothing else None
        self._head_filter = OneEuroRotationFilter(self.settings.head_smoothing) if self.settings.head_smoothing else None
        self._calibration_target = 0
        self._calibration_measurements: list[dict[str, float]] = []
        self._calibration_heads: list[np.ndarray] = []
        self.last: FaceFrame | None = None

    # --- calibration -------------------------------------------------------------------------
    def begin_calibration(self, frames: int = 30) -> None:
        """Average the next ``frames`` frames with a face into the neutral calibration."""
        if frames < 1:
            raise ValueError(f"calibration needs at least one frame, got {frames}")
        self._calibration_target = frames
        self._calibration_measurements = []
        self._calibration_heads = []

    @property
    def calibrating(self) -> bool:
        return self._calibration_target > 0

    def calibrate(self, meshes_px: list[np.ndarray], calibrate_head: bool = True) -> FaceCalibration:
        """Calibrate at once from neutral-face meshes (as `begin_calibration` over these frames)."""
        measurements, heads = [], []
        for mesh in meshes_px:
            head = head_pose_from_mesh(mesh)
            measurements.append(measure_head_local(to_head_local(mesh, head)))
            heads.append(head.rotation)
        self._finish_calibration(measurements, heads if calibrate_head else [])
        return self.calibration

    def _finish_calibration(self, measurements: list[dict[str, float]], heads: list[np.ndarray]) -> None:
        self.calibration = FaceCalibration.from_measurements(measurements)
        if heads:
            mean = np.zeros(4)
            for rotation in heads:
                mean += rotation if float(rotation @ heads[0]) >= 0.0 else -rotation
            self.neutral_head_rotation = quat.normalise(mean)
        self._calibration_target = 0
        for f in (self._shape_filter, self._head_filter):
            if f is not None:
                f.reset()

    # --- tracking ----------------------------------------------------------------------------
    def update(self, mesh_px: np.ndarray | None, t_s: float, timestamp_ns: int | None = None) -> FaceFrame:
        """Track one frame's mesh (None: no face) taken at ``t_s`` seconds."""
        stamp = time.time_ns() if timestamp_ns is None else int(timestamp_ns)
        if mesh_px is None:
            previous = self.last
            frame = FaceFrame(
                found=False, t_s=t_s, timestamp_ns=stamp,
                blendshapes=dict(previous.blendshapes) if previous else dict.fromkeys(ARKIT_BLENDSHAPE_NAMES, 0.0),
                head_rotation=previous.head_rotation.copy() if previous else quat.identity(),
                head_euler_deg=previous.head_euler_deg if previous else (0.0, 0.0, 0.0),
            )  # fmt: skip
            self.last = frame
            return frame
        head = head_pose_from_mesh(mesh_px)
        measurements = measure_head_local(to_head_local(mesh_px, head))
        if self._calibration_target > 0:
            self._calibration_measurements.append(measurements)
            self._calibration_heads.append(head.rotation)
            if len(self._calibration_measurements) >= self._calibration_target:
                self._finish_calibration(self._calibration_measurements, self._calibration_heads)
        rotation = rm.normalise(rm.mul(head.rotation, rm.conj(self.neutral_head_rotation)))
        if self._head_filter is not None:
            rotation = self._head_filter(rotation, t_s)
        shapes = blendshapes_from_measurements(measurements, self.calibration)
        if self._shape_filter is not None:
            values = np.array([shapes[name] for name in ARKIT_BLENDSHAPE_NAMES])
            values = np.clip(self._shape_filter(values, t_s), 0.0, 1.0)
            shapes = {name: float(v) for name, v in zip(ARKIT_BLENDSHAPE_NAMES, values)}
        frame = FaceFrame(
            found=True, t_s=t_s, timestamp_ns=stamp, blendshapes=shapes, head_rotation=rotation,
            head_euler_deg=head_euler_deg(rotation), measurements=measurements, mesh_px=np.asarray(mesh_px),
        )  # fmt: skip
        self.last = frame
        return frame

    def face_pose(self, frame: FaceFrame) -> HumanoidPose:
        """A face-only pose: blendshapes, Neck/Head (chest taken as upright, facing the camera), eyes."""
        return HumanoidPose(
            performer_id=self.performer_id,
            timestamp_ns=frame.timestamp_ns,
            root_position_m=np.zeros(3),
            root_rotation=quat.identity(),
            bone_rotations={**split_head_turn(frame.head_rotation, self.settings.neck_share), **self.eye_rotations(frame)},
            blendshapes=dict(frame.blendshapes),
            source=SOURCE_NAME,
            confidence=dict.fromkeys(("Neck", "Head", "LeftEye", "RightEye"), 1.0 if frame.found else 0.0),
        )

    def eye_rotations(self, frame: FaceFrame) -> dict[str, np.ndarray]:
        """LeftEye/RightEye local rotations from the gaze coefficients (yaw to the right is positive)."""
        b = frame.blendshapes
        s = self.settings
        yaw_right = (b["eyeLookOutRight"] - b["eyeLookInRight"]) * s.eye_yaw_range_deg
        yaw_left = (b["eyeLookInLeft"] - b["eyeLookOutLeft"]) * s.eye_yaw_range_deg
        pitch_right = (b["eyeLookDownRight"] - b["eyeLookUpRight"]) * s.eye_pitch_range_deg
        pitch_left = (b["eyeLookDownLeft"] - b["eyeLookUpLeft"]) * s.eye_pitch_range_deg
        return {
            "RightEye": quat.from_euler_deg(np.array([yaw_right, pitch_right, 0.0]), "YXZ"),
            "LeftEye": quat.from_euler_deg(np.array([yaw_left, pitch_left, 0.0]), "YXZ"),
        }


def split_head_turn(turn: np.ndarray, neck_share: float) -> dict[str, np.ndarray]:
    """Neck and Head local rotations whose product is ``turn`` (the neck takes ``neck_share`` of it)."""
    neck = rm.slerp(quat.IDENTITY, turn, neck_share)
    head = rm.normalise(rm.mul(rm.conj(neck), turn))
    return {"Neck": neck, "Head": head}


def merge_face_into_body(body: HumanoidPose, face: FaceFrame, neck_share: float = 0.4,
                         eyes: dict[str, np.ndarray] | None = None) -> HumanoidPose:
    """``body`` with the face's blendshapes and its head rotation on the neck and head.

    Both must come from the same camera: the face's head rotation and the body's bones are then
    in the same camera-aligned canonical world, and the head turn is taken relative to the
    body's upper chest. A frame without a face leaves the body's neck and head as they are.
    """
    merged = body.copy()
    merged.blendshapes.update(face.blendshapes)
    if not face.found:
        return merged
    world = forward_kinematics(body)
    chest = world["UpperChest"][1]  # the neck's parent
    turn = rm.normalise(rm.mul(rm.conj(chest), face.head_rotation))
    merged.bone_rotations.update(split_head_turn(turn, neck_share))
    if eyes:
        merged.bone_rotations.update(eyes)
    merged.confidence.update({"Neck": 1.0, "Head": 1.0})
    merged.source = f"{body.source}+{SOURCE_NAME}" if body.source else SOURCE_NAME
    return merged


class FaceCapture:
    """MediaPipe Face Mesh (with iris) and a `FaceTracker`: RGB frames in, `FaceFrame` objects out."""

    def __init__(
        self,
        performer_id: str = "face",
        settings: FaceCaptureSettings | None = None,
        calibration: FaceCalibration | None = None,
        video: bool = True,
        min_detection_confidence: float = 0.5,
    ) -> None:
        self.tracker = FaceTracker(performer_id, settings, calibration)
        self._mesh = MediaPipeFaceMesh(video=video, min_detection_confidence=min_detection_confidence)

    def mesh(self, rgb: np.ndarray) -> np.ndarray | None:
        """The bare face mesh of ``rgb`` (478, 3) pixels, or None."""
        return self._mesh.detect(rgb)

    def process(self, rgb: np.ndarray, t_s: float, timestamp_ns: int | None = None) -> FaceFrame:
        return self.tracker.update(self._mesh.detect(rgb), t_s, timestamp_ns)

    def close(self) -> None:
        self._mesh.close()

    def __enter__(self) -> FaceCapture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
