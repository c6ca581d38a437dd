"""Shared sessions over real sockets: join/leave events, shared state, mocap, isolation, limits."""

from __future__ import annotations

import time

import pytest

from bridge.client import BridgeClient, BridgeClientError
from bridge.protocol.errors import ErrorCode
from bridge.protocol.messages import Error, Mocap, StreamDeclaration
from bridge.protocol.session_messages import SessionEvent, StateChange
from bridge.server import BridgeServer
from bridge.server_config import ServerConfig
from bridge.session_directory import SessionLimits
from mocap.pose_wire import pose_to_wire
from mocap.skeleton import t_pose

pytestmark = pytest.mark.timeout(60)
CAPS = ["session", "mocap"]


@pytest.fixture
def server():
    srv = BridgeServer(ServerConfig(endpoints=["tcp://127.0.0.1:*"], heartbeat_ms=200, timeout_ms=3000,
                                    limits=SessionLimits(max_engines_per_session=3, max_state_keys=2)))
    srv.start()
    yield srv
    srv.stop()


def _join(server, name: str, session: str, caps=CAPS) -> BridgeClient:
    client = BridgeClient(server.endpoint, engine=name, session=session)
    client.connect([StreamDeclaration(0, "main", 16, 16, pipeline="passthrough")], capabilities=caps)
    return client


def _drain(client: BridgeClient, seconds: float = 0.4) -> list:
    out, deadline = [], time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        client.heartbeat_if_idle()  # the test server expires silent engines after 3 s
        msg = client.recv(timeout_s=min(left, 0.05))
        if msg is not None:
            out.append(msg)
    return out


def _events(msgs, kind=SessionEvent):
    return [m for m in msgs if isinstance(m, kind)]


def test_three_engines_share_members_state_and_mocap_and_see_each_other_leave(server):
    a = _join(server, "unity-a", "forum")
    snap_a = _events(_drain(a))
    assert [(e.event, [m.engine for m in e.members]) for e in snap_a] == [("snapshot", ["unity-a"])]
    b, c = _join(server, "unreal-b", "forum"), _join(server, "unity-c", "forum")
    outsider = _join(server, "elsewhere", "another-forum")
    try:
        joins_a = _events(_drain(a))
        assert [(e.event, e.engine) for e in joins_a] == [("join", "unreal-b"), ("join", "unity-c")]
        snap_c = _events(_drain(c))[0]
        assert snap_c.event == "snapshot" and sorted(m.engine for m in snap_c.members) == ["unity-a", "unity-c", "unreal-b"]
        _drain(b)

        a.send(StateChange("scene.cue", {"door": "open", "light": 0.4}))
        for client in (a, b, c):
            changes = _events(_drain(client), StateChange)
            assert [(s.key, s.value, s.by, s.version) for s in changes] == [
                ("scene.cue", {"door": "open", "light": 0.4}, snap_a[0].engine_id, 1)]
        assert not _events(_drain(outsider, 0.2), StateChange)  # another session never sees it

        fields, payload = pose_to_wire(t_pose("dancer", time.time_ns()))
        b.send(Mocap(fields=fields, parts=[payload]))
        assert [m.fields["performer"] for m in _drain(a) if isinstance(m, Mocap)] == ["dancer"]
        assert [m.fields["performer"] for m in _drain(c) if isinstance(m, Mocap)] == ["dancer"]
        assert not [m for m in _drain(outsider, 0.2) if isinstance(m, Mocap)]

        late = _join(server, "late", "another-forum")  # the other session has its own (empty) state
        assert _events(_drain(late))[0].state == {}
        late.close()

        b.close()  # BYE
        assert [(e.event, e.engine, e.reason) for e in _events(_drain(a))] == [("leave", "unreal-b", "bye")]
        c._sock.close(0)  # vanishes without BYE: leave after the timeout
        events = _events(_drain(a, 4.5))
        assert [(e.event, e.engine, e.reason) for e in events] == [("leave", "unity-c", "timeout")]
        d = _join(server, "unity-d", "forum")
        assert _events(_drain(d))[0].state == {"scene.cue": {"door": "open", "light": 0.4}}  # state persists
        d.close()
    finally:
        a.close()
        outsider.close()


