"""MVN network streamer: golden datagrams built byte by byte from the specification with struct."""

from __future__ import annotations

import math
import socket
import struct
import time

import numpy as np
import pytest

from mocap import quaternion as quat
from mocap.skeleton import forward_kinematics
from mocap.xsens_mvn import (
    AngularKinematicsData,
    CenterOfMassData,
    JointAngleData,
    LinearKinematicsData,
    MetaData,
    MvnParseError,
    MvnReassembler,
    MvnSample,
    PointPositionData,
    ScaleInfo,
    SegmentEulerData,
    SegmentQuaternionData,
    TimeCodeData,
    XsensMvnSource,
    mvn_sample_to_pose,
    parse_datagram,
)


def mvn_header(message_type: str, sample: int, counter: int, items: int, payload_size: int, *,
               time_ms: int = 0, character: int = 0, bodies: int = 23, props: int = 0, fingers: int = 0) -> bytes:
    """24-byte header as the spec lists it, field by field."""
    return (
        b"MXTP" + message_type.encode("ascii")  # 6 bytes ID string
        + struct.pack(">I", sample)  # 4 bytes sample counter
        + bytes([counter])  # 1 byte datagram counter
        + bytes([items])  # 1 byte number of items
        + struct.pack(">I", time_ms)  # 4 bytes time code
        + bytes([character, bodies, props, fingers])  # character id, body segments, props, fingers
        + b"\x00\x00"  # reserved
        + struct.pack(">H", payload_size)  # payload size
    )  # fmt: skip


def datagram(message_type: str, payload: bytes, items: int, **kwargs) -> bytes:
    sample = kwargs.pop("sample", 1)
    counter = kwargs.pop("counter", 0x80)
    return mvn_header(message_type, sample, counter, items, len(payload), **kwargs) + payload


def segment_quat(segment_id: int, position, wxyz) -> bytes:
    return struct.pack(">i", segment_id) + struct.pack(">3f", *position) + struct.pack(">4f", *wxyz)


IDENTITY_WXYZ = (1.0, 0.0, 0.0, 0.0)


def tpose_type02(**kwargs) -> bytes:
    payload = b"".join(segment_quat(i, (0.01 * i, 0.02 * i, 1.0), IDENTITY_WXYZ) for i in range(1, 24))
    return datagram("02", payload, 23, **kwargs)


def test_literal_hex_header_parses():
    # MXTP02, sample 0x01020304, last-of-one, 0 items, time 1000 ms, character 2, 23/1/40 segments, size 0
    raw = bytes.fromhex("4d5854503032" "01020304" "80" "00" "000003e8" "02" "17" "01" "28" "0000" "0000")
    parsed = parse_datagram(raw)
    header = parsed.header
    assert (header.message_type, header.sample_counter, header.time_code_ms) == (2, 0x01020304, 1000)
    assert (header.datagram_index, header.is_last_datagram, header.item_count) == (0, True, 0)
    assert (header.character_id, header.body_segment_count, header.prop_count, header.finger_segment_count) == (2, 23, 1, 40)
    assert isinstance(parsed.data, SegmentQuaternionData) and parsed.data.segment_ids.size == 0


def test_type02_23_segments_parse_to_the_values_sent():
    payload = b"".join(
        segment_quat(i, (0.5 * i, -0.25 * i, 1.0 + i), (math.cos(0.05 * i), math.sin(0.05 * i), 0.0, 0.0))
        for i in range(1, 24)
    )
    parsed = parse_datagram(datagram("02", payload, 23, sample=77, time_ms=4242))
    data = parsed.data
    assert isinstance(data, SegmentQuaternionData)
    assert parsed.header.sample_counter == 77 and parsed.header.time_code_ms == 4242
    assert data.segment_ids.tolist() == list(range(1, 24))
    np.testing.assert_allclose(data.positions[4], [2.5, -1.25, 6.0], rtol=1e-6)
    # wire order (re, i, j, k) comes back as (x, y, z, w)
    np.testing.assert_allclose(data.quaternions_xyzw[9], [math.sin(0.5), 0.0, 0.0, math.cos(0.5)], atol=1e-6)


