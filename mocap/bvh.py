"""BVH (Biovision Hierarchy): read, write, convert to/from `HumanoidPose` sequences, play back.

Format: ``HIERARCHY`` then ``ROOT name { OFFSET x y z  CHANNELS n ...  JOINT ... { ... }
End Site { OFFSET x y z } }``, then ``MOTION``, ``Frames: N``, ``Frame Time: s`` and N lines
holding every channel in declaration (depth-first) order. Channels may come in any order; the
rotation of a joint is the product of its rotation channels in the listed order (``Zrotation
Xrotation Yrotation`` -> ``Rz @ Rx @ Ry``), angles in degrees.

Choices (documented because BVH leaves them open):

* Axes: right-handed, Y up, character facing +Z (so +X is the character's left), the usual
  convention of CMU, MotionBuilder and Rokoko exports (`mocap.coordinates.bvh_convention`).
* Units: BVH has no unit field; ``units_per_m`` (default 100: centimetres) says what the file
  uses, both when reading and writing.
* A joint with position channels takes its translation from them (they replace its OFFSET, as
  Blender and MotionBuilder read root motion); the writer writes the root OFFSET as zero, so
  readers that add the two instead agree.
* The zero-rotation rest pose of a file is taken as the T-pose bind. Files written here are
  in the T-pose; other files whose rest pose differs need retargeting first.
* Joint names map to canonical bones through `mocap.bone_names` (canonical names, Mixamo
  ``mixamorig:`` names, CMU/MotionBuilder names); unmapped joints fold into their children's
  local rotations (conversion goes through global orientations, so no motion is lost).

Precision: the writer prints ``decimals`` (default 6) digits after the point, so write-then-read
gives back every channel within ``0.5 * 10**-decimals`` (degrees or file units).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mocap import coordinates
from mocap import quaternion as quat
from mocap.bone_names import canonical_bone_name
from mocap.skeleton import (
    BONE_PARENTS,
    HUMAN_BONE_INDEX,
    HUMAN_BONES,
    T_POSE_OFFSETS_M,
    HumanoidPose,
    local_from_global_arrays,
)
from mocap.source import PoseCallback, PoseFanout, SourceStats

log = logging.getLogger(__name__)

POSITION_CHANNELS = ("Xposition", "Yposition", "Zposition")
ROTATION_CHANNELS = ("Xrotation", "Yrotation", "Zrotation")
_CHANNEL_BY_LOWER = {name.lower(): name for name in POSITION_CHANNELS + ROTATION_CHANNELS}


class BvhFormatError(ValueError):
    """A BVH text that does not follow the format; the message names the line and the cause."""


@dataclass
class BvhJoint:
    name: str
    offset: np.ndarray  # (3,) file units
    channels: tuple[str, ...]
    parent: str | None
    children: list[BvhJoint] = field(default_factory=list)
    end_site: np.ndarray | None = None  # End Site offset, file units


@dataclass
class BvhFile:
    """A parsed BVH: the hierarchy (``root``) and the motion (``frames``: frames x channels)."""

    root: BvhJoint
    frame_time_s: float
    frames: np.ndarray  # (n_frames, n_channels) float64

    def joints(self) -> list[BvhJoint]:
        """Every joint, depth first (the channel order of the MOTION section)."""
        order: list[BvhJoint] = []
        stack = [self.root]
        while stack:
            joint = stack.pop()
            order.append(joint)
            stack.extend(reversed(joint.children))
        return order

    def channel_layout(self) -> dict[str, tuple[int, tuple[str, ...]]]:
        """Joint name -> (first column in ``frames``, channel names)."""
        layout: dict[str, tuple[int, tuple[str, ...]]] = {}
        column = 0
        for joint in self.joints():
            layout[joint.name] = (column, joint.channels)
            column += len(joint.channels)
        return layout

    @property
    def channel_count(self) -> int:
        return sum(len(joint.channels) for joint in self.joints())

    @property
    def frame_rate_hz(self) -> float:
        return 1.0 / self.frame_time_s


# ---------------------------------------------------------------------------------------------
# Reading


class _Tokens:
    def __init__(self, text: str) -> None:
        self.items: list[tuple[str, int]] = []
        for line_number, line in enumerate(text.splitlines(), start=1):
            for word in line.replace("{", " { ").replace("}", " } ").split():
                self.items.append((word, line_number))
        self.position = 0

    def peek(self) -> str | None:
        return self.items[self.position][0] if self.position < len(self.items) else None

    def line(self) -> int:
        if self.position < len(self.items):
            return self.items[self.position][1]
        return self.items[-1][1] if self.items else 0

    def next(self, what: str) -> str:
        if self.position >= len(self.items):
            raise BvhFormatError(f"unexpected end of file, expected {what}")
        word = self.items[self.position][0]
        self.position += 1
        return word

    def expect(self, word: str) -> None:
        line = self.line()
        got = self.next(repr(word))
        if got.upper() != word.upper():
            raise BvhFormatError(f"line {line}: expected {word!r}, got {got!r}")

    def number(self, what: str) -> float:
        line = self.line()
        word = self.next(what)
        try:
            value = float(word)
        except ValueError:
            raise BvhFormatError(f"line {line}: {what} must be a number, got {word!r}") from None
        if not np.isfinite(value):
            raise BvhFormatError(f"line {line}: {what} is not finite ({word!r})")
        return value


def _parse_joint(tokens: _Tokens, name: str, parent: str | None, names: set[str]) -> BvhJoint:
    line = tokens.line()
    if name in names:
        raise BvhFormatError(f"line {line}: joint name {name!r} appears twice")
    names.add(name)
    tokens.expect("{")
    tokens.expect("OFFSET")
    offset = np.array([tokens.number(f"{name} OFFSET {axis}") for axis in "xyz"])
    channels: tuple[str, ...] = ()
    if (tokens.peek() or "").upper() == "CHANNELS":
        tokens.next("CHANNELS")
        count_line = tokens.line()
        count = tokens.number(f"{name} channel count")
        if count != int(count) or not 0 <= count <= 6:
            raise BvhFormatError(f"line {count_line}: {name} channel count must be 0..6, got {count}")
        parsed: list[str] = []
        for _ in range(int(count)):
            channel_line = tokens.line()
            word = tokens.next(f"{name} channel name")
            channel = _CHANNEL_BY_LOWER.get(word.lower())
            if channel is None:
                raise BvhFormatError(f"line {channel_line}: {name}: unknown channel {word!r}")
            if channel in parsed:
                raise BvhFormatError(f"line {channel_line}: {name}: channel {channel} listed twice")
            parsed.append(channel)
        channels = tuple(parsed)
    joint = BvhJoint(name, offset, channels, parent)
    while True:
        line = tokens.line()
        word = tokens.next(f"JOINT, End Site or '}}' in {name}")
        upper = word.upper()
        if upper == "}":
            return joint
        if upper == "JOINT":
            child_name = tokens.next("joint name")
            joint.children.append(_parse_joint(tokens, child_name, name, names))
        elif upper == "END":
            tokens.expect("Site")
            tokens.expect("{")
            tokens.expect("OFFSET")
            joint.end_site = np.array([tokens.number(f"{name} End Site OFFSET {axis}") for axis in "xyz"])
            tokens.expect("}")
        else:
            raise BvhFormatError(f"line {line}: expected JOINT, End Site or '}}' in {name}, got {word!r}")


def parse_bvh(text: str) -> BvhFile:
    """Parse BVH text; raises `BvhFormatError` naming the line and cause of any problem."""
    tokens = _Tokens(text)
    tokens.expect("HIERARCHY")
    tokens.expect("ROOT")
    root = _parse_joint(tokens, tokens.next("root joint name"), None, set())
    tokens.expect("MOTION")
    tokens.expect("Frames:")
    frames_line = tokens.line()
    frame_count = tokens.number("frame count")
    if frame_count != int(frame_count) or frame_count < 0:
        raise BvhFormatError(f"line {frames_line}: frame count must be a non-negative integer, got {frame_count}")
    tokens.expect("Frame")
    tokens.expect("Time:")
    time_line = tokens.line()
    frame_time = tokens.number("frame time")
    if frame_time <= 0.0:
        raise BvhFormatError(f"line {time_line}: frame time must be positive, got {frame_time}")
    bvh = BvhFile(root, frame_time, np.zeros((0, 0)))
    channel_count = bvh.channel_count
    words = [word for word, _ in tokens.items[tokens.position :]]
    expected = int(frame_count) * channel_count
    if len(words) != expected:
        raise BvhFormatError(
            f"MOTION declares {int(frame_count)} frames x {channel_count} channels = {expected} values, "
            f"the file has {len(words)}"
        )
    try:
        values = np.array(words, dtype=np.float64)
    except ValueError:
        bad = next(word for word in words if not _is_number(word))
        raise BvhFormatError(f"MOTION holds a value that is not a number: {bad!r}") from None
    if not np.all(np.isfinite(values)):
        raise BvhFormatError("MOTION holds non-finite values")
    bvh.frames = values.reshape(int(frame_count), channel_count)
    return bvh


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def read_bvh(path: str | os.PathLike[str]) -> BvhFile:
    """Read a BVH file (errors name the file)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except FileNotFoundError:
        raise FileNotFoundError(f"BVH file not found: {path}") from None
    try:
        return parse_bvh(text)
    except BvhFormatError as error:
        raise BvhFormatError(f"{path}: {error}") from None


