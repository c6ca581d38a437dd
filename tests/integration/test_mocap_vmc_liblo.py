"""VMC interoperability with an independent OSC implementation: liblo's oscsend / oscdump.

Needs Debian's ``liblo-tools`` (``apt-get install -y liblo-tools``); skipped with that reason
when the tools are absent.
"""

from __future__ import annotations

import queue
import shutil
import socket
import subprocess
import threading
import time

import numpy as np
import pytest

from mocap import quaternion as quat
from mocap.skeleton import HUMAN_BONES, t_pose
from mocap.vmc import VmcMarionetteSource, VmcPerformerSender

pytestmark = pytest.mark.skipif(
    shutil.which("oscsend") is None or shutil.which("oscdump") is None,
    reason="liblo-tools (oscsend/oscdump) not installed: apt-get install -y liblo-tools",
)


def _oscsend(port: int, address: str, types: str, *values: object) -> None:
    subprocess.run(
        ["oscsend", "127.0.0.1", str(port), address, types, *(str(v) for v in values)],
        check=True, timeout=10, capture_output=True,
    )  # fmt: skip


def test_oscsend_drives_our_marionette():
    source = VmcMarionetteSource(host="127.0.0.1", port=0, performer_id="liblo")
    source.start()
    poses = source.poses(timeout_s=10.0)
    port = source.address[1]
    try:
        half = np.sqrt(0.5)
        _oscsend(port, "/VMC/Ext/OK", "i", 1)
        _oscsend(port, "/VMC/Ext/Root/Pos", "sfffffff", "root", 0.5, 0.0, -1.0, 0, 0, 0, 1)
        _oscsend(port, "/VMC/Ext/Bone/Pos", "sfffffff", "LeftUpperArm", -0.1, 0, 0, 0, 0, -half, half)
        _oscsend(port, "/VMC/Ext/Bone/Pos", "siiiiiii", "Head", 0, 0, 0, 0, 0, 0, 1)  # ints: rejected
        _oscsend(port, "/VMC/Ext/Blend/Val", "sf", "Joy", 0.25)
        _oscsend(port, "/VMC/Ext/Blend/Apply", "")
        last = None
        for last in poses:
            if last.blendshapes:
                break
        assert last is not None and last.performer_id == "liblo"
        assert last.blendshapes == {"Joy": 0.25}
        np.testing.assert_allclose(last.root_position_m, [0.5, 0.0, -1.0], atol=1e-6)
        arm = quat.rotate_vector(last.bone_rotations["LeftUpperArm"], [-1.0, 0.0, 0.0])
        np.testing.assert_allclose(arm, [0.0, 1.0, 0.0], atol=1e-5)  # raised
        assert "Head" not in last.bone_rotations
        stats = source.stats()
        assert stats.rejected == 1 and "'siiiiiii'" in stats.last_reject_reason
    finally:
        source.stop()


def _free_udp_port() -> int:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def test_oscdump_reads_our_performer_packets():
    port = _free_udp_port()
    dump = subprocess.Popen(["oscdump", "-L", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in dump.stdout], daemon=True)
    reader.start()
    try:
        pose = t_pose("p")
        for index, name in enumerate(HUMAN_BONES):
            pose.bone_rotations[name] = quat.from_axis_angle([0, 1, 0], 0.01 * index)
        pose.blendshapes = {"Joy": 0.5, "A": 1.0}
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with VmcPerformerSender("127.0.0.1", port) as sender, probe:
            # wait until oscdump listens: probe with a bare message until it shows up
            deadline = time.monotonic() + 10.0
            seen_probe = False
            while not seen_probe and time.monotonic() < deadline:
                probe.sendto(b"/probe\x00\x00,\x00\x00\x00", ("127.0.0.1", port))
                try:
                    seen_probe = "/probe" in lines.get(timeout=0.2)
                except queue.Empty:
                    pass
            assert seen_probe, "oscdump did not start listening"
            sender.send_pose(pose)
            received: list[str] = []
            deadline = time.monotonic() + 10.0
            while time.monotonic() < deadline and not any("/VMC/Ext/Blend/Apply" in line for line in received):
                try:
                    received.append(lines.get(timeout=0.5))
                except queue.Empty:
                    pass
        bones = {}
        for line in received:
            fields = line.split()
            if len(fields) >= 3 and fields[1] == "/VMC/Ext/Bone/Pos":
                assert fields[2] == "sfffffff", line  # every value went out as an OSC float
                bones[fields[3].strip('"')] = [float(v) for v in fields[4:11]]
        assert set(bones) == set(HUMAN_BONES)
        for name, values in bones.items():
            np.testing.assert_allclose(values[3:], pose.bone_rotations[name], atol=2e-6)
        blends = [line.split() for line in received if "/VMC/Ext/Blend/Val" in line]
        assert {fields[3].strip('"'): float(fields[4]) for fields in blends} == {"Joy": 0.5, "A": 1.0}
        assert any("/VMC/Ext/Root/Pos sfffffff" in line for line in received)
    finally:
        dump.terminate()
        dump.wait(5)
