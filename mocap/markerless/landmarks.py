"""MediaPipe landmark indices, the one conversion into the canonical space, and a reference layout.

MediaPipe's pose and hand landmarks (image and world) use the camera's picture axes: x to the
right of the picture, y down, z away from the camera — a right-handed frame. The performer
faces the camera, so:

* the performer's right is the picture's left (-x), and the canonical character's right is +X;
* the performer's up is -y, canonical up is +Y;
* the performer's forward points at the camera (-z), canonical forward is +Z.

Hence ``canonical = -mediapipe`` for every vector (`mediapipe_to_canonical`), the only place
where that change of handedness happens. (A camera that delivers a mirrored picture must be
un-mirrored first; `mocap.markerless.video_capture` has a ``mirror`` switch for that.) The
avatar then mirrors nothing: the performer's left arm drives the avatar's left arm.

`reference_landmarks` places the 33 pose landmarks (and the 21 of each hand) on the canonical
skeleton for any `HumanoidPose` — in the T-pose it is the reference the bone solver measures
rotations against, and tests use it to make landmark sets of known poses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mocap import quaternion as quat
from mocap.markerless.mediapipe_runtime import RawHandLandmarks, RawPoseLandmarks
from mocap.skeleton import HumanoidPose, forward_kinematics

POSE_LANDMARK_NAMES: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)  # fmt: skip
"""MediaPipe Pose's 33 landmarks in index order ("left" is the performer's left)."""
POSE = {name: index for index, name in enumerate(POSE_LANDMARK_NAMES)}
POSE_LANDMARK_COUNT = 33

HAND_LANDMARK_NAMES: tuple[str, ...] = (
    "wrist", "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip", "index_mcp", "index_pip", "index_dip",
    "index_tip", "middle_mcp", "middle_pip", "middle_dip", "middle_tip", "ring_mcp", "ring_pip", "ring_dip",
    "ring_tip", "pinky_mcp", "pinky_pip", "pinky_dip", "pinky_tip",
)  # fmt: skip
"""MediaPipe Hands' 21 landmarks in index order."""
HAND = {name: index for index, name in enumerate(HAND_LANDMARK_NAMES)}
HAND_LANDMARK_COUNT = 21

FINGER_LANDMARKS: dict[str, tuple[int, int, int, int]] = {
    "Thumb": (1, 2, 3, 4),
    "Index": (5, 6, 7, 8),
    "Middle": (9, 10, 11, 12),
    "Ring": (13, 14, 15, 16),
    "Little": (17, 18, 19, 20),
}
"""Per finger the hand landmarks at the start of its Proximal, Intermediate, Distal bones and its tip."""


def mediapipe_to_canonical(points: np.ndarray) -> np.ndarray:
    """MediaPipe vectors/points (..., 3) (x right, y down, z away; right-handed) -> canonical Unity axes.

    Lengths are unchanged (metres stay metres, pixels stay pixels).
    """
    return -np.asarray(points, dtype=np.float64)


def canonical_to_mediapipe(points: np.ndarray) -> np.ndarray:
    """Inverse of `mediapipe_to_canonical` (the same negation)."""
    return -np.asarray(points, dtype=np.float64)


@dataclass
class BodyLandmarks:
    """One frame of body landmarks in the canonical space.

    ``world_m``: (33, 3) metres, origin between the hips (MediaPipe's), canonical axes;
    ``image_px``: (33, 2) picture pixels (x right, y down, as in the picture, unconverted);
    ``visibility``: (33,) 0..1; ``image_size``: (width, height) of the picture.
    """

    world_m: np.ndarray
    image_px: np.ndarray
    visibility: np.ndarray
    image_size: tuple[int, int]

    def __post_init__(self) -> None:
        self.world_m = np.asarray(self.world_m, dtype=np.float64)
        self.image_px = np.asarray(self.image_px, dtype=np.float64)[:, :2]
        self.visibility = np.asarray(self.visibility, dtype=np.float64)
        if self.world_m.shape != (POSE_LANDMARK_COUNT, 3):
            raise ValueError(f"world_m must have shape (33, 3), got {self.world_m.shape}")
        if self.image_px.shape != (POSE_LANDMARK_COUNT, 2):
            raise ValueError(f"image_px must have shape (33, 2) or (33, 3), got {self.image_px.shape}")
        if self.visibility.shape != (POSE_LANDMARK_COUNT,):
            raise ValueError(f"visibility must have shape (33,), got {self.visibility.shape}")
        if not (np.all(np.isfinite(self.world_m)) and np.all(np.isfinite(self.image_px))):
            raise ValueError("body landmarks contain non-finite coordinates")