# ---------------------------------------------------------------------------------------------
# Writing


def format_bvh(bvh: BvhFile, decimals: int = 6) -> str:
    """BVH text of ``bvh``; every value printed with ``decimals`` digits after the point."""
    if bvh.frames.ndim != 2 or bvh.frames.shape[1] != bvh.channel_count:
        raise ValueError(f"frames have shape {bvh.frames.shape}, the hierarchy has {bvh.channel_count} channels")
    number = f"{{:.{decimals}f}}"
    lines = ["HIERARCHY"]

    def write_joint(joint: BvhJoint, depth: int) -> None:
        indent = "\t" * depth
        keyword = "ROOT" if depth == 0 else "JOINT"
        lines.append(f"{indent}{keyword} {joint.name}")
        lines.append(f"{indent}{{")
        lines.append(f"{indent}\tOFFSET " + " ".join(number.format(v) for v in joint.offset))
        lines.append(f"{indent}\tCHANNELS {len(joint.channels)} " + " ".join(joint.channels))
        for child in joint.children:
            write_joint(child, depth + 1)
        if joint.end_site is not None:
            lines.append(f"{indent}\tEnd Site")
            lines.append(f"{indent}\t{{")
            lines.append(f"{indent}\t\tOFFSET " + " ".join(number.format(v) for v in joint.end_site))
            lines.append(f"{indent}\t}}")
        lines.append(f"{indent}}}")

    write_joint(bvh.root, 0)
    lines.append("MOTION")
    lines.append(f"Frames: {bvh.frames.shape[0]}")
    lines.append(f"Frame Time: {bvh.frame_time_s:.8f}")
    for row in bvh.frames:
        lines.append(" ".join(number.format(v) for v in row))
    return "\n".join(lines) + "\n"


