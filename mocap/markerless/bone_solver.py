"""Canonical-space landmarks -> local bone rotations of the canonical skeleton (relative to the T-pose).

Every rotation is measured against the same landmarks placed on the skeleton in its T-pose
(`mocap.markerless.landmarks.reference_landmarks`), so a landmark set made from any pose of the
canonical skeleton solves back to that pose's bone directions exactly.

How each bone's world rotation is found (``frame(p, s)`` is the orthonormal frame whose first
axis is ``p`` and whose second is ``s`` made perpendicular to it; a rotation between frames is
``F_observed @ F_reference.T``, a "look rotation"):

==============  =========================================================================
Hips            frame(right hip - left hip, shoulder centre - hip centre)
UpperChest      frame(right shoulder - left shoulder, shoulder centre - hip centre);
                Spine, Chest, UpperChest each take a third of the turn from the hips
Head            frame(ears + eyes left->right, eye centre - ear centre); Neck takes half
Upper/LowerArm  frame(segment, hinge) with hinge = upper x lower (the elbow's bending axis),
Upper/LowerLeg  blended by the bend angle (below ``min_bend_deg`` the hinge is noise) with the
                swing-only rotation (the shortest turn from the parent's frame, no twist)
Hand            frame(knuckle centre - wrist, index knuckle - little knuckle)
Foot            frame(toe - heel, ankle - heel)
fingers         swing-only from the parent, one bone per landmark segment (MediaPipe Hands)
==============  =========================================================================

Shoulders (clavicles) and toes are not observed: identity. Legs refuse a hinge pointing
backwards (a hyper-extended knee reads as a straight leg rather than a 180-degree twist).
Confidence per bone is the lowest visibility of the landmarks it uses; `ConfidenceHold` decides
whether it is trusted. Bones are solved parents first against the *output* rotation of their
parent, so a held parent never bends a child that is seen.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mocap import quaternion as quat
from mocap.markerless import rotation_math as rm
from mocap.markerless.confidence_hold import ConfidenceHold
from mocap.markerless.landmarks import (
    FINGER_LANDMARKS,
    HAND,
    POSE,
    BodyLandmarks,
    HandLandmarks,
    reference_hand_landmarks,
    reference_landmarks,
)
from mocap.skeleton import FINGER_NAMES, FINGER_PHALANGES, t_pose

_EPS = 1e-9

Emit = Callable[[str, np.ndarray, "np.ndarray | None", float], np.ndarray]
"""``emit(bone, parent_world, solved_world_or_None, confidence) -> output world rotation``."""

TORSO_BONES = ("Spine", "Chest", "UpperChest")
HEAD_BONES = ("Neck", "Head")
SIDES = ("Left", "Right")

_ELBOW_HINGE = {"Left": np.array([0.0, 1.0, 0.0]), "Right": np.array([0.0, -1.0, 0.0])}
"""Elbow bending axis in the T-pose (upper arm x forearm for a forearm bent forwards)."""
_KNEE_HINGE = np.array([1.0, 0.0, 0.0])
"""Knee bending axis in the T-pose (thigh x shin for a shin bent backwards)."""


@dataclass(frozen=True)
class SolverSettings:
    """``min_bend_deg`` / ``full_bend_deg``: elbow or knee bend below which the hinge axis is ignored
    and above which it is fully trusted for the limb's twist; ``head_share``: the Head's part of
    the head-over-chest turn (the Neck takes the rest)."""

    min_bend_deg: float = 10.0
    full_bend_deg: float = 25.0
    head_share: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_bend_deg < self.full_bend_deg <= 180.0:
            raise ValueError(f"need 0 <= min_bend_deg < full_bend_deg <= 180, got {self}")
        if not 0.0 <= self.head_share <= 1.0:
            raise ValueError(f"head_share must be within 0..1, got {self.head_share}")


@dataclass
class SolvedBody:
    """Output of `BodySolver.solve`: local rotations (relative to the T-pose), the confidence
    reported for each bone and the bones' world rotations (canonical, hips at the root)."""

    local_rotations: dict[str, np.ndarray] = field(default_factory=dict)
    confidence: dict[str, float] = field(default_factory=dict)
    world_rotations: dict[str, np.ndarray] = field(default_factory=dict)


