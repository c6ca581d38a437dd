"""End to end over real UDP sockets: an MVN stream (split datagrams, two characters) and a
BVH take played to VMC, recorded back to BVH, and carried through the MOCAP pose wire format."""

from __future__ import annotations

import math
import socket
import struct
import threading
import time

import numpy as np

from mocap import quaternion as quat
from mocap.bvh import BvhPlayerSource, BvhRecorder, bvh_to_poses, poses_to_bvh, read_bvh
from mocap.pose_wire import pose_from_wire, pose_to_wire
from mocap.skeleton import HUMAN_BONES, forward_kinematics, t_pose
from mocap.vmc import VmcMarionetteSource, VmcPerformerSender
from mocap.xsens_mvn import XsensMvnSource


def _mvn_datagrams(sample: int, character: int, angle_rad: float) -> list[bytes]:
    """One type-02 sample split over two datagrams (counters 0 and 0x81), built with struct."""
    lift = (math.cos(angle_rad / 2), math.sin(angle_rad / 2), 0.0, 0.0)  # about Xsens +X (forward)
    items = [
        struct.pack(">i", i) + struct.pack(">3f", 0.0, 0.0, 1.0) + struct.pack(">4f", *(lift if i in (13, 14, 15) else (1, 0, 0, 0)))
        for i in range(1, 24)
    ]
    out = []
    for index, chunk in enumerate((items[:12], items[12:])):
        payload = b"".join(chunk)
        counter = index | (0x80 if index == 1 else 0)
        header = (b"MXTP02" + struct.pack(">I", sample) + bytes([counter, len(chunk)]) + struct.pack(">I", sample * 8)
                  + bytes([character, 23, 0, 0]) + b"\x00\x00" + struct.pack(">H", len(payload)))  # fmt: skip
        out.append(header + payload)
    return out


def test_mvn_stream_of_two_performers_reaches_the_wire_format():
    source = XsensMvnSource(host="127.0.0.1", port=0)
    source.start()
    poses = source.poses(timeout_s=10.0)
    stop = threading.Event()

    def stream() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sample = 0
            while not stop.is_set() and sample < 240:
                for character in (0, 1):
                    for raw in _mvn_datagrams(sample, character, math.pi / 2 if character == 1 else 0.0):
                        sender.sendto(raw, source.address)
                sample += 1
                time.sleep(1 / 120)

    sender_thread = threading.Thread(target=stream, daemon=True)
    sender_thread.start()
    try:
        latest = {}
        for pose in poses:
            latest[pose.performer_id] = pose
            if len(latest) == 2 and source.stats().poses >= 20:
                break
    finally:
        stop.set()
        sender_thread.join(5.0)
        source.stop()
    assert set(latest) == {"xsens-0", "xsens-1"}
    stats = source.stats()
    assert stats.rejected == 0
    assert stats.performers["xsens-0"].rate_hz > 10.0  # streamed, not one burst
    for performer, expected_arm in (("xsens-0", [-1.0, 0.0, 0.0]), ("xsens-1", [0.0, 1.0, 0.0])):
        fields, payload = pose_to_wire(latest[performer])
        relayed = pose_from_wire(fields, payload)
        world = forward_kinematics(relayed)
        arm = world["LeftHand"][0] - world["LeftUpperArm"][0]
        np.testing.assert_allclose(arm / np.linalg.norm(arm), expected_arm, atol=1e-5)


def test_bvh_played_to_vmc_and_recorded_back(tmp_path):
    rng = np.random.default_rng(4)
    take = []
    for frame in range(12):
        pose = t_pose("actor", timestamp_ns=frame)
        for name in HUMAN_BONES:
            pose.bone_rotations[name] = quat.from_axis_angle(rng.normal(size=3), 0.02 * frame)
        take.append(pose)
    original = poses_to_bvh(take, frame_time_s=1 / 60)
    receiver = VmcMarionetteSource(host="127.0.0.1", port=0, performer_id="actor")
    recorder = BvhRecorder("actor")
    receiver.add_listener(recorder)
    receiver.start()
    player = BvhPlayerSource(original, performer_id="actor")
    sender = VmcPerformerSender(*receiver.address)
    player.add_listener(sender.send_pose)
    played = player.poses(timeout_s=10.0)
    player.start()
    try:
        assert len(list(played)) == 12
        deadline = time.monotonic() + 5.0
        while recorder.pose_count < 12 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        player.stop()
        sender.close()
        receiver.stop()
    # the bundles of one frame arrive back to back and make one pose (on a loaded machine a
    # burst may split, or two frames may merge)
    assert recorder.pose_count >= 6
    path = tmp_path / "recorded.bvh"
    frames = recorder.write(path, frame_time_s=1 / 60)
    assert frames >= 10
    recorded = bvh_to_poses(read_bvh(path), "actor")

    # Every bone of every recorded frame holds that bone's value in some played frame (hold
    # resampling never invents values; a frame sampled between two bundles of one frame mixes
    # two played frames bone by bone), and the frames follow the take in order to its end.
    best_frames = []
    for pose in recorded:
        votes = []
        for name in HUMAN_BONES:
            errors = [quat.angle_between_deg(sent.bone_rotations[name], pose.bone_rotations[name]) for sent in take]
            assert min(errors) < 1e-3, (name, min(errors))
            votes.append(int(np.argmin(errors)))
        best_frames.append(max(set(votes), key=votes.count))
    assert best_frames == sorted(best_frames)
    assert best_frames[0] <= 1 and best_frames[-1] >= 9