@dataclass
class HandLandmarks:
    """One hand in the canonical space: ``world_m`` (21, 3), ``image_px`` (21, 2), ``side`` "Left"/"Right"
    (the performer's side, already resolved), ``score`` 0..1."""

    world_m: np.ndarray
    image_px: np.ndarray
    side: str
    score: float

    def __post_init__(self) -> None:
        self.world_m = np.asarray(self.world_m, dtype=np.float64)
        self.image_px = np.asarray(self.image_px, dtype=np.float64)[:, :2]
        if self.world_m.shape != (HAND_LANDMARK_COUNT, 3):
            raise ValueError(f"hand world_m must have shape (21, 3), got {self.world_m.shape}")
        if self.side not in ("Left", "Right"):
            raise ValueError(f"hand side must be 'Left' or 'Right', got {self.side!r}")


# Landmarks fixed to a bone, in that bone's local frame (metres, canonical, T-pose bind axes).
_HEAD_POINTS = {
    "nose": (0.0, 0.03, 0.11),
    "left_eye_inner": (-0.018, 0.07, 0.09),
    "left_eye": (-0.032, 0.07, 0.085),
    "left_eye_outer": (-0.046, 0.07, 0.075),
    "right_eye_inner": (0.018, 0.07, 0.09),
    "right_eye": (0.032, 0.07, 0.085),
    "right_eye_outer": (0.046, 0.07, 0.075),
    "left_ear": (-0.075, 0.06, -0.005),
    "right_ear": (0.075, 0.06, -0.005),
    "mouth_left": (-0.025, 0.0, 0.095),
    "mouth_right": (0.025, 0.0, 0.095),
}
_HEEL_IN_FOOT = (0.0, -0.05, -0.05)
_TOE_TIP_IN_TOES = (0.0, 0.0, 0.05)
_FINGER_TIP_LENGTH_M = 0.02


def _point(world: dict[str, tuple[np.ndarray, np.ndarray]], bone: str, local: tuple[float, float, float] | np.ndarray) -> np.ndarray:
    position, rotation = world[bone]
    return position + quat.rotate_vector(rotation, np.asarray(local, dtype=np.float64))


def _finger_tip_offset(side: str) -> np.ndarray:
    return np.array([(-1.0 if side == "Left" else 1.0) * _FINGER_TIP_LENGTH_M, 0.0, 0.0])


