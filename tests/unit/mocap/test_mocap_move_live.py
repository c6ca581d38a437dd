"""Move Live client against a real gRPC server, in this process, speaking mocap/move_live_proto."""

from __future__ import annotations

import threading
import time
from concurrent import futures

import numpy as np
import pytest

grpc = pytest.importorskip("grpc", reason="grpcio not installed (pip install grpcio==1.62.3)")

from mocap import coordinates  # noqa: E402
from mocap import quaternion as quat  # noqa: E402
from mocap.move_live import (  # noqa: E402
    MoveLiveError,
    MoveLiveSource,
    MoveSkeleton,
    move_pose_to_humanoid,
    transform_rotation,
)
from mocap.move_live_proto import move_live_pb2 as pb  # noqa: E402
from mocap.move_live_proto import move_live_pb2_grpc as pb_grpc  # noqa: E402
from mocap.skeleton import forward_kinematics  # noqa: E402
from mocap.source import MocapSource  # noqa: E402

# Rest orientation of the left upper arm link: 90 degrees about glTF +Z (a rig whose bone axes
# are not aligned with the world), to check that rotations are taken relative to the rest pose.
REST_ARM = quat.from_axis_angle([0, 0, 1], np.pi / 2)
RAISE_ARM_GLTF = quat.from_axis_angle([0, 0, 1], np.pi / 2)  # glTF: +X (left) -> +Y (up)


def _q(values) -> pb.Quaternion:
    x, y, z, w = (float(v) for v in values)
    return pb.Quaternion(x=x, y=y, z=z, w=w)


def _transform(translation=(0.0, 0.0, 0.0), rotation=(0.0, 0.0, 0.0, 1.0)) -> pb.Transform:
    x, y, z = translation
    return pb.Transform(translation=pb.Vector3(x=x, y=y, z=z), quaternion=_q(rotation))


LINKS = [  # name, id, parent, offset translation (glTF metres), rest rotation
    ("hips", 0, -1, (0.0, 0.95, 0.0), quat.IDENTITY),
    ("spine", 1, 0, (0.0, 0.1, 0.0), quat.IDENTITY),
    ("neck", 2, 1, (0.0, 0.4, 0.0), quat.IDENTITY),
    ("head", 3, 2, (0.0, 0.1, 0.0), quat.IDENTITY),
    ("l_upperarm", 4, 1, (0.15, 0.35, 0.0), REST_ARM),
    ("l_forearm", 5, 4, (0.28, 0.0, 0.0), quat.IDENTITY),
    ("prop_sword", 6, 5, (0.1, 0.0, 0.0), quat.IDENTITY),  # no canonical bone
]


def structure() -> pb.Structure:
    return pb.Structure(
        structure_id=7,
        links=[pb.Link(name=n, id=i, parent_id=p, offset=_transform(t, r)) for n, i, p, t, r in LINKS],
    )


def raised_global_pose(subject_id: int, timestamp_us: int) -> pb.MocapPose:
    joints = []
    world_rest: dict[int, np.ndarray] = {}
    for name, link_id, parent, _, rest in LINKS:
        world_rest[link_id] = rest if parent == -1 else quat.multiply(world_rest[parent], rest)
        rotation = world_rest[link_id]
        if name in ("l_upperarm", "l_forearm", "prop_sword"):
            rotation = quat.multiply(RAISE_ARM_GLTF, rotation)
        translation = (0.5, 0.95, 0.0) if name == "hips" else (0.0, 0.0, 0.0)
        joints.append(pb.Joint(id=link_id, transform=_transform(translation, rotation)))
    return pb.MocapPose(subject_id=subject_id, structure_id=7, timestamp_us=timestamp_us, global_joints=joints)


class MoveLiveServer(pb_grpc.MoveLiveServicer):
    def __init__(self, frames: int) -> None:
        self.frames = frames
        self.structure_requests: list[list[int]] = []
        self.stream_fps: list[float] = []

    def GetStructure(self, request, context):
        self.structure_requests.append(list(request.structure_ids))
        return pb.StructureResponse(structures=[structure()])

    def GetMocapStream(self, request, context):
        self.stream_fps.append(request.fps)
        period = 1.0 / request.fps
        for frame in range(self.frames):
            if not context.is_active():
                return
            yield raised_global_pose(1, frame * 10_000)
            # subject 2 sends local joints only (rest rotations except the raised arm)
            local = [pb.Joint(id=4, transform=_transform((0.15, 0.35, 0.0), quat.multiply(RAISE_ARM_GLTF, REST_ARM)))]
            local.insert(0, pb.Joint(id=0, transform=_transform((0.0, 0.9, 0.0))))
            yield pb.MocapPose(subject_id=2, structure_id=7, timestamp_us=frame * 10_000, local_joints=local)
            yield pb.MocapPose(subject_id=3, structure_id=99)  # unknown structure: rejected
            time.sleep(period)


