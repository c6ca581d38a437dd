"""mocap CLI subcommands (mocap/cli.py) run as real processes over real UDP sockets."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from mocap import quaternion as quat
from mocap.bvh import poses_to_bvh, read_bvh, write_bvh
from mocap.skeleton import t_pose
from mocap.vmc import VmcMarionetteSource, VmcPerformerSender

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, timeout: float = 60.0, wait: bool = True):
    command = [sys.executable, "-m", "mocap.cli", "mocap", *args]
    if wait:
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_play_sends_a_bvh_take_to_a_vmc_receiver(tmp_path):
    take = []
    for frame in range(10):
        pose = t_pose("a")
        pose.bone_rotations["Head"] = quat.from_axis_angle([0, 1, 0], 0.05 * frame)
        take.append(pose)
    path = tmp_path / "take.bvh"
    write_bvh(poses_to_bvh(take, 0.01), path)
    receiver = VmcMarionetteSource(host="127.0.0.1", port=0)
    receiver.start()
    poses = receiver.poses(timeout_s=20.0)
    try:
        result = _run("play", str(path), "--to", f"vmc://127.0.0.1:{receiver.address[1]}")
        assert result.returncode == 0, result.stderr
        assert "10 frames at 100.0 Hz" in result.stdout and "sent 10 poses" in result.stdout
        last = None
        for last in poses:
            if quat.angle_between_deg(last.bone_rotations["Head"], take[-1].bone_rotations["Head"]) < 1e-3:
                break
        assert last is not None
        assert quat.angle_between_deg(last.bone_rotations["Head"], take[-1].bone_rotations["Head"]) < 1e-3
    finally:
        receiver.stop()


def test_play_rejects_a_bad_target_and_a_missing_file(tmp_path):
    result = _run("play", str(tmp_path / "none.bvh"), "--to", "vmc://127.0.0.1:39539")
    assert result.returncode == 2 and "BVH file not found" in result.stderr
    result = _run("play", str(tmp_path / "none.bvh"), "--to", "udp://x:1")
    assert result.returncode == 2 and "expected vmc://HOST:PORT" in result.stderr


def test_record_writes_what_a_vmc_performer_sends(tmp_path):
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    out = tmp_path / "rec.bvh"
    recorder = _run("record", "--vmc", str(port), "--seconds", "3", "--bvh", str(out), "--fps", "30", wait=False)
    pose = t_pose("whoever")
    pose.bone_rotations["LeftUpperArm"] = quat.from_axis_angle([0, 0, 1], -np.pi / 2)
    try:
        with VmcPerformerSender("127.0.0.1", port) as sender:
            deadline = time.monotonic() + 2.5
            while time.monotonic() < deadline:
                sender.send_pose(pose)
                time.sleep(1 / 60)
        stdout, stderr = recorder.communicate(timeout=30)
    finally:
        if recorder.poll() is None:
            recorder.kill()
    assert recorder.returncode == 0, stderr
    assert "wrote" in stdout
    bvh = read_bvh(out)
    assert bvh.frames.shape[0] >= 10
    assert abs(bvh.frame_time_s - 1 / 30) < 1e-8
    names = [joint.name for joint in bvh.joints()]
    assert "LeftUpperArm" in names and names[0] == "Hips"