def reference_landmarks(pose: HumanoidPose, offsets_m: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """The 33 pose landmarks of ``pose`` on the canonical skeleton: (33, 3) metres, canonical axes,
    origin between the hips (as MediaPipe's world landmarks)."""
    world = forward_kinematics(pose, offsets_m)
    points = np.zeros((POSE_LANDMARK_COUNT, 3))
    for name, local in _HEAD_POINTS.items():
        points[POSE[name]] = _point(world, "Head", local)
    for side, prefix in (("Left", "left"), ("Right", "right")):
        points[POSE[f"{prefix}_shoulder"]] = world[f"{side}UpperArm"][0]
        points[POSE[f"{prefix}_elbow"]] = world[f"{side}LowerArm"][0]
        points[POSE[f"{prefix}_wrist"]] = world[f"{side}Hand"][0]
        points[POSE[f"{prefix}_pinky"]] = world[f"{side}LittleProximal"][0]
        points[POSE[f"{prefix}_index"]] = world[f"{side}IndexProximal"][0]
        points[POSE[f"{prefix}_thumb"]] = _point(world, f"{side}ThumbDistal", _finger_tip_offset(side))
        points[POSE[f"{prefix}_hip"]] = world[f"{side}UpperLeg"][0]
        points[POSE[f"{prefix}_knee"]] = world[f"{side}LowerLeg"][0]
        points[POSE[f"{prefix}_ankle"]] = world[f"{side}Foot"][0]
        points[POSE[f"{prefix}_heel"]] = _point(world, f"{side}Foot", _HEEL_IN_FOOT)
        points[POSE[f"{prefix}_foot_index"]] = _point(world, f"{side}Toes", _TOE_TIP_IN_TOES)
    hip_centre = 0.5 * (points[POSE["left_hip"]] + points[POSE["right_hip"]])
    return points - hip_centre


def reference_hand_landmarks(pose: HumanoidPose, side: str, offsets_m: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """The 21 hand landmarks of ``side``'s hand in ``pose``: (21, 3) metres, canonical axes,
    origin at the wrist."""
    if side not in ("Left", "Right"):
        raise ValueError(f"side must be 'Left' or 'Right', got {side!r}")
    world = forward_kinematics(pose, offsets_m)
    points = np.zeros((HAND_LANDMARK_COUNT, 3))
    points[HAND["wrist"]] = world[f"{side}Hand"][0]
    for finger, (proximal, intermediate, distal, tip) in FINGER_LANDMARKS.items():
        points[proximal] = world[f"{side}{finger}Proximal"][0]
        points[intermediate] = world[f"{side}{finger}Intermediate"][0]
        points[distal] = world[f"{side}{finger}Distal"][0]
        points[tip] = _point(world, f"{side}{finger}Distal", _finger_tip_offset(side))
    return points - points[HAND["wrist"]]


def body_landmarks_from_mediapipe(raw: RawPoseLandmarks) -> BodyLandmarks:
    """MediaPipe Pose output -> canonical `BodyLandmarks` (world converted, picture kept as is)."""
    return BodyLandmarks(
        world_m=mediapipe_to_canonical(raw.world_m),
        image_px=raw.image_px[:, :2],
        visibility=raw.visibility,
        image_size=raw.image_size,
    )


def assign_hands(raw_hands: list[RawHandLandmarks], body: BodyLandmarks | None) -> dict[str, HandLandmarks]:
    """Give each detected hand to the performer's side whose pose wrist is nearest in the picture.

    MediaPipe's own handedness label assumes a mirrored selfie picture; matching against the pose
    wrists avoids depending on that. Without a body, the label is used, un-mirrored ("Left" in a
    selfie is the performer's right hand in the unmirrored picture this project works on).
    """
    assigned: dict[str, HandLandmarks] = {}
    if body is None:
        for raw in raw_hands:
            side = "Right" if raw.label == "Left" else "Left"
            if side not in assigned or raw.score > assigned[side].score:
                assigned[side] = HandLandmarks(mediapipe_to_canonical(raw.world_m), raw.image_px, side, raw.score)
        return assigned
    wrists = {"Left": body.image_px[POSE["left_wrist"]], "Right": body.image_px[POSE["right_wrist"]]}
    candidates = []
    for raw in raw_hands:
        for side, wrist in wrists.items():
            candidates.append((float(np.linalg.norm(raw.image_px[HAND["wrist"], :2] - wrist)), side, id(raw), raw))
    used: set[int] = set()
    for _, side, key, raw in sorted(candidates, key=lambda c: c[0]):
        if side in assigned or key in used:
            continue
        assigned[side] = HandLandmarks(mediapipe_to_canonical(raw.world_m), raw.image_px, side, raw.score)
        used.add(key)
    return assigned