@pytest.fixture
def server():
    servicer = MoveLiveServer(frames=5)
    grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    pb_grpc.add_MoveLiveServicer_to_server(servicer, grpc_server)
    port = grpc_server.add_insecure_port("127.0.0.1:0")
    grpc_server.start()
    yield servicer, f"127.0.0.1:{port}"
    grpc_server.stop(grace=None)


def _arm_direction(pose) -> np.ndarray:
    world = forward_kinematics(pose)
    arm = world["LeftLowerArm"][0] - world["LeftUpperArm"][0]
    return arm / np.linalg.norm(arm)


def test_client_streams_poses_from_a_real_grpc_server(server):
    servicer, address = server
    source = MoveLiveSource(address, fps=100.0, structure_ids=[7], reconnect_delay_s=30.0)
    assert isinstance(source, MocapSource)
    poses = source.poses(timeout_s=10.0)
    source.start()
    try:
        received = []
        for pose in poses:
            received.append(pose)
            if len(received) == 10:
                break
    finally:
        source.stop()
    assert servicer.structure_requests == [[7]] and servicer.stream_fps == [pytest.approx(100.0)]
    by_subject = {pose.performer_id: pose for pose in received}
    assert set(by_subject) == {"move-1", "move-2"}
    for pose in by_subject.values():
        assert pose.source == "move_live"
        np.testing.assert_allclose(_arm_direction(pose), [0.0, 1.0, 0.0], atol=1e-5)  # raised, in Unity
        assert quat.angle_between_deg(pose.bone_rotations["Head"], quat.IDENTITY) < 1e-5
    # glTF (+X = left) -> Unity (+X = right): hips at x=0.5 in glTF is x=-0.5 in Unity
    np.testing.assert_allclose(by_subject["move-1"].root_position_m, [-0.5, 0.95, 0.0], atol=1e-6)
    np.testing.assert_allclose(by_subject["move-2"].root_position_m, [0.0, 0.9, 0.0], atol=1e-6)
    stats = source.stats()
    assert stats.rejected >= 1 and "unknown structure 99" in stats.last_reject_reason


def test_unreachable_server_is_reported_not_raised():
    source = MoveLiveSource("127.0.0.1:1", fps=30.0, reconnect_delay_s=0.05, rpc_timeout_s=0.5)
    source.start()
    try:
        deadline = time.monotonic() + 10.0
        while source.stats().rejected == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        source.stop()
    assert source.stats().rejected >= 1
    assert "Move Live 127.0.0.1:1" in source.stats().last_reject_reason


def test_orientation_forms_and_bad_structures():
    euler = pb.Transform(euler=pb.Euler(x_deg=0.0, y_deg=0.0, z_deg=90.0, order="ZXY"))
    assert quat.angle_between_deg(transform_rotation(euler), quat.from_axis_angle([0, 0, 1], np.pi / 2)) < 1e-9
    matrix = quat.to_matrix(quat.from_axis_angle([1, 0, 0], 0.5))
    as_matrix = pb.Transform(matrix=pb.Matrix3(values=matrix.ravel().tolist()))
    assert quat.angle_between_deg(transform_rotation(as_matrix), quat.from_axis_angle([1, 0, 0], 0.5)) < 1e-5
    assert np.allclose(transform_rotation(pb.Transform()), quat.IDENTITY)
    with pytest.raises(MoveLiveError, match="9 values"):
        transform_rotation(pb.Transform(matrix=pb.Matrix3(values=[1.0, 0.0])))
    with pytest.raises(MoveLiveError, match="zero length"):
        transform_rotation(pb.Transform(quaternion=pb.Quaternion()))
    with pytest.raises(MoveLiveError, match="no link maps to Hips"):
        MoveSkeleton.from_proto(pb.Structure(structure_id=1, links=[pb.Link(name="tail", id=0, parent_id=-1)]))
    with pytest.raises(MoveLiveError, match="unknown parent 5"):
        MoveSkeleton.from_proto(pb.Structure(structure_id=1, links=[pb.Link(name="hips", id=0, parent_id=5)]))
    skeleton = MoveSkeleton.from_proto(structure())
    assert skeleton.bones == ("Hips", "Spine", "Neck", "Head", "LeftUpperArm", "LeftLowerArm")
    with pytest.raises(MoveLiveError, match="no joint for the hips"):
        move_pose_to_humanoid(pb.MocapPose(subject_id=4, structure_id=7), skeleton, coordinates.GLTF)


def test_stop_ends_a_long_stream_promptly(server):
    servicer, address = server
    servicer.frames = 10_000
    source = MoveLiveSource(address, fps=50.0)
    source.start()
    assert source.connected.wait(10.0)
    started = time.monotonic()
    stopper = threading.Thread(target=source.stop)
    stopper.start()
    stopper.join(10.0)
    assert not stopper.is_alive() and time.monotonic() - started < 5.0