def test_every_other_type_parses():
    euler = datagram("01", struct.pack(">i6f", 1, 1.0, 2.0, 3.0, 10.0, 20.0, 30.0), 1)
    data = parse_datagram(euler).data
    assert isinstance(data, SegmentEulerData)
    np.testing.assert_allclose(data.euler_xyz_deg[0], [10.0, 20.0, 30.0])

    points = datagram("03", struct.pack(">i3f", 256 * 1 + 13, 0.1, 0.2, 0.3), 1)
    data = parse_datagram(points).data
    assert isinstance(data, PointPositionData) and data.point_ids.tolist() == [269]

    unity = datagram("05", segment_quat(1, (0, 1, 0), IDENTITY_WXYZ), 1)
    assert isinstance(parse_datagram(unity).data, SegmentQuaternionData)

    text = "name:Alice\nxmid:1234\ncolor:FF8000\n".encode("utf-8")
    meta = datagram("12", struct.pack(">i", len(text)) + text, 1)
    data = parse_datagram(meta).data
    assert isinstance(data, MetaData) and data.tags == {"name": "Alice", "xmid": "1234", "color": "FF8000"}

    joint = datagram("20", struct.pack(">2i3f", 256 + 1, 512 + 2, 1.0, 2.0, 3.0), 1)
    data = parse_datagram(joint).data
    assert isinstance(data, JointAngleData)
    assert (data.parent_point_ids.tolist(), data.child_point_ids.tolist()) == ([257], [514])

    linear = datagram("21", struct.pack(">i9f", 5, *range(9)), 1)
    data = parse_datagram(linear).data
    assert isinstance(data, LinearKinematicsData)
    np.testing.assert_allclose(data.accelerations[0], [6, 7, 8])

    angular = datagram("22", struct.pack(">i10f", 7, 0.0, 1.0, 0.0, 0.0, 1, 2, 3, 4, 5, 6), 1)
    data = parse_datagram(angular).data
    assert isinstance(data, AngularKinematicsData)
    np.testing.assert_allclose(data.quaternions_xyzw[0], [1.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(data.vector_b[0], [4, 5, 6])

    com = datagram("24", struct.pack(">3f", 0.1, 0.9, 0.0), 1)
    data = parse_datagram(com).data
    assert isinstance(data, CenterOfMassData)
    np.testing.assert_allclose(data.position, [0.1, 0.9, 0.0], rtol=1e-6)

    timecode = datagram("25", b"01:02:03.456", 1)
    data = parse_datagram(timecode).data
    assert isinstance(data, TimeCodeData) and data.seconds == pytest.approx(3723.456)


def test_type13_scale_information():
    def string(text: str) -> bytes:
        raw = text.encode("utf-8")
        return struct.pack(">i", len(raw)) + raw

    segments = struct.pack(">i", 2) + string("Pelvis") + struct.pack(">3f", 0, 0, 0.95) + string("L5") + struct.pack(
        ">3f", 0, 0, 1.05
    )
    payload = segments + struct.pack(">i", 1) + struct.pack(">HH", 1, 13) + string("pSacrum") + struct.pack(
        ">I", 3
    ) + struct.pack(">3f", -0.1, 0.0, 0.05)
    data = parse_datagram(datagram("13", payload, 1)).data
    assert isinstance(data, ScaleInfo)
    assert list(data.segment_origins) == ["Pelvis", "L5"]
    assert data.segment_origins["L5"][2] == pytest.approx(1.05)
    assert data.points[0].name == "pSacrum" and (data.points[0].segment_id, data.points[0].point_id) == (1, 13)
    assert data.points[0].flags == 3
    with pytest.raises(MvnParseError, match="type 13"):
        parse_datagram(datagram("13", payload[:-6], 1))


@pytest.mark.parametrize(
    "raw, fragment",
    [
        (b"MXTP02" + b"\x00" * 10, "truncated datagram: 16 bytes"),
        (b"", "truncated datagram: 0 bytes"),
        (b"XXTP02" + b"\x00" * 18, "wrong magic"),
        (b"MXTPab" + b"\x00" * 18, "not two ASCII digits"),
    ],
)
def test_bad_headers_are_rejected_with_reason(raw, fragment):
    with pytest.raises(MvnParseError, match=fragment):
        parse_datagram(raw)


def test_truncated_oversized_and_miscounted_payloads_are_rejected():
    good = tpose_type02()
    with pytest.raises(MvnParseError, match="truncated datagram: header says 736 payload bytes, datagram carries 700"):
        parse_datagram(good[:-36])
    with pytest.raises(MvnParseError, match="oversized datagram: header says 736 payload bytes, datagram carries 740"):
        parse_datagram(good + b"\x00" * 4)
    payload = segment_quat(1, (0, 0, 1), IDENTITY_WXYZ)
    with pytest.raises(MvnParseError, match="2 items of 32 bytes need 64 payload bytes, header says 32"):
        parse_datagram(datagram("02", payload, 2))
    with pytest.raises(MvnParseError, match="type 24 centre of mass must be 12 bytes"):
        parse_datagram(datagram("24", b"\x00" * 8, 1))
    with pytest.raises(MvnParseError, match="not HH:MM:SS.mmm"):
        parse_datagram(datagram("25", b"01-02-03.456", 1))
    with pytest.raises(MvnParseError, match="type 12 meta data: string of 99 bytes"):
        parse_datagram(datagram("12", struct.pack(">i", 99) + b"name:x\n", 1))


def test_unknown_type_is_skipped_by_payload_size():
    parsed = parse_datagram(datagram("07", b"\x01" * 40, 3))
    assert parsed.data is None
    assert parsed.skipped_reason == "unknown message type 07: skipped 40 payload bytes"


def test_reassembly_of_a_sample_split_over_three_datagrams_in_any_order():
    items = [segment_quat(i, (0.0, 0.0, 0.1 * i), IDENTITY_WXYZ) for i in range(1, 24)]
    parts = [items[0:8], items[8:16], items[16:23]]
    datagrams = [
        datagram("02", b"".join(part), len(part), sample=500, counter=index | (0x80 if index == 2 else 0))
        for index, part in enumerate(parts)
    ]
    reassembler = MvnReassembler()
    assert reassembler.add(parse_datagram(datagrams[2])) is None  # the last one first
    assert reassembler.add(parse_datagram(datagrams[0])) is None
    sample = reassembler.add(parse_datagram(datagrams[1]))
    assert sample is not None and sample.datagram_count == 3
    assert isinstance(sample.data, SegmentQuaternionData)
    assert sample.data.segment_ids.tolist() == list(range(1, 24))
    np.testing.assert_allclose(sample.data.positions[:, 2], 0.1 * np.arange(1, 24), rtol=1e-6)
    assert reassembler.pending == 0


def test_reassembly_keeps_characters_and_samples_apart():
    reassembler = MvnReassembler(max_pending=4)
    first_half = [segment_quat(i, (i, 0, 0), IDENTITY_WXYZ) for i in range(1, 12)]
    second_half = [segment_quat(i, (i, 0, 0), IDENTITY_WXYZ) for i in range(12, 24)]
    for character in (0, 1):
        assert reassembler.add(parse_datagram(datagram("02", b"".join(first_half), 11, sample=9, counter=0,
                                                       character=character))) is None  # fmt: skip
    done = reassembler.add(parse_datagram(datagram("02", b"".join(second_half), 12, sample=9, counter=0x81, character=1)))
    assert done is not None and done.header.character_id == 1
    assert reassembler.pending == 1
    with pytest.raises(MvnParseError, match="duplicate datagram 0 of sample 9"):
        reassembler.add(parse_datagram(datagram("02", b"".join(first_half), 11, sample=9, counter=0, character=0)))
    # incomplete samples are evicted once too many are pending
    for sample in range(100, 106):
        reassembler.add(parse_datagram(datagram("02", b"".join(first_half), 11, sample=sample, counter=0)))
    assert reassembler.pending == 4 and reassembler.dropped_incomplete >= 3


def _sample(raw: bytes) -> MvnSample:
    parsed = parse_datagram(raw)
    return MvnSample(parsed.header, parsed.data, 1)


def test_identity_segments_give_a_t_pose():
    pose = mvn_sample_to_pose(_sample(tpose_type02()), "xsens-0", 123)
    assert pose.performer_id == "xsens-0" and pose.timestamp_ns == 123
    for name in ("Hips", "Spine", "Chest", "UpperChest", "Neck", "Head", "LeftUpperArm", "RightLowerLeg", "LeftToes"):
        assert quat.angle_between_deg(pose.bone_rotations[name], quat.IDENTITY) < 1e-6
    # pelvis at Xsens (0.01, 0.02, 1.0): Unity x = -y, y = z, z = x
    np.testing.assert_allclose(pose.root_position_m, [-0.02, 1.0, 0.01], atol=1e-6)
    pose.validate()


def test_raised_left_arm_in_xsens_frame_comes_out_raised_in_unity():
    # Xsens: X forward, Y left, Z up. Left arm (along +Y) raised to +Z: +90 degrees about +X.
    raised = (math.cos(math.pi / 4), math.sin(math.pi / 4), 0.0, 0.0)
    payload = b"".join(
        segment_quat(i, (0.0, 0.0, 1.0), raised if i in (13, 14, 15) else IDENTITY_WXYZ) for i in range(1, 24)
    )
    pose = mvn_sample_to_pose(_sample(datagram("02", payload, 23)), "p", 0)
    world = forward_kinematics(pose)
    arm = world["LeftHand"][0] - world["LeftUpperArm"][0]
    np.testing.assert_allclose(arm / np.linalg.norm(arm), [0.0, 1.0, 0.0], atol=1e-6)
    assert quat.angle_between_deg(pose.bone_rotations["LeftLowerArm"], quat.IDENTITY) < 1e-5
    right = world["RightHand"][0] - world["RightUpperArm"][0]
    np.testing.assert_allclose(right / np.linalg.norm(right), [1.0, 0.0, 0.0], atol=1e-6)


def test_finger_segments_map_to_finger_bones():
    # 23 body + 1 prop + 40 finger segments; bend the left index proximal phalange 30 degrees about Xsens Y
    bend = (math.cos(math.radians(15)), 0.0, math.sin(math.radians(15)), 0.0)
    left_first = 24 + 1  # carpus id with one prop
    index_proximal = left_first + 5
    items = [segment_quat(i, (0, 0, 1), IDENTITY_WXYZ) for i in range(1, 25)]
    for segment in range(left_first, left_first + 40):
        items.append(segment_quat(segment, (0, 0, 1), bend if segment == index_proximal else IDENTITY_WXYZ))
    pose = mvn_sample_to_pose(_sample(datagram("02", b"".join(items), len(items), props=1, fingers=40)), "p", 0)
    for name in ("LeftThumbProximal", "LeftIndexDistal", "RightLittleIntermediate", "RightThumbDistal"):
        assert name in pose.bone_rotations
    assert quat.angle_between_deg(pose.bone_rotations["LeftIndexProximal"], quat.IDENTITY) == pytest.approx(30, abs=1e-3)
    # the child keeps its world orientation: identity world -> local undoes the bend
    assert quat.angle_between_deg(pose.bone_rotations["LeftIndexIntermediate"], quat.IDENTITY) == pytest.approx(30, abs=1e-3)
    assert quat.angle_between_deg(pose.bone_rotations["LeftMiddleProximal"], quat.IDENTITY) < 1e-5


def test_type01_euler_and_type05_unity_give_poses():
    euler_payload = b"".join(struct.pack(">i6f", i, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0) for i in range(1, 24))
    pose = mvn_sample_to_pose(_sample(datagram("01", euler_payload, 23)), "p", 0)
    assert quat.angle_between_deg(pose.bone_rotations["Head"], quat.IDENTITY) < 1e-6
    np.testing.assert_allclose(pose.root_position_m, [0.0, 1.0, 0.0], atol=1e-6)
    # type 05: pelvis global, others local; bend the left forearm (Unity order id 16) locally
    bend_unity = quat.from_axis_angle([0, 1, 0], math.radians(40))
    wxyz = (bend_unity[3], bend_unity[0], bend_unity[1], bend_unity[2])
    unity_payload = b"".join(
        segment_quat(i, (0.0, 0.9, 0.0) if i == 1 else (0.0, 0.1, 0.0), wxyz if i == 16 else IDENTITY_WXYZ)
        for i in range(1, 24)
    )
    pose = mvn_sample_to_pose(_sample(datagram("05", unity_payload, 23)), "p", 0)
    assert quat.angle_between_deg(pose.bone_rotations["LeftLowerArm"], bend_unity) < 1e-5
    assert quat.angle_between_deg(pose.bone_rotations["LeftHand"], quat.IDENTITY) < 1e-5
    np.testing.assert_allclose(pose.root_position_m, [0.0, 0.9, 0.0], atol=1e-6)


def test_udp_listener_publishes_poses_and_survives_bad_datagrams():
    source = XsensMvnSource(host="127.0.0.1", port=0)
    source.start()
    poses = source.poses(timeout_s=5.0)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        target = source.address
        text = b"name:Bob\n"
        bad = [b"", b"MXTP02\x00", b"NOPE02" + b"\x00" * 30, tpose_type02()[:-5], tpose_type02() + b"\x00"]
        for raw in bad:
            sender.sendto(raw, target)
        sender.sendto(datagram("99", b"\x00" * 12, 1), target)  # unknown type: skipped
        sender.sendto(datagram("12", struct.pack(">i", len(text)) + text, 1, character=1), target)
        for sample in range(3):
            sender.sendto(tpose_type02(sample=sample), target)
            sender.sendto(tpose_type02(sample=sample, character=1), target)
        received = []
        for pose in poses:
            received.append(pose)
            if len(received) == 6:
                break
        assert sorted({pose.performer_id for pose in received}) == ["xsens-0", "xsens-1"]
        deadline = time.monotonic() + 5.0
        while source.stats().rejected < len(bad) - 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        stats = source.stats()
        # the empty datagram may be dropped by the kernel or counted; the four others must be rejected
        assert stats.rejected >= 4
        assert stats.skipped == 1 and "unknown message type 99" in stats.last_skip_reason
        assert "oversized" in stats.last_reject_reason or "truncated" in stats.last_reject_reason
        assert source.character_states[1].meta == {"name": "Bob"}
        assert stats.performers["xsens-0"].poses == 3
    finally:
        sender.close()
        source.stop()
