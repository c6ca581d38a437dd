"""VMC: Marionette receive from python-osc-built packets, Performer send, UDP round trip."""

from __future__ import annotations

import socket

import numpy as np
import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from mocap import quaternion as quat
from mocap.skeleton import HUMAN_BONES, t_pose
from mocap.vmc import (
    VmcMarionette,
    VmcMarionetteSource,
    VmcPerformerSender,
    encode_pose_messages,
    encode_pose_packets,
)


def msg(address: str, *typed: tuple[object, str]):
    builder = OscMessageBuilder(address)
    for value, tag in typed:
        builder.add_arg(value, tag)
    return builder.build()


def bundle(*messages) -> bytes:
    builder = OscBundleBuilder(IMMEDIATELY)
    for message in messages:
        builder.add_content(message)
    return builder.build().dgram


def bone(name: str, position, rotation):
    return msg("/VMC/Ext/Bone/Pos", (name, "s"), *((float(v), "f") for v in (*position, *rotation)))


def test_marionette_applies_a_frame_bundle():
    raise_arm = quat.from_axis_angle([0, 0, 1], -np.pi / 2)
    packet = bundle(
        msg("/VMC/Ext/OK", (1, "i"), (3, "i"), (0, "i"), (1, "i")),
        msg("/VMC/Ext/T", (12.5, "f")),
        msg("/VMC/Ext/Root/Pos", ("root", "s"), *((v, "f") for v in (1.0, 0.0, 2.0, 0.0, 0.0, 0.0, 1.0))),
        bone("Hips", (0.0, 0.9, 0.0), (0.0, 0.0, 0.0, 1.0)),
        bone("LeftUpperArm", (-0.1, 0.0, 0.0), raise_arm),
        msg("/VMC/Ext/Hmd/Pos", ("hmd", "s"), *((0.0, "f"),) * 7),  # unknown to us: ignored
        msg("/VMC/Ext/Blend/Val", ("Joy", "s"), (0.8, "f")),
        msg("/VMC/Ext/Blend/Val", ("A", "s"), (0.3, "f")),
        msg("/VMC/Ext/Blend/Apply"),
    )
    marionette = VmcMarionette("perf")
    pose, problems = marionette.handle_packet(packet, received_ns=99)
    assert problems == []
    assert pose is not None and pose.performer_id == "perf" and pose.timestamp_ns == 99
    np.testing.assert_allclose(pose.root_position_m, [1.0, 0.0, 2.0])
    np.testing.assert_allclose(pose.bone_rotations["LeftUpperArm"], raise_arm, atol=1e-6)
    np.testing.assert_allclose(pose.bone_positions_m["Hips"], [0.0, 0.9, 0.0], atol=1e-6)
    assert "LeftUpperArm" not in pose.bone_positions_m  # only the hips position is kept by default
    assert pose.blendshapes == pytest.approx({"Joy": 0.8, "A": 0.3})
    state = marionette.state
    assert state.time_s == pytest.approx(12.5) and state.loaded is True and state.calibration_state == 3
    assert state.tracking == 1


def test_blendshapes_wait_for_apply():
    marionette = VmcMarionette()
    pose, _ = marionette.handle_packet(msg("/VMC/Ext/Blend/Val", ("Blink_L", "s"), (1.0, "f")).dgram, 0)
    assert pose is None and marionette.state.blendshapes == {}
    pose, _ = marionette.handle_packet(msg("/VMC/Ext/Blend/Apply").dgram, 1)
    assert pose is not None and pose.blendshapes == {"Blink_L": 1.0}


