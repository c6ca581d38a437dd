"""The relay's door check with each performer's layout remembered, and the relay's queues.

The remembered-layout path must refuse every bad pose the full check refuses, with the same
ERROR code and message (docs/protocol.md 6.11); these tests prime the layout with a good pose
first, so the per-pose checks run on the fast path.
"""

from __future__ import annotations

import struct
import time

import numpy as np
import pytest

from bridge.mocap_relay import MocapRelay
from bridge.mocap_wire_check import MocapWireChecker, check_mocap_message
from bridge.protocol.errors import ErrorCode, ProtocolError
from bridge.protocol.messages import Mocap, parse_message, serialize_message
from mocap import quaternion as quat
from mocap.pose_wire import PoseWireError, check_pose_wire, check_pose_wire_with_layout, pose_to_wire
from mocap.skeleton import t_pose


def _good(performer: str = "actor", with_extras: bool = True) -> Mocap:
    """A pose as the server receives it: encoded and decoded through the real protocol layer."""
    pose = t_pose(performer, time.time_ns(), source="test")
    pose.bone_rotations["LeftLowerArm"] = quat.from_axis_angle(np.array([0.0, 1.0, 0.0]), 0.5)
    if with_extras:
        pose.bone_positions_m["LeftHand"] = np.array([-0.25, 0.01, 0.02])
        pose.blendshapes = {"jawOpen": 0.25, "eyeBlinkLeft": 1.0}
        pose.confidence = {"Head": 0.5}
    fields, payload = pose_to_wire(pose)
    return _received(Mocap(fields=fields, parts=[payload]))


def _received(msg: Mocap) -> Mocap:
    parsed = parse_message(serialize_message(msg))
    assert isinstance(parsed, Mocap)
    return parsed


def _with_floats(msg: Mocap, changes: dict[int, float]) -> Mocap:
    values = list(struct.unpack(f"<{len(msg.parts[0]) // 4}f", bytes(msg.parts[0])))
    for index, value in changes.items():
        values[index] = value
    return _received(Mocap(fields=dict(msg.fields), parts=[struct.pack(f"<{len(values)}f", *values)]))


def _with_fields(msg: Mocap, **changes: object) -> Mocap:
    return Mocap(fields={**msg.fields, **changes}, parts=list(msg.parts))


def _refusal(check, msg: Mocap) -> tuple[ErrorCode, str]:
    with pytest.raises(ProtocolError) as caught:
        check(msg)
    return caught.value.code, str(caught.value)


# bad poses whose name lists equal the good pose's (so the remembered layout matches): the fast path
_SAME_LAYOUT_BAD = {
    "nan rotation": lambda g: _with_floats(g, {5: float("nan")}),
    "infinite position": lambda g: _with_floats(g, {4 * len(g.fields["bones"]) + 1: float("inf")}),
    "nan blendshape": lambda g: _with_floats(g, {4 * len(g.fields["bones"]) + 6: float("nan")}),
    "nan confidence": lambda g: _with_floats(g, {-1: float("nan")}),
    "zero quaternion": lambda g: _with_floats(g, {8: 0.0, 9: 0.0, 10: 0.0, 11: 0.0}),
    "part 4 bytes short": lambda g: Mocap(fields=g.fields, parts=[bytes(g.parts[0])[:-4]]),
    "part 4 bytes long": lambda g: Mocap(fields=g.fields, parts=[bytes(g.parts[0]) + b"\0\0\0\0"]),
    "no part": lambda g: Mocap(fields=g.fields, parts=[]),
    "two parts": lambda g: Mocap(fields=g.fields, parts=[g.parts[0], b""]),
    "empty performer": lambda g: _with_fields(g, performer=""),
    "performer not a str": lambda g: _with_fields(g, performer=7),
    "performer too long": lambda g: _with_fields(g, performer="é" * 129),
    "t_ns a float": lambda g: _with_fields(g, t_ns=1.5),
    "t_ns a bool": lambda g: _with_fields(g, t_ns=True),
    "t_ns missing": lambda g: Mocap(fields={k: v for k, v in g.fields.items() if k != "t_ns"}, parts=g.parts),
    "source not a str": lambda g: _with_fields(g, source=3),
    "root of 6": lambda g: _with_fields(g, root=[0.0] * 6),
    "root with a str": lambda g: _with_fields(g, root=[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, "1"]),
    "root with a bool": lambda g: _with_fields(g, root=[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, True]),
    "root non-finite": lambda g: _with_fields(g, root=[float("nan"), 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]),
    "root zero rotation": lambda g: _with_fields(g, root=[1.0, 2.0, 3.0, 0.0, 0.0, 0.0, 0.0]),
}

