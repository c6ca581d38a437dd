"""Move Live (Move.ai markerless capture) gRPC client behind the `MocapSource` interface.

Service (``mocap/move_live_proto/move_live.proto``, written from the reference summary; the
generated stubs ``move_live_pb2*.py`` are committed next to it, regenerate with the command in
the .proto): ``GetStructure(structure ids) -> skeleton links`` once, then
``GetMocapStream(fps) -> stream of MocapPose`` (subject id, structure id, timestamp, local
and/or global joints; each joint a translation plus an orientation given as a quaternion, a
row-major 3x3 matrix or Euler angles).

Conversion to the canonical pose:

* Link names map to canonical bones with `mocap.bone_names.canonical_bone_name`.
* Move's axes are assumed to be glTF's (right-handed, Y up, +Z facing, metres:
  `mocap.coordinates.GLTF`); pass another `Convention` if a server differs.
* Rotations are made relative to the rest pose: the link offsets chained from the root give
  each joint's rest world orientation ``R``; a frame's world orientation ``G`` (global joints,
  or the local joints chained when a server sends only those) becomes the world delta
  ``G * R^-1``, which is what a T-pose-bound avatar needs. Local canonical rotations then
  follow from those deltas, joints without a canonical counterpart folding into their children.
* The pelvis world position becomes ``root_position_m``; performer ids are
  ``f"{performer_prefix}{subject_id}"``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

try:
    import grpc
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "mocap.move_live needs grpcio (tested with grpcio==1.62.3, which works with protobuf 4.25): "
        f"pip install grpcio==1.62.3 ({error})"
    ) from error

from mocap import coordinates
from mocap import quaternion as quat
from mocap.bone_names import canonical_bone_name
from mocap.move_live_proto import move_live_pb2, move_live_pb2_grpc
from mocap.skeleton import HUMAN_BONES, HumanoidPose, local_from_global_arrays
from mocap.source import PoseCallback, PoseFanout, SourceStats

log = logging.getLogger(__name__)

MOVE_LIVE_DEFAULT_ADDRESS = "127.0.0.1:54321"


class MoveLiveError(ValueError):
    """A Move Live message that cannot become a pose (unknown structure, bad transform, ...)."""


def transform_rotation(transform: move_live_pb2.Transform) -> np.ndarray:
    """Orientation of a Transform as (x, y, z, w), whichever of its three forms it carries."""
    kind = transform.WhichOneof("orientation")
    if kind is None:
        return quat.identity()
    if kind == "quaternion":
        q = transform.quaternion
        values = np.array([q.x, q.y, q.z, q.w], dtype=np.float64)
        try:
            return quat.normalise(values)
        except ValueError:
            raise MoveLiveError(f"quaternion {values.tolist()} has zero length") from None
    if kind == "matrix":
        values = list(transform.matrix.values)
        if len(values) != 9:
            raise MoveLiveError(f"rotation matrix must have 9 values, got {len(values)}")
        return quat.from_matrix(np.array(values, dtype=np.float64).reshape(3, 3))
    euler = transform.euler
    try:
        return quat.from_euler_deg(np.array([euler.x_deg, euler.y_deg, euler.z_deg])[_order_indices(euler.order)], euler.order or "XYZ")
    except ValueError as error:
        raise MoveLiveError(f"bad Euler orientation: {error}") from None


def _order_indices(order: str) -> list[int]:
    order = (order or "XYZ").upper()
    if sorted(order) != ["X", "Y", "Z"]:
        raise MoveLiveError(f"Euler order must be a permutation of XYZ, got {order!r}")
    return ["XYZ".index(axis) for axis in order]


def transform_translation(transform: move_live_pb2.Transform) -> np.ndarray:
    t = transform.translation
    return np.array([t.x, t.y, t.z], dtype=np.float64)


@dataclass
class MoveSkeleton:
    """One Move structure prepared for conversion."""

    structure_id: int
    link_ids: list[int]  # parents before children
    parents: dict[int, int]  # link id -> parent id (-1 root)
    names: dict[int, str]
    offsets_translation: dict[int, np.ndarray]
    offsets_rotation: dict[int, np.ndarray]
    rest_world_rotation: dict[int, np.ndarray] = field(default_factory=dict)
    bones: tuple[str, ...] = ()
    bone_link_ids: list[int] = field(default_factory=list)
    hips_link_id: int = -1

    @classmethod
    def from_proto(cls, structure: move_live_pb2.Structure) -> MoveSkeleton:
        links = {link.id: link for link in structure.links}
        if len(links) != len(structure.links):
            raise MoveLiveError(f"structure {structure.structure_id}: duplicate link ids")
        parents = {link.id: link.parent_id for link in structure.links}
        for link_id, parent in parents.items():
            if parent != -1 and parent not in links:
                raise MoveLiveError(f"structure {structure.structure_id}: link {link_id} has unknown parent {parent}")
        ordered: list[int] = []
        placed: set[int] = set()
        pending = list(links)
        while pending:
            progressed = False
            for link_id in list(pending):
                if parents[link_id] == -1 or parents[link_id] in placed:
                    ordered.append(link_id)
                    placed.add(link_id)
                    pending.remove(link_id)
                    progressed = True
            if not progressed:
                raise MoveLiveError(f"structure {structure.structure_id}: links {pending} form a cycle")
        skeleton = cls(
            structure_id=structure.structure_id,
            link_ids=ordered,
            parents=parents,
            names={link_id: links[link_id].name for link_id in ordered},
            offsets_translation={link_id: transform_translation(links[link_id].offset) for link_id in ordered},
            offsets_rotation={link_id: transform_rotation(links[link_id].offset) for link_id in ordered},
        )
        for link_id in ordered:
            parent = parents[link_id]
            local = skeleton.offsets_rotation[link_id]
            skeleton.rest_world_rotation[link_id] = (
                local if parent == -1 else quat.multiply(skeleton.rest_world_rotation[parent], local)
            )
        bone_to_link: dict[str, int] = {}
        for link_id in ordered:
            bone = canonical_bone_name(skeleton.names[link_id])
            if bone is not None and bone not in bone_to_link:
                bone_to_link[bone] = link_id
        if "Hips" not in bone_to_link:
            raise MoveLiveError(
                f"structure {structure.structure_id}: no link maps to Hips (links: {sorted(skeleton.names.values())})"
            )
        skeleton.bones = tuple(bone for bone in HUMAN_BONES if bone in bone_to_link)
        skeleton.bone_link_ids = [bone_to_link[bone] for bone in skeleton.bones]
        skeleton.hips_link_id = bone_to_link["Hips"]
        return skeleton


def move_pose_to_humanoid(
    message: move_live_pb2.MocapPose,
    skeleton: MoveSkeleton,
    convention: coordinates.Convention = coordinates.GLTF,
    performer_prefix: str = "move-",
    timestamp_ns: int | None = None,
) -> HumanoidPose:
    """Convert one streamed pose with its structure (see module doc)."""
    world_rotation: dict[int, np.ndarray] = {}
    world_position: dict[int, np.ndarray] = {}
    if message.global_joints:
        for joint in message.global_joints:
            world_rotation[joint.id] = transform_rotation(joint.transform)
            world_position[joint.id] = transform_translation(joint.transform)
    if message.local_joints and len(world_rotation) < len(skeleton.link_ids):
        local = {joint.id: joint.transform for joint in message.local_joints}
        for link_id in skeleton.link_ids:
            if link_id in world_rotation:
                continue
            transform = local.get(link_id)
            rotation = skeleton.offsets_rotation[link_id] if transform is None else transform_rotation(transform)
            translation = (
                skeleton.offsets_translation[link_id] if transform is None else transform_translation(transform)
            )
            parent = skeleton.parents[link_id]
            if parent == -1:
                world_rotation[link_id], world_position[link_id] = rotation, translation
            else:
                world_rotation[link_id] = quat.multiply(world_rotation[parent], rotation)
                world_position[link_id] = world_position[parent] + quat.rotate_vector(world_rotation[parent], translation)
    if skeleton.hips_link_id not in world_rotation:
        raise MoveLiveError(f"subject {message.subject_id}: pose has no joint for the hips link {skeleton.hips_link_id}")
    present = [(bone, link_id) for bone, link_id in zip(skeleton.bones, skeleton.bone_link_ids) if link_id in world_rotation]
    bones = tuple(bone for bone, _ in present)
    deltas = np.array(
        [quat.multiply(world_rotation[link_id], quat.conjugate(skeleton.rest_world_rotation[link_id])) for _, link_id in present]
    )
    local_unity = local_from_global_arrays(bones, coordinates.rotation_to_unity(deltas, convention))
    hips_position = coordinates.position_to_unity(world_position[skeleton.hips_link_id], convention)
    return HumanoidPose(
        performer_id=f"{performer_prefix}{message.subject_id}",
        timestamp_ns=timestamp_ns if timestamp_ns is not None else message.timestamp_us * 1000,
        root_position_m=hips_position,
        root_rotation=quat.identity(),
        bone_rotations={bone: local_unity[row] for row, bone in enumerate(bones)},
        source="move_live",
    )


class MoveLiveSource:
    """Connects to a Move Live server, fetches the structures, then streams poses.

    On a broken stream it reconnects after ``reconnect_delay_s`` until stopped; failures are
    counted in ``stats().rejected`` with the gRPC status. Pose timestamps are the local
    wall-clock arrival time (``time.time_ns()``); the server's capture time stays in the
    message (``timestamp_us``) and its offset to ours is unknown.
    """

    name = "move_live"

    def __init__(
        self,
        address: str = MOVE_LIVE_DEFAULT_ADDRESS,
        fps: float = 60.0,
        structure_ids: Sequence[int] = (),
        convention: coordinates.Convention = coordinates.GLTF,
        performer_prefix: str = "move-",
        reconnect_delay_s: float = 1.0,
        rpc_timeout_s: float = 5.0,
    ) -> None:
        self.address = address
        self.fps = fps
        self.structure_ids = list(structure_ids)
        self.convention = convention
        self.performer_prefix = performer_prefix
        self.reconnect_delay_s = reconnect_delay_s
        self.rpc_timeout_s = rpc_timeout_s
        self.skeletons: dict[int, MoveSkeleton] = {}
        self.connected = threading.Event()
        self._fanout = PoseFanout()
        self._running = threading.Event()
        self._thread: threading.Thread | None = None
        self._call_lock = threading.Lock()
        self._call: grpc.Future | None = None
        self._channel: grpc.Channel | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._fanout.reopen()
        self._running.set()
        self._thread = threading.Thread(target=self._run, name="mocap-move-live", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._running.clear()
        with self._call_lock:
            if self._call is not None:
                self._call.cancel()
            if self._channel is not None:
                self._channel.close()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None
        self._fanout.close()

    def poses(self, timeout_s: float | None = None) -> Iterator[HumanoidPose]:
        return self._fanout.poses(timeout_s)

    def add_listener(self, callback: PoseCallback) -> None:
        self._fanout.add_listener(callback)

    def stats(self) -> SourceStats:
        return self._fanout.stats()

    def _run(self) -> None:
        while self._running.is_set():
            try:
                self._stream_once()
            except grpc.RpcError as error:
                if not self._running.is_set():
                    return
                code = error.code() if hasattr(error, "code") else None
                details = error.details() if hasattr(error, "details") else str(error)
                self._fanout.note_rejected(f"Move Live {self.address}: {code}: {details}")
            except MoveLiveError as error:
                self._fanout.note_rejected(f"Move Live {self.address}: {error}")
            except Exception as error:  # e.g. ValueError from a channel closed by stop()
                if not self._running.is_set():
                    return
                log.exception("Move Live client failed")
                self._fanout.note_rejected(f"Move Live {self.address}: {type(error).__name__}: {error}")
            finally:
                self.connected.clear()
            if self._running.wait(0) and self.reconnect_delay_s > 0:
                deadline = time.monotonic() + self.reconnect_delay_s
                while self._running.is_set() and time.monotonic() < deadline:
                    time.sleep(0.05)

    def _stream_once(self) -> None:
        channel = grpc.insecure_channel(self.address)
        with self._call_lock:
            self._channel = channel
        try:
            stub = move_live_pb2_grpc.MoveLiveStub(channel)
            response = stub.GetStructure(
                move_live_pb2.StructureRequest(structure_ids=self.structure_ids), timeout=self.rpc_timeout_s
            )
            self.skeletons = {s.structure_id: MoveSkeleton.from_proto(s) for s in response.structures}
            if not self.skeletons:
                raise MoveLiveError("GetStructure returned no structures")
            with self._call_lock:
                if not self._running.is_set():
                    return
                call = stub.GetMocapStream(move_live_pb2.MocapStreamRequest(fps=self.fps))
                self._call = call
            self.connected.set()
            for message in call:
                self._fanout.note_input()
                skeleton = self.skeletons.get(message.structure_id)
                if skeleton is None:
                    if len(self.skeletons) == 1 and message.structure_id == 0:
                        skeleton = next(iter(self.skeletons.values()))
                    else:
                        self._fanout.note_rejected(f"pose for unknown structure {message.structure_id}")
                        continue
                try:
                    pose = move_pose_to_humanoid(
                        message, skeleton, self.convention, self.performer_prefix, time.time_ns()
                    )
                except MoveLiveError as error:
                    self._fanout.note_rejected(str(error))
                    continue
                self._fanout.publish(pose)
        finally:
            with self._call_lock:
                self._call = None
                self._channel = None
            channel.close()
