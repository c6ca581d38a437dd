"""Mocap sources inside the server: a VMC performer app's poses reach the session's engines and VMC outputs."""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest

from bridge.client import BridgeClient
from bridge.mocap_hub import MocapConfig
from bridge.protocol.messages import Mocap, StreamDeclaration
from bridge.server import BridgeServer
from bridge.server_config import ServerConfig
from mocap import quaternion as quat
from mocap.pose_wire import pose_from_wire
from mocap.skeleton import t_pose
from mocap.vmc import VmcMarionetteSource, VmcPerformerSender

pytestmark = pytest.mark.timeout(60)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_vmc_performer_app_reaches_engines_and_vmc_outputs():
    vmc_in, vmc_out = _free_udp_port(), _free_udp_port()
    downstream = VmcMarionetteSource(host="127.0.0.1", port=vmc_out, performer_id="downstream")
    downstream.start()
    downstream_poses = downstream.poses(timeout_s=5.0)  # subscribes now
    server = BridgeServer(ServerConfig(
        endpoints=["tcp://127.0.0.1:*"],
        mocap=MocapConfig(session="forum", vmc_port=vmc_in, vmc_out=[f"127.0.0.1:{vmc_out}"]),
    ))
    server.start()
    engine = BridgeClient(server.endpoint, engine="unity", session="forum")
    outsider = BridgeClient(server.endpoint, engine="elsewhere", session="other")
    try:
        for client in (engine, outsider):
            client.connect([StreamDeclaration(0, "main", 16, 16, pipeline="passthrough")], capabilities=["mocap"])
        raised = t_pose("vseeface", time.time_ns())
        raised.bone_rotations["RightUpperArm"] = quat.from_axis_angle(np.array([0.0, 0.0, 1.0]), np.radians(60.0))
        with VmcPerformerSender("127.0.0.1", vmc_in) as app:
            deadline = time.monotonic() + 10
            received = None
            while received is None and time.monotonic() < deadline:
                app.send_pose(raised)
                msg = engine.recv(0.2)
                if isinstance(msg, Mocap):
                    received = msg
        assert received is not None, "no MOCAP reached the engine"
        pose = pose_from_wire(received.fields, received.parts[0])
        assert received.fields["source"] and pose.performer_id
        assert quat.angle_between_deg(pose.bone_rotations["RightUpperArm"], raised.bone_rotations["RightUpperArm"]) < 0.5
        assert not isinstance(outsider.recv(0.3), Mocap)  # another session gets nothing
        out = next(downstream_poses)
        assert quat.angle_between_deg(out.bone_rotations["RightUpperArm"], raised.bone_rotations["RightUpperArm"]) < 0.5
    finally:
        engine.close()
        outsider.close()
        server.stop()
        downstream.stop()