# bad poses whose name lists differ from the good pose's: the full per-name checks must run again
_OTHER_LAYOUT_BAD = {
    "unknown bone": lambda g: _with_fields(g, bones=["Tail", *g.fields["bones"][1:]]),
    "repeated bone": lambda g: _with_fields(g, bones=[g.fields["bones"][1], *g.fields["bones"][1:]]),
    "bone not a str": lambda g: _with_fields(g, bones=[3, *g.fields["bones"][1:]]),
    "bones missing": lambda g: Mocap(fields={k: v for k, v in g.fields.items() if k != "bones"}, parts=g.parts),
    "bones a str": lambda g: _with_fields(g, bones="Hips"),
    "unknown position bone": lambda g: _with_fields(g, positions=["Hips", "Paw"]),
    "repeated blendshape": lambda g: _with_fields(g, blendshapes=["jawOpen", "jawOpen"]),
    "confidence an int": lambda g: _with_fields(g, confidence=1),
    "confidence dropped": lambda g: _with_fields(g, confidence=False),
    "too many blendshapes": lambda g: _with_fields(g, blendshapes=[f"shape{i}" for i in range(257)]),
}


@pytest.mark.parametrize("name", sorted(_SAME_LAYOUT_BAD))
def test_remembered_layout_refuses_each_bad_pose_like_the_full_check(name):
    checker = MocapWireChecker()
    good = _good()
    assert checker.check(good) == ("actor", good.fields["t_ns"])
    bad = _SAME_LAYOUT_BAD[name](good)
    hits_before = checker.layout_hits
    assert _refusal(checker.check, bad) == _refusal(check_mocap_message, bad)
    if name not in ("no part", "two parts") and bad.fields.get("performer") == "actor":
        assert checker.layout_hits == hits_before  # refused: not counted as a (successful) fast check
    again = _good()
    assert checker.check(again) == ("actor", again.fields["t_ns"])  # the good layout is still remembered
    assert checker.layout_checks == 1


@pytest.mark.parametrize("name", sorted(set(_SAME_LAYOUT_BAD) - {"no part", "two parts"}))
def test_the_known_layout_path_itself_refuses_each_bad_pose_with_the_full_checks_message(name):
    good = _good()
    _performer, _t_ns, layout = check_pose_wire_with_layout(good.fields, good.parts[0], None)
    bad = _SAME_LAYOUT_BAD[name](good)
    assert layout.matches(bad.fields)  # so the per-name checks are skipped for this one
    with pytest.raises(PoseWireError) as full:
        check_pose_wire(bad.fields, bad.parts[0])
    with pytest.raises(PoseWireError) as fast:
        check_pose_wire_with_layout(bad.fields, bad.parts[0], layout)
    assert str(fast.value) == str(full.value)


@pytest.mark.parametrize("name", sorted(_OTHER_LAYOUT_BAD))
def test_a_changed_layout_is_checked_in_full_again(name):
    checker = MocapWireChecker()
    good = _good()
    checker.check(good)
    bad = _OTHER_LAYOUT_BAD[name](good)
    _performer, _t_ns, layout = check_pose_wire_with_layout(good.fields, good.parts[0], None)
    assert not layout.matches(bad.fields)
    code, message = _refusal(checker.check, bad)
    assert (code, message) == _refusal(check_mocap_message, bad)
    assert code in (ErrorCode.BAD_FIELD, ErrorCode.PLANE_MISMATCH)


