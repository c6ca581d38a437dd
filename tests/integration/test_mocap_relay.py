"""Mocap relay over real sockets: every engine of a session gets the other performers' poses."""

from __future__ import annotations

import time

import numpy as np
import pytest
import zmq

from bridge.client import BridgeClient
from bridge.protocol.errors import ErrorCode
from bridge.protocol.messages import Error, Mocap, StreamDeclaration
from bridge.server import BridgeServer
from bridge.server_config import ServerConfig
from mocap import quaternion as quat
from mocap.pose_wire import pose_from_wire, pose_to_wire
from mocap.skeleton import t_pose

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def server():
    srv = BridgeServer(ServerConfig(endpoints=["tcp://127.0.0.1:*"]))
    srv.start()
    yield srv
    srv.stop()


def _engine(server: BridgeServer, name: str, session: str, mocap: bool = True) -> BridgeClient:
    client = BridgeClient(server.endpoint, engine=name, session=session)
    client.connect([StreamDeclaration(0, "main", 16, 16, pipeline="passthrough")],
                   capabilities=["mocap"] if mocap else [])
    return client


def _pose_message(performer: str, elbow_deg: float) -> Mocap:
    pose = t_pose(performer, time.time_ns(), source="test")
    pose.bone_rotations["LeftLowerArm"] = quat.from_axis_angle(np.array([0.0, 1.0, 0.0]), np.radians(elbow_deg))
    fields, payload = pose_to_wire(pose)
    return Mocap(fields=fields, parts=[payload])


def _collect(client: BridgeClient, seconds: float) -> list:
    out, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        msg = client.recv(timeout_s=max(0.0, deadline - time.monotonic()))
        if msg is not None:
            out.append(msg)
    return out


def test_three_engines_each_receive_the_other_performers(server):
    engines = [_engine(server, f"engine-{i}", "forum") for i in range(3)]
    stranger = _engine(server, "elsewhere", "another-world")
    deaf = _engine(server, "no-mocap", "forum", mocap=False)
    try:
        for i, engine in enumerate(engines):
            engine.send(_pose_message(f"performer-{i}", 30.0 * i))
        for i, engine in enumerate(engines):
            got = [m for m in _collect(engine, 0.6) if isinstance(m, Mocap)]
            performers = sorted(m.fields["performer"] for m in got)
            assert performers == sorted(f"performer-{j}" for j in range(3) if j != i)
            for m in got:
                pose = pose_from_wire(m.fields, m.parts[0])
                assert pose.source == "test" and "LeftLowerArm" in pose.bone_rotations
        assert not [m for m in _collect(stranger, 0.3) if isinstance(m, Mocap)]  # another session is isolated
        assert not [m for m in _collect(deaf, 0.1) if isinstance(m, Mocap)]  # did not ask for mocap
        p50, p99 = server.mocap_relay.latency_ms()
        assert 0 <= p50 <= p99 < 1000
    finally:
        for c in (*engines, stranger, deaf):
            c.close()


def test_bad_mocap_gets_an_error_naming_the_cause_and_the_relay_goes_on(server):
    sender, receiver = _engine(server, "sender", "forum"), _engine(server, "receiver", "forum")
    try:
        good = _pose_message("actor", 10.0)
        bad_size = Mocap(fields=good.fields, parts=[bytes(good.parts[0])[:-4]])
        bad_bone = Mocap(fields={**good.fields, "bones": ["Tail"] + good.fields["bones"][1:]}, parts=good.parts)
        no_part = Mocap(fields=good.fields, parts=[])
        for bad, code, fragment in ((bad_size, ErrorCode.PLANE_MISMATCH, "bytes"),
                                    (bad_bone, ErrorCode.BAD_FIELD, "unknown bone 'Tail'"),
                                    (no_part, ErrorCode.PLANE_MISMATCH, "exactly one binary part")):
            sender.send(bad)
            reply = sender.recv(5)
            assert isinstance(reply, Error) and reply.code == code and fragment in reply.message
        sender.send(good)
        got = [m for m in _collect(receiver, 0.5) if isinstance(m, Mocap)]
        assert [m.fields["performer"] for m in got] == ["actor"]
    finally:
        sender.close()
        receiver.close()


def test_two_engines_cannot_drive_the_same_performer(server):
    first, second = _engine(server, "first", "forum"), _engine(server, "second", "forum")
    try:
        first.send(_pose_message("actor", 0.0))
        time.sleep(0.1)
        second.send(_pose_message("actor", 0.0))
        replies = [m for m in _collect(second, 1.0) if isinstance(m, Error)]
        assert replies, "no ERROR for a performer already driven by another engine"
        reply = replies[0]
        assert isinstance(reply, Error) and reply.code == ErrorCode.BAD_FIELD and "unique id" in reply.message
    finally:
        first.close()
        second.close()


def test_a_stalled_engine_gets_only_the_newest_pose_and_does_not_slow_others(server):
    ctx = zmq.Context.instance()
    stalled = BridgeClient(server.endpoint, engine="stalled", session="forum", context=ctx)
    stalled._sock.setsockopt(zmq.RCVHWM, 1)
    stalled.connect([StreamDeclaration(0, "main", 16, 16, pipeline="passthrough")], capabilities=["mocap"])
    sender, watcher = _engine(server, "sender", "forum"), _engine(server, "watcher", "forum")
    try:
        sent_t_ns = []
        i = 0
        # far more than socket buffers hold for an engine that never reads (how much they hold depends on the
        # kernel's loopback buffers, so keep sending until the relay had to supersede a pose, within a bound)
        while i < 60_000 and (i < 3000 or server.mocap_relay.replaced == 0):
            msg = _pose_message("actor", float(i % 90))
            sent_t_ns.append(msg.fields["t_ns"])
            sender.send(msg)
            i += 1
        got: list[Mocap] = []
        deadline = time.monotonic() + 20.0  # a bound for a loaded machine; normally well under a second
        while (not got or got[-1].fields["t_ns"] != sent_t_ns[-1]) and time.monotonic() < deadline:
            got += [m for m in _collect(watcher, 0.5) if isinstance(m, Mocap)]
        assert got and got[-1].fields["t_ns"] == sent_t_ns[-1]  # the reading engine saw the newest pose
        assert server.mocap_relay.replaced > 0  # older poses for the stalled engine were superseded, not queued
        pending = server.mocap_relay._pending
        assert all(len(queue) <= 1 for queue in pending.values())  # at most one pose per performer waits
    finally:
        for c in (stalled, sender, watcher):
            c.close()