def write_bvh(bvh: BvhFile, path: str | os.PathLike[str], decimals: int = 6) -> None:
    Path(path).write_text(format_bvh(bvh, decimals), encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# Conversion to and from HumanoidPose


def _axis_rotations(axis: str, angles_deg: np.ndarray) -> np.ndarray:
    half = np.radians(angles_deg) * 0.5
    out = np.zeros(angles_deg.shape + (4,))
    out[..., "XYZ".index(axis[0])] = np.sin(half)
    out[..., 3] = np.cos(half)
    return out


def bvh_global_transforms(bvh: BvhFile) -> tuple[list[str], np.ndarray, np.ndarray]:
    """World transforms of every joint for every frame, in the file's own axes and units.

    Returns (joint names depth first, positions (frames, joints, 3), rotations (frames, joints, 4)).
    """
    joints = bvh.joints()
    frames = bvh.frames
    frame_count = frames.shape[0]
    index = {joint.name: i for i, joint in enumerate(joints)}
    positions = np.zeros((frame_count, len(joints), 3))
    rotations = np.zeros((frame_count, len(joints), 4))
    column = 0
    for i, joint in enumerate(joints):
        local_rotation = np.tile(quat.IDENTITY, (frame_count, 1))
        translation = np.tile(joint.offset, (frame_count, 1))
        for channel in joint.channels:
            values = frames[:, column]
            column += 1
            if channel.endswith("rotation"):
                local_rotation = quat.multiply(local_rotation, _axis_rotations(channel, values))
            else:
                translation[:, "XYZ".index(channel[0])] = values
        if joint.parent is None:
            positions[:, i] = translation
            rotations[:, i] = local_rotation
        else:
            parent = index[joint.parent]
            positions[:, i] = positions[:, parent] + quat.rotate_vector(rotations[:, parent], translation)
            rotations[:, i] = quat.multiply(rotations[:, parent], local_rotation)
    return [joint.name for joint in joints], positions, rotations


def bvh_to_poses(
    bvh: BvhFile,
    performer_id: str = "bvh",
    units_per_m: float = 100.0,
    start_ns: int = 0,
    bone_names: dict[str, str] | None = None,
) -> list[HumanoidPose]:
    """One canonical pose per frame (pelvis at the root, root rotation identity).

    ``bone_names`` maps joint names to canonical bones and overrides `canonical_bone_name`.
    Timestamps are ``start_ns + frame * frame_time``.
    """
    convention = coordinates.bvh_convention(units_per_m)
    names, positions, rotations = bvh_global_transforms(bvh)
    mapping: dict[str, int] = {}
    for column, joint_name in enumerate(names):
        bone = (bone_names or {}).get(joint_name) or canonical_bone_name(joint_name)
        if bone is not None and bone not in mapping:
            mapping[bone] = column
    if "Hips" not in mapping:
        raise ValueError(f"no BVH joint maps to Hips (joints: {names[:8]}...); pass bone_names")
    bones = tuple(bone for bone in HUMAN_BONES if bone in mapping)
    columns = [mapping[bone] for bone in bones]
    global_unity = coordinates.rotation_to_unity(rotations[:, columns], convention)
    local = local_from_global_arrays(bones, global_unity)
    hips_positions = coordinates.position_to_unity(positions[:, mapping["Hips"]], convention)
    frame_ns = int(round(bvh.frame_time_s * 1e9))
    poses = []
    for frame in range(bvh.frames.shape[0]):
        poses.append(
            HumanoidPose(
                performer_id=performer_id,
                timestamp_ns=start_ns + frame * frame_ns,
                root_position_m=hips_positions[frame].copy(),
                root_rotation=quat.identity(),
                bone_rotations={bone: local[frame, row] for row, bone in enumerate(bones)},
                source="bvh",
            )
        )
    return poses


_LEAF_END_SITES_M = {
    "Head": (0.0, 0.18, 0.0),
    "LeftToes": (0.0, 0.0, 0.05),
    "RightToes": (0.0, 0.0, 0.05),
    "LeftEye": (0.0, 0.0, 0.02),
    "RightEye": (0.0, 0.0, 0.02),
    "Jaw": (0.0, -0.02, 0.08),
}


def poses_to_bvh(
    poses: Sequence[HumanoidPose],
    frame_time_s: float,
    units_per_m: float = 100.0,
    rotation_order: str = "ZXY",
    offsets_m: dict[str, np.ndarray] | None = None,
    bones: Sequence[str] | None = None,
) -> BvhFile:
    """A BVH of ``poses`` (one frame each, in order) on the canonical skeleton.

    The hierarchy holds ``bones`` (default: every bone any pose sets, plus the ancestors that
    connect them); joints are named after the canonical bones; the root ``Hips`` has position
    and rotation channels, the others rotation channels in ``rotation_order``. Offsets come
    from the first pose's ``bone_positions_m`` where set, else ``offsets_m`` (default T-pose).
    """
    if not poses:
        raise ValueError("poses_to_bvh needs at least one pose")
    if frame_time_s <= 0.0:
        raise ValueError(f"frame_time_s must be positive, got {frame_time_s}")
    order = rotation_order.upper()
    quat.from_euler_deg(np.zeros(3), order)  # validates the order
    convention = coordinates.bvh_convention(units_per_m)
    offsets = T_POSE_OFFSETS_M if offsets_m is None else offsets_m
    wanted: set[str] = set(bones) if bones is not None else {name for pose in poses for name in pose.bone_rotations}
    wanted.add("Hips")
    for name in list(wanted):
        if name not in HUMAN_BONE_INDEX:
            raise ValueError(f"unknown bone {name!r}")
        parent = BONE_PARENTS[name]
        while parent is not None:
            wanted.add(parent)
            parent = BONE_PARENTS[parent]
    included = tuple(name for name in HUMAN_BONES if name in wanted)
    rotation_channels = tuple(f"{axis}rotation" for axis in order)

    joints: dict[str, BvhJoint] = {}
    for name in sorted(included, key=_depth):
        parent = BONE_PARENTS[name]
        if name == "Hips":
            offset = np.zeros(3)
            channels = POSITION_CHANNELS + rotation_channels
        else:
            local = poses[0].bone_positions_m.get(name, offsets[name])
            offset = coordinates.position_from_unity(local, convention)
            channels = rotation_channels
        joints[name] = BvhJoint(name, offset, channels, parent)
    for name in included:  # HumanBodyBones order gives a stable child order
        parent = BONE_PARENTS[name]
        if parent is not None:
            joints[parent].children.append(joints[name])
    for joint in joints.values():
        if not joint.children:
            end = _LEAF_END_SITES_M.get(joint.name)
            if end is None:  # limbs and fingers continue along the bone's own direction
                direction = offsets.get(joint.name, np.zeros(3))
                end = tuple(0.5 * np.asarray(direction)) if np.linalg.norm(direction) > 0 else (0.0, 0.05, 0.0)
            joint.end_site = coordinates.position_from_unity(np.asarray(end, dtype=np.float64), convention)
    root = joints["Hips"]
    bvh = BvhFile(root, frame_time_s, np.zeros((0, 0)))
    layout = bvh.channel_layout()
    frames = np.zeros((len(poses), bvh.channel_count))
    for row, pose in enumerate(poses):
        hips_local = np.asarray(pose.bone_positions_m.get("Hips", np.zeros(3)), dtype=np.float64)
        hips_position = np.asarray(pose.root_position_m) + quat.rotate_vector(pose.root_rotation, hips_local)
        for name in included:
            column, channels = layout[name]
            rotation = pose.rotation(name)
            if name == "Hips":
                rotation = quat.multiply(pose.root_rotation, rotation)
                frames[row, column : column + 3] = coordinates.position_from_unity(hips_position, convention)
                column += 3
            bvh_rotation = coordinates.rotation_from_unity(quat.normalise(rotation), convention)
            frames[row, column : column + 3] = quat.to_euler_deg(bvh_rotation, order)
    bvh.frames = frames
    return bvh


def _depth(name: str) -> int:
    depth = 0
    parent = BONE_PARENTS[name]
    while parent is not None:
        depth += 1
        parent = BONE_PARENTS[parent]
    return depth


# ---------------------------------------------------------------------------------------------
# Recording and playback


class BvhRecorder:
    """Collects one performer's poses (e.g. as a source listener) and writes them as BVH.

    Poses arrive at the source's rate, not evenly spaced; `to_bvh` resamples them on a fixed
    frame time: each frame holds the latest pose at or before its instant, or, with
    ``interpolate=True``, blends the two poses around it (slerp/lerp) — better when the source
    is slower than the frame rate.
    """

    def __init__(self, performer_id: str | None = None, interpolate: bool = False) -> None:
        self.performer_id = performer_id
        self.interpolate = interpolate
        self._poses: list[HumanoidPose] = []
        self._lock = threading.Lock()

    def add(self, pose: HumanoidPose) -> None:
        if self.performer_id is not None and pose.performer_id != self.performer_id:
            return
        with self._lock:
            self._poses.append(pose.copy())

    __call__ = add  # usable directly as a PoseCallback

    @property
    def pose_count(self) -> int:
        with self._lock:
            return len(self._poses)

    def resampled(self, frame_time_s: float) -> list[HumanoidPose]:
        with self._lock:
            poses = sorted(self._poses, key=lambda pose: pose.timestamp_ns)
        if not poses:
            return []
        start, end = poses[0].timestamp_ns, poses[-1].timestamp_ns
        step_ns = int(round(frame_time_s * 1e9))
        out: list[HumanoidPose] = []
        index = 0
        instant = start
        while instant <= end:
            while index + 1 < len(poses) and poses[index + 1].timestamp_ns <= instant:
                index += 1
            before = poses[index]
            after = poses[min(index + 1, len(poses) - 1)]
            span = after.timestamp_ns - before.timestamp_ns
            t = 0.0 if span <= 0 or not self.interpolate else (instant - before.timestamp_ns) / span
            out.append(interpolate_poses(before, after, t, instant) if t > 0.0 else dataclasses.replace(before, timestamp_ns=instant))
            instant += step_ns
        return out

    def to_bvh(self, frame_time_s: float = 1.0 / 60.0, units_per_m: float = 100.0) -> BvhFile:
        poses = self.resampled(frame_time_s)
        if not poses:
            raise ValueError("nothing recorded: no pose arrived" + (f" for {self.performer_id!r}" if self.performer_id else ""))
        return poses_to_bvh(poses, frame_time_s, units_per_m)

    def write(self, path: str | os.PathLike[str], frame_time_s: float = 1.0 / 60.0, units_per_m: float = 100.0) -> int:
        """Write the recording; returns the number of frames written."""
        bvh = self.to_bvh(frame_time_s, units_per_m)
        write_bvh(bvh, path)
        return bvh.frames.shape[0]


def interpolate_poses(a: HumanoidPose, b: HumanoidPose, t: float, timestamp_ns: int) -> HumanoidPose:
    """Pose between ``a`` (t=0) and ``b`` (t=1): slerp rotations, lerp positions and blendshapes."""
    rotations = {}
    for name in set(a.bone_rotations) | set(b.bone_rotations):
        rotations[name] = quat.slerp(a.rotation(name), b.rotation(name), t)
    positions = {}
    for name in set(a.bone_positions_m) & set(b.bone_positions_m):
        positions[name] = (1 - t) * np.asarray(a.bone_positions_m[name]) + t * np.asarray(b.bone_positions_m[name])
    blendshapes = {
        name: (1 - t) * a.blendshapes.get(name, 0.0) + t * b.blendshapes.get(name, 0.0)
        for name in set(a.blendshapes) | set(b.blendshapes)
    }
    return HumanoidPose(
        performer_id=a.performer_id,
        timestamp_ns=timestamp_ns,
        root_position_m=(1 - t) * np.asarray(a.root_position_m) + t * np.asarray(b.root_position_m),
        root_rotation=quat.slerp(a.root_rotation, b.root_rotation, t),
        bone_rotations=rotations,
        bone_positions_m=positions,
        blendshapes=blendshapes,
        source=a.source,
    )


class BvhPlayerSource:
    """Plays a BVH file as a live `MocapSource`, one pose per frame at the file's frame rate.

    Pose timestamps are the wall-clock time (``time.time_ns()``) at which each is published.
    ``loop`` repeats the take; ``speed`` scales the playback rate.
    """

    name = "bvh"

    def __init__(
        self,
        bvh: BvhFile | str | os.PathLike[str],
        performer_id: str = "bvh",
        units_per_m: float = 100.0,
        loop: bool = False,
        speed: float = 1.0,
    ) -> None:
        self.bvh = bvh if isinstance(bvh, BvhFile) else read_bvh(bvh)
        if speed <= 0.0:
            raise ValueError(f"speed must be positive, got {speed}")
        self._poses = bvh_to_poses(self.bvh, performer_id, units_per_m)
        if not self._poses:
            raise ValueError("the BVH file has no frames to play")
        self.loop = loop
        self.speed = speed
        self._fanout = PoseFanout()
        self._thread: threading.Thread | None = None
        self._running = threading.Event()
        self.finished = threading.Event()

    @property
    def frame_count(self) -> int:
        return len(self._poses)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._running.set()
        self.finished.clear()
        self._fanout.reopen()
        self._thread = threading.Thread(target=self._play, name="mocap-bvh-player", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._running.clear()
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None
        self._fanout.close()

    def poses(self, timeout_s: float | None = None) -> Iterator[HumanoidPose]:
        return self._fanout.poses(timeout_s)

    def add_listener(self, callback: PoseCallback) -> None:
        self._fanout.add_listener(callback)

    def stats(self) -> SourceStats:
        return self._fanout.stats()

    def _play(self) -> None:
        period_s = self.bvh.frame_time_s / self.speed
        next_time = time.monotonic()
        try:
            while self._running.is_set():
                for pose in self._poses:
                    delay = next_time - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    if not self._running.is_set():
                        return
                    frame = dataclasses.replace(pose, timestamp_ns=time.time_ns())
                    self._fanout.note_input()
                    self._fanout.publish(frame)
                    next_time += period_s
                    if next_time < time.monotonic() - 1.0:  # fell far behind: resynchronise
                        next_time = time.monotonic()
                if not self.loop:
                    break
        finally:
            self.finished.set()
            self._fanout.close()