def test_refusal_codes_follow_the_protocol_section_6_11():
    checker = MocapWireChecker()
    good = _good()
    checker.check(good)
    expected = {
        "part 4 bytes short": (ErrorCode.PLANE_MISMATCH, "part is"),
        "no part": (ErrorCode.PLANE_MISMATCH, "exactly one binary part"),
        "nan rotation": (ErrorCode.BAD_FIELD, "non-finite"),
        "zero quaternion": (ErrorCode.BAD_FIELD, f"rotation of {good.fields['bones'][2]!r} has zero length"),
        "root zero rotation": (ErrorCode.BAD_FIELD, "root rotation has zero length"),
    }
    for name, (code, fragment) in expected.items():
        got_code, message = _refusal(checker.check, _SAME_LAYOUT_BAD[name](good))
        assert got_code == code and fragment in message, (name, got_code, message)
    repeated = good.fields["bones"][1]
    for name, fragment in (("unknown bone", "unknown bone 'Tail'"), ("repeated bone", f"repeats [{repeated!r}]")):
        got_code, message = _refusal(checker.check, _OTHER_LAYOUT_BAD[name](good))
        assert got_code == ErrorCode.BAD_FIELD and fragment in message, (name, message)


def test_good_poses_take_the_fast_path_and_layout_changes_are_rechecked():
    checker = MocapWireChecker()
    for _ in range(3):
        checker.check(_good())
    assert (checker.layout_checks, checker.layout_hits) == (1, 2)
    checker.check(_good(with_extras=False))  # another layout for the same performer: checked in full
    assert (checker.layout_checks, checker.layout_hits) == (2, 2)
    checker.check(_good(with_extras=False))
    assert (checker.layout_checks, checker.layout_hits) == (2, 3)


def test_a_header_list_changed_in_place_after_a_check_is_not_trusted():
    """The remembered layout owns copies: a caller that edits its header lists cannot sneak names past it."""
    checker = MocapWireChecker()
    pose = t_pose("actor", time.time_ns())
    fields, payload = pose_to_wire(pose)
    msg = Mocap(fields=fields, parts=[payload])
    checker.check(msg)
    fields["bones"][0] = "Tail"
    code, message = _refusal(checker.check, msg)
    assert code == ErrorCode.BAD_FIELD and "unknown bone 'Tail'" in message


def test_remembered_layouts_are_bounded_least_recently_sent_first():
    checker = MocapWireChecker(max_performers=2)
    for performer in ("a", "b", "a", "c"):  # "b" is the least recently sent when "c" arrives
        checker.check(_good(performer))
    assert (checker.layout_checks, checker.layout_hits) == (3, 1)
    checker.check(_good("a"))
    checker.check(_good("b"))  # forgotten: checked in full
    assert (checker.layout_checks, checker.layout_hits) == (4, 2)


def test_relay_queues_one_shared_pose_per_engine_newest_wins_and_keeps_what_a_full_engine_refused():
    relay = MocapRelay()
    for engine in (b"A", b"B", b"C"):
        relay.join("forum", engine, receives_mocap=True)
    relay.join("forum", b"deaf", receives_mocap=False)
    relay.join("elsewhere", b"X", receives_mocap=True)
    assert relay.publish("forum", b"A", "alice", [b"h1", b"p1"], t_ns=time.time_ns()) == 2
    assert relay.publish("forum", b"A", "alice", [b"h2", b"p2"], t_ns=time.time_ns()) == 2
    assert relay.replaced == 2  # B's and C's first alice pose, never sent
    sent: list[tuple[bytes, list]] = []

    def send(engine: bytes, parts: list) -> bool:
        if engine == b"C":
            return False  # C is full
        sent.append((engine, parts))
        return True

    relay.flush(send)
    assert sent == [(b"B", [b"h2", b"p2"])]
    assert relay.has_pending  # C's pose waits for the next flush
    relay.flush(lambda engine, parts: sent.append((engine, parts)) is None)
    assert sent[-1] == (b"C", [b"h2", b"p2"]) and not relay.has_pending
    assert len(relay.latencies_us) == 2


def test_forgetting_an_engines_performers_forgets_their_layouts():
    relay = MocapRelay()
    relay.join("forum", b"A", True)
    msg = _good("alice")
    relay.wire_check.check(msg)
    relay.publish("forum", b"A", "alice", serialize_message(msg), msg.fields["t_ns"], source="engine-a")
    relay.drop_performers_of("engine-a")
    relay.wire_check.check(_good("alice"))
    assert relay.wire_check.layout_checks == 2 and relay.wire_check.layout_hits == 0
