"""Live Link Face packets built by hand with struct from the documented layout."""

from __future__ import annotations

import socket
import struct

import pytest

from mocap import quaternion as quat
from mocap.live_link_face import (
    ARKIT_BLENDSHAPES,
    LiveLinkFaceError,
    LiveLinkFaceSource,
    encode_live_link_face,
    frame_to_pose,
    parse_live_link_face,
)


def packet(values=None, *, version=6, device="iPhone-ABC", subject="Ana", count=61, extra=b"") -> bytes:
    if values is None:
        values = [i / 100.0 for i in range(52)] + [0.1, -0.2, 0.05, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    device_raw, subject_raw = device.encode(), subject.encode()
    return (
        bytes([version])
        + struct.pack(">i", len(device_raw)) + device_raw
        + struct.pack(">i", len(subject_raw)) + subject_raw
        + struct.pack(">i", 1234) + struct.pack(">f", 0.5) + struct.pack(">i", 60) + struct.pack(">i", 1)
        + bytes([count])
        + struct.pack(f">{len(values)}f", *values)
        + extra
    )  # fmt: skip


def test_golden_packet_parses():
    frame = parse_live_link_face(packet())
    assert (frame.version, frame.device_id, frame.subject_name) == (6, "iPhone-ABC", "Ana")
    assert (frame.frame_number, frame.subframe, frame.frame_rate) == (1234, 0.5, (60, 1))
    assert list(frame.blendshapes) == list(ARKIT_BLENDSHAPES)
    assert frame.blendshapes["eyeBlinkLeft"] == 0.0
    assert frame.blendshapes["jawOpen"] == pytest.approx(0.17)
    assert frame.blendshapes["tongueOut"] == pytest.approx(0.51)
    assert frame.head_yaw_pitch_roll_rad == pytest.approx((0.1, -0.2, 0.05))


def test_pose_has_blendshapes_and_head_rotation():
    frame = parse_live_link_face(packet())
    pose = frame_to_pose(frame, timestamp_ns=5)
    assert pose.performer_id == "Ana" and pose.source == "live_link_face"
    assert len(pose.blendshapes) == 52 and pose.blendshapes["mouthSmileLeft"] == pytest.approx(0.23)
    # yaw 0.1, pitch -0.2, roll 0.05 rad: a real turn of about 13 degrees
    assert 10.0 < quat.angle_between_deg(pose.bone_rotations["Head"], quat.IDENTITY) < 15.0
    # yaw alone turns about Unity's up axis
    yaw_only = packet([0.0] * 52 + [0.3, 0.0, 0.0] + [0.0] * 6)
    head = frame_to_pose(parse_live_link_face(yaw_only), 0).bone_rotations["Head"]
    assert quat.angle_between_deg(head, quat.from_axis_angle([0, 1, 0], 0.3)) < 1e-6
    assert quat.angle_between_deg(frame_to_pose(frame, 0).bone_rotations["LeftEye"], quat.IDENTITY) < 1e-9


@pytest.mark.parametrize(
    "raw, fragment",
    [
        (b"", "empty packet"),
        (packet(version=5), "unsupported packet version 5"),
        (packet()[:3], "truncated packet: device id length"),
        (packet()[:40], "truncated packet"),
        (packet(count=60, values=[0.0] * 60), "value count is 60, expected 61"),
        (packet()[:-8], "truncated packet: 61 values need 244 bytes"),
        (packet(extra=b"\x00\x00"), "oversized packet: 2 bytes after the 61 values"),
        (packet([float("nan")] + [0.0] * 60), "non-finite"),
        (bytes([6]) + struct.pack(">i", -4), "negative length"),
    ],
)
def test_bad_packets_are_rejected_with_reasons(raw, fragment):
    with pytest.raises(LiveLinkFaceError, match=fragment):
        parse_live_link_face(raw)


def test_encoder_matches_the_hand_built_bytes():
    assert encode_live_link_face(parse_live_link_face(packet())) == packet()


def test_udp_source_turns_packets_into_poses():
    source = LiveLinkFaceSource(host="127.0.0.1", port=0)
    source.start()
    poses = source.poses(timeout_s=5.0)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(packet(version=2), source.address)
            sender.sendto(packet(subject="Ben"), source.address)
            pose = next(poses)
        assert pose.performer_id == "Ben" and pose.blendshapes["jawOpen"] == pytest.approx(0.17)
        assert source.stats().rejected == 1 and "version 2" in source.stats().last_reject_reason
    finally:
        source.stop()