def test_wrong_arguments_are_reported_and_skipped_rest_applies():
    packet = bundle(
        msg("/VMC/Ext/Bone/Pos", ("Head", "s"), *((v, "i") for v in (0, 0, 0, 0, 0, 0, 1))),  # ints: wrong type
        msg("/VMC/Ext/Bone/Pos", ("Head", "s"), (0.0, "f")),  # too few
        bone("Tail", (0, 0, 0), (0, 0, 0, 1)),  # not a HumanBodyBones name
        bone("Neck", (0, 0.1, 0), (0, 0, 0, 0)),  # zero quaternion
        msg("/VMC/Ext/T", ("soon", "s")),
        msg("/VMC/Ext/OK"),
        bone("Spine", (0, 0.1, 0), (0, 0, 0, 1)),
        msg("/Totally/Unknown", (1, "i")),
    )
    pose, problems = VmcMarionette().handle_packet(packet, 0)
    assert len(problems) == 6
    assert "/VMC/Ext/Bone/Pos: expected s bone, 3f position, 4f quaternion" in problems[0] and "'siiiiiii'" in problems[0]
    assert "'sf'" in problems[1]
    assert "unknown bone name 'Tail'" in problems[2]
    assert "has no direction" in problems[3]
    assert "/VMC/Ext/T: expected f time" in problems[4]
    assert "/VMC/Ext/OK: expected 1 to 5 int arguments" in problems[5]
    assert pose is not None and set(pose.bone_rotations) == {"Spine"}


def test_performer_packets_are_bundles_under_1500_bytes_with_float_args():
    pose = t_pose("p")
    for name in HUMAN_BONES:
        pose.bone_rotations[name] = quat.from_axis_angle([0, 1, 0], 0.1)
    pose.blendshapes = {f"shape{i}": i / 60 for i in range(52)}
    packets = encode_pose_packets(pose, time_s=3.0)
    assert len(packets) > 2
    messages = []
    for packet in packets:
        assert len(packet) <= 1500 and packet.startswith(b"#bundle\x00")
        messages.extend(m.message for m in OscPacket(packet).messages)  # decoded by python-osc
    addresses = [m.address for m in messages]
    assert addresses[:3] == ["/VMC/Ext/OK", "/VMC/Ext/T", "/VMC/Ext/Root/Pos"]
    assert addresses.count("/VMC/Ext/Bone/Pos") == 55
    assert addresses[-1] == "/VMC/Ext/Blend/Apply" and addresses.count("/VMC/Ext/Blend/Val") == 52
    for message in messages:
        if message.address in ("/VMC/Ext/Bone/Pos", "/VMC/Ext/Root/Pos"):
            assert all(isinstance(v, float) for v in message.params[1:])
    # and our own Marionette reads it back
    marionette = VmcMarionette()
    for packet in packets:
        back, problems = marionette.handle_packet(packet, 0)
        assert problems == []
    assert back is not None
    for name in HUMAN_BONES:
        assert quat.angle_between_deg(back.bone_rotations[name], pose.bone_rotations[name]) < 1e-4
    assert back.blendshapes["shape30"] == pytest.approx(0.5, abs=1e-6)
    assert len(encode_pose_messages(pose, 0.0, include_ok=False)) == len(messages) - 1


def test_udp_performer_to_marionette_source():
    source = VmcMarionetteSource(host="127.0.0.1", port=0, performer_id="vmc-a")
    source.start()
    try:
        pose = t_pose("whoever")
        pose.bone_rotations["Head"] = quat.from_axis_angle([1, 0, 0], 0.4)
        pose.blendshapes = {"Joy": 1.0}
        poses = source.poses(timeout_s=5.0)  # subscribes now, before anything is sent
        with VmcPerformerSender(*source.address) as sender:
            assert sender.send_pose(pose) > 0
            raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            raw.sendto(b"not osc at all!!", source.address)
            raw.close()
            received = None
            for received in poses:
                if "Joy" in received.blendshapes:
                    break
        assert received is not None and received.performer_id == "vmc-a"
        assert quat.angle_between_deg(received.bone_rotations["Head"], pose.bone_rotations["Head"]) < 1e-4
    finally:
        source.stop()
    assert source.stats().poses >= 1