def test_state_delete_limits_and_bad_state(server):
    a = _join(server, "a", "s")
    try:
        _drain(a)
        for key in ("k1", "k2"):
            a.send(StateChange(key, 1))
        a.send(StateChange("k3", 1))
        msgs = _drain(a)
        errors = [m for m in msgs if isinstance(m, Error)]
        assert [s.key for s in msgs if isinstance(s, StateChange)] == ["k1", "k2"]
        assert errors and errors[0].code == ErrorCode.LIMIT_EXCEEDED and "at most 2" in errors[0].message
        a.send(StateChange("k1", op="delete"))
        a.send(StateChange("k3", [1, 2, 3]))
        msgs = [m for m in _drain(a) if isinstance(m, StateChange)]
        assert [(m.key, m.op, m.value) for m in msgs] == [("k1", "delete", None), ("k3", "set", [1, 2, 3])]
        a.send_raw([b'\x84\xa1v\x01\xa4kind\xa5STATE\xa3key\xa1k\xa2op\xa4swap'])
        err = next(m for m in _drain(a) if isinstance(m, Error))
        assert err.code == ErrorCode.BAD_FIELD and "op 'swap'" in err.message
    finally:
        a.close()


def test_session_and_engine_limits_are_enforced_with_clear_errors(server):
    members = [_join(server, f"e{i}", "small") for i in range(3)]
    try:
        with pytest.raises(BridgeClientError) as info:
            _join(server, "one-too-many", "small")
        assert info.value.error.code == ErrorCode.LIMIT_EXCEEDED and "is full" in info.value.error.message
        other = BridgeClient(server.endpoint, engine="huge", session="x")
        with pytest.raises(BridgeClientError) as info:
            other.connect([StreamDeclaration(0, "main", 8000, 100, pipeline="passthrough")])
        assert info.value.error.code == ErrorCode.LIMIT_EXCEEDED and "8000x100" in info.value.error.message
        other.close()
    finally:
        for m in members:
            m.close()


def test_engines_without_the_session_capability_get_no_session_traffic(server):
    quiet = _join(server, "quiet", "forum", caps=[])
    loud = _join(server, "loud", "forum")
    try:
        loud.send(StateChange("cue", "go"))
        assert [m for m in _drain(quiet) if isinstance(m, (SessionEvent, StateChange))] == []
        assert [m.key for m in _drain(loud) if isinstance(m, StateChange)] == ["cue"]
    finally:
        quiet.close()
        loud.close()


def test_every_session_hears_when_a_take_starts_and_stops_whoever_starts_it(tmp_path):
    from bridge.protocol.messages import ControlAck

    srv = BridgeServer(ServerConfig(endpoints=["tcp://127.0.0.1:*"], takes_dir=str(tmp_path / "takes"),
                                    take_compaction="manual"))
    srv.start()
    a = _join(srv, "unity", "forum")
    b = _join(srv, "unreal", "other-world")
    streamless = BridgeClient(srv.endpoint, engine="director-console", session="forum")
    try:
        streamless.connect([], capabilities=["session"])
        _drain(a), _drain(b), _drain(streamless)
        srv.start_take("scene-9")  # as the CLI or OSC would
        for client in (a, b, streamless):
            (change,) = [m for m in _events(_drain(client), StateChange) if m.key == "bridge.take"]
            assert change.by == "server" and change.value["recording"] is True and change.value["take"] == "scene-9"
            assert change.value["timecode"]
        # a late joiner finds the take in its snapshot
        late = _join(srv, "late", "forum")
        (snapshot,) = [e for e in _events(_drain(late)) if e.event == "snapshot"]
        assert snapshot.state["bridge.take"]["take"] == "scene-9"
        # an engine that declared no stream can stop it (the take stage ignores the stream id)
        ack = streamless.control(0, "take", {"record": False})
        assert isinstance(ack, ControlAck) and ack.ok and ack.applied["take"] == "scene-9"
        for client in (a, b, late):
            (change,) = [m for m in _events(_drain(client), StateChange) if m.key == "bridge.take"]
            assert change.value["recording"] is False and change.value["take"] == "scene-9"
        late.close()
    finally:
        for client in (a, b, streamless):
            client.close()
        srv.stop()