def frame_matrix(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray | None:
    """Columns: ``primary`` normalised, ``secondary`` made perpendicular, their cross product; None if degenerate."""
    p_norm = rm.norm3(primary)
    if p_norm < _EPS:
        return None
    a = np.asarray(primary, dtype=np.float64) / p_norm
    secondary = np.asarray(secondary, dtype=np.float64)
    b = secondary - float(secondary @ a) * a
    b_norm = rm.norm3(b)
    if b_norm < 1e-6 * max(1.0, rm.norm3(secondary)) or b_norm < _EPS:
        return None
    b = b / b_norm
    return np.column_stack([a, b, rm.cross(a, b)])


def rotation_between_frames(observed: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The rotation taking the ``reference`` frame onto the ``observed`` frame (quaternion xyzw)."""
    return quat.from_matrix(observed @ reference.T)


def swing_rotation(from_direction: np.ndarray, to_direction: np.ndarray) -> np.ndarray:
    """The shortest rotation turning ``from_direction`` onto ``to_direction`` (no twist about either)."""
    a = np.asarray(from_direction, dtype=np.float64) / max(rm.norm3(from_direction), _EPS)
    b = np.asarray(to_direction, dtype=np.float64) / max(rm.norm3(to_direction), _EPS)
    dot = min(1.0, max(-1.0, float(a @ b)))
    if dot < -1.0 + 1e-9:  # opposite: any perpendicular axis
        axis = rm.cross(a, [1.0, 0.0, 0.0])
        if rm.norm3(axis) < 1e-6:
            axis = rm.cross(a, [0.0, 1.0, 0.0])
        return rm.axis_angle(axis, math.pi)
    c = rm.cross(a, b)
    return rm.normalise([c[0], c[1], c[2], 1.0 + dot])


def _smoothstep(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return x * x * (3.0 - 2.0 * x)


class BodySolver:
    """Solves `BodyLandmarks` (and optional hands) into local rotations; stateless apart from references."""

    def __init__(self, settings: SolverSettings | None = None, offsets_m: dict[str, np.ndarray] | None = None) -> None:
        self.settings = settings or SolverSettings()
        rest = t_pose("reference")
        self._ref = reference_landmarks(rest, offsets_m)
        self._ref_hand = {side: reference_hand_landmarks(rest, side, offsets_m) for side in SIDES}
        r = self._ref
        self._ref_hips = self._hips_frame(r)
        self._ref_chest = self._chest_frame(r)
        self._ref_head = self._head_frame(r)
        self._ref_hand_frame = {side: self._hand_frame(r, side.lower()) for side in SIDES}
        self._ref_hand_model_frame = {side: self._hand_model_frame(self._ref_hand[side]) for side in SIDES}
        self._ref_foot = {side: self._foot_frame(r, side.lower()) for side in SIDES}
        for name, frame in (("hips", self._ref_hips), ("chest", self._ref_chest), ("head", self._ref_head)):
            if frame is None:
                raise RuntimeError(f"reference {name} frame is degenerate: check the skeleton offsets")

    # ----- frames from landmarks -------------------------------------------------------------
    @staticmethod
    def _hips_frame(p: np.ndarray) -> np.ndarray | None:
        hip_centre = 0.5 * (p[POSE["left_hip"]] + p[POSE["right_hip"]])
        shoulder_centre = 0.5 * (p[POSE["left_shoulder"]] + p[POSE["right_shoulder"]])
        return frame_matrix(p[POSE["right_hip"]] - p[POSE["left_hip"]], shoulder_centre - hip_centre)

    @staticmethod
    def _chest_frame(p: np.ndarray) -> np.ndarray | None:
        hip_centre = 0.5 * (p[POSE["left_hip"]] + p[POSE["right_hip"]])
        shoulder_centre = 0.5 * (p[POSE["left_shoulder"]] + p[POSE["right_shoulder"]])
        return frame_matrix(p[POSE["right_shoulder"]] - p[POSE["left_shoulder"]], shoulder_centre - hip_centre)

    @staticmethod
    def _head_frame(p: np.ndarray) -> np.ndarray | None:
        lateral = (p[POSE["right_ear"]] - p[POSE["left_ear"]]) + (p[POSE["right_eye"]] - p[POSE["left_eye"]])
        eye_centre = 0.5 * (p[POSE["left_eye"]] + p[POSE["right_eye"]])
        ear_centre = 0.5 * (p[POSE["left_ear"]] + p[POSE["right_ear"]])
        return frame_matrix(lateral, eye_centre - ear_centre)

    @staticmethod
    def _hand_frame(p: np.ndarray, side: str) -> np.ndarray | None:
        index, pinky, wrist = p[POSE[f"{side}_index"]], p[POSE[f"{side}_pinky"]], p[POSE[f"{side}_wrist"]]
        return frame_matrix(0.5 * (index + pinky) - wrist, index - pinky)

    @staticmethod
    def _hand_model_frame(h: np.ndarray) -> np.ndarray | None:
        index, pinky, wrist = h[HAND["index_mcp"]], h[HAND["pinky_mcp"]], h[HAND["wrist"]]
        return frame_matrix(0.5 * (index + pinky) - wrist, index - pinky)

    @staticmethod
    def _foot_frame(p: np.ndarray, side: str) -> np.ndarray | None:
        heel, toe, ankle = p[POSE[f"{side}_heel"]], p[POSE[f"{side}_foot_index"]], p[POSE[f"{side}_ankle"]]
        return frame_matrix(toe - heel, ankle - heel)

    # ----- solving ---------------------------------------------------------------------------
    def solve(
        self,
        body: BodyLandmarks | None,
        hold: ConfidenceHold,
        t_s: float,
        hands: dict[str, HandLandmarks] | None = None,
        solve_fingers: bool = False,
    ) -> SolvedBody:
        """Local rotations of every body bone (and fingers when ``solve_fingers``) through ``hold``.

        ``body=None`` (nobody found) holds every bone. ``hands`` maps "Left"/"Right" to that
        hand's landmarks; fingers of a hand not given are held.
        """
        out = SolvedBody()
        p = None if body is None else body.world_m
        vis = None if body is None else body.visibility

        def conf(*names: str) -> float:
            return 0.0 if vis is None else float(min(vis[POSE[n]] for n in names))

        def emit(bone: str, parent_world: np.ndarray, world: np.ndarray | None, confidence: float) -> np.ndarray:
            local = None if world is None else rm.normalise(rm.mul(rm.conj(parent_world), world))
            local, reported = hold.update(bone, local, confidence, t_s)
            out.local_rotations[bone] = local
            out.confidence[bone] = reported
            world_out = rm.normalise(rm.mul(parent_world, local))
            out.world_rotations[bone] = world_out
            return world_out

        identity = quat.identity()
        # Hips
        hips_world = None
        if p is not None:
            frame = self._hips_frame(p)
            hips_world = None if frame is None else rotation_between_frames(frame, self._ref_hips)
        hips_out = emit("Hips", identity, hips_world, conf("left_hip", "right_hip"))

        # Torso: split the chest's turn over the hips into three equal parts
        chest_world = None
        if p is not None:
            frame = self._chest_frame(p)
            chest_world = None if frame is None else rotation_between_frames(frame, self._ref_chest)
        torso_conf = conf("left_shoulder", "right_shoulder")
        part = None
        if chest_world is not None:
            part = rm.slerp(identity, rm.mul(rm.conj(hips_out), chest_world), 1.0 / 3.0)
        parent = hips_out
        for bone in TORSO_BONES:
            parent = emit(bone, parent, None if part is None else rm.mul(parent, part), torso_conf)
        chest_out = parent

        # Neck and head
        head_world = None
        if p is not None:
            frame = self._head_frame(p)
            head_world = None if frame is None else rotation_between_frames(frame, self._ref_head)
        head_conf = 0.0 if vis is None else float(np.median(vis[[POSE[n] for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear")]]))
        neck_world = None
        if head_world is not None:
            turn = rm.mul(rm.conj(chest_out), head_world)
            neck_world = rm.mul(chest_out, rm.slerp(identity, turn, 1.0 - self.settings.head_share))
        neck_out = emit("Neck", chest_out, neck_world, head_conf)
        emit("Head", neck_out, head_world, head_conf)

        for side in SIDES:
            s = side.lower()
            shoulder_out = emit(f"{side}Shoulder", chest_out, chest_out, torso_conf)
            self._solve_limb(
                emit, p, conf, side, shoulder_out,
                ("UpperArm", "LowerArm"), (f"{s}_shoulder", f"{s}_elbow", f"{s}_wrist"),
                _ELBOW_HINGE[side], allow_backwards=True,
            )  # fmt: skip
            lower_arm_out = out.world_rotations[f"{side}LowerArm"]
            hand = None if hands is None else hands.get(side)
            hand_world = None
            hand_conf = conf(f"{s}_wrist", f"{s}_index", f"{s}_pinky")
            if hand is not None:
                frame = self._hand_model_frame(hand.world_m)
                ref = self._ref_hand_model_frame[side]
                if frame is not None and ref is not None:
                    hand_world = rotation_between_frames(frame, ref)
                    hand_conf = max(hand_conf, float(hand.score))
            elif p is not None:
                frame = self._hand_frame(p, s)
                ref = self._ref_hand_frame[side]
                if frame is not None and ref is not None:
                    hand_world = rotation_between_frames(frame, ref)
            hand_out = emit(f"{side}Hand", lower_arm_out, hand_world, hand_conf)
            if solve_fingers:
                self._solve_fingers(emit, side, hand, hand_out)

        for side in SIDES:
            s = side.lower()
            self._solve_limb(
                emit, p, conf, side, hips_out,
                ("UpperLeg", "LowerLeg"), (f"{s}_hip", f"{s}_knee", f"{s}_ankle"),
                _KNEE_HINGE, allow_backwards=False,
            )  # fmt: skip
            foot_world = None
            if p is not None:
                frame = self._foot_frame(p, s)
                ref = self._ref_foot[side]
                if frame is not None and ref is not None:
                    foot_world = rotation_between_frames(frame, ref)
            foot_conf = conf(f"{s}_ankle", f"{s}_heel", f"{s}_foot_index")
            foot_out = emit(f"{side}Foot", out.world_rotations[f"{side}LowerLeg"], foot_world, foot_conf)
            emit(f"{side}Toes", foot_out, foot_out, foot_conf)
        return out

    def _solve_limb(
        self,
        emit: Emit,
        p: np.ndarray | None,
        conf: Callable[..., float],
        side: str,
        parent_world: np.ndarray,
        bones: tuple[str, str],
        names: tuple[str, str, str],
        ref_hinge: np.ndarray,
        allow_backwards: bool,
    ) -> None:
        """Upper and lower segment of an arm or a leg (see module doc)."""
        upper_bone, lower_bone = (f"{side}{bones[0]}", f"{side}{bones[1]}")
        a_name, b_name, c_name = names
        ref_upper = self._ref[POSE[b_name]] - self._ref[POSE[a_name]]
        ref_lower = self._ref[POSE[c_name]] - self._ref[POSE[b_name]]
        upper_conf = conf(a_name, b_name)
        lower_conf = conf(b_name, c_name)
        upper_world = lower_world = None
        weight = 0.0
        hinge = None
        if p is not None:
            upper = p[POSE[b_name]] - p[POSE[a_name]]
            lower = p[POSE[c_name]] - p[POSE[b_name]]
            s = self.settings
            bend = rm.angle_deg(upper, lower)
            weight = _smoothstep((bend - s.min_bend_deg) / (s.full_bend_deg - s.min_bend_deg))
            if lower_conf < 0.5:  # an unseen wrist or ankle says nothing about the twist
                weight = 0.0
            swing = rm.mul(swing_rotation(rm.rotate(parent_world, ref_upper), upper), parent_world)
            upper_world = swing
            if weight > 0.0:
                hinge = rm.cross(upper, lower)
                observed = frame_matrix(upper, hinge)
                reference = frame_matrix(ref_upper, ref_hinge)
                if observed is not None and reference is not None:
                    hinged = rotation_between_frames(observed, reference)
                    if not allow_backwards and float(rm.rotate(swing, ref_hinge) @ hinge) < 0.0:
                        weight = 0.0
                    else:
                        upper_world = rm.slerp(swing, hinged, weight)
                else:
                    weight = 0.0
        upper_out = emit(upper_bone, parent_world, upper_world, upper_conf)
        if p is not None:
            lower = p[POSE[c_name]] - p[POSE[b_name]]
            lower_world = rm.mul(swing_rotation(rm.rotate(upper_out, ref_lower), lower), upper_out)
            if weight > 0.0 and hinge is not None:
                observed = frame_matrix(lower, hinge)
                reference = frame_matrix(ref_lower, ref_hinge)
                if observed is not None and reference is not None:
                    lower_world = rm.slerp(lower_world, rotation_between_frames(observed, reference), weight)
        emit(lower_bone, upper_out, lower_world, lower_conf)

    def _solve_fingers(self, emit: Emit, side: str, hand: HandLandmarks | None, hand_out: np.ndarray) -> None:
        ref = self._ref_hand[side]
        for finger in FINGER_NAMES:
            indices = FINGER_LANDMARKS[finger]
            parent = hand_out
            for phalanx, (start, end) in zip(FINGER_PHALANGES, zip(indices[:-1], indices[1:])):
                bone = f"{side}{finger}{phalanx}"
                world = None
                confidence = 0.0
                if hand is not None:
                    observed = hand.world_m[end] - hand.world_m[start]
                    reference = ref[end] - ref[start]
                    world = rm.mul(swing_rotation(rm.rotate(parent, reference), observed), parent)
                    confidence = float(hand.score)
                parent = emit(bone, parent, world, confidence)
