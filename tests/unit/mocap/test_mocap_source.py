from __future__ import annotations

import ast
import pathlib
import subprocess
import sys
import threading

import pytest

from mocap.bvh import BvhPlayerSource, poses_to_bvh
from mocap.live_link_face import LiveLinkFaceSource
from mocap.skeleton import t_pose
from mocap.source import MocapSource, PoseFanout
from mocap.vmc import VmcMarionetteSource
from mocap.xsens_mvn import XsensMvnSource

MOCAP_DIR = pathlib.Path(__file__).resolve().parents[3] / "mocap"


def test_every_source_satisfies_the_protocol():
    sources = [
        XsensMvnSource(host="127.0.0.1", port=0),
        VmcMarionetteSource(host="127.0.0.1", port=0),
        LiveLinkFaceSource(host="127.0.0.1", port=0),
        BvhPlayerSource(poses_to_bvh([t_pose("p")], 0.01)),
    ]
    try:
        for source in sources:
            assert isinstance(source, MocapSource), type(source).__name__
    finally:
        for source in sources:
            source.stop()


def test_fanout_delivers_to_iterators_and_callbacks_and_counts():
    fanout = PoseFanout(max_queued=2)
    called = []
    fanout.add_listener(called.append)
    fanout.add_listener(lambda pose: 1 / 0)  # a broken listener does not stop delivery
    stream = fanout.poses(timeout_s=1.0)
    for index in range(3):
        fanout.publish(t_pose("a", timestamp_ns=index))
    fanout.note_rejected("bad thing")
    received = [next(stream).timestamp_ns, next(stream).timestamp_ns]
    assert received == [1, 2]  # bounded queue keeps the newest
    assert [pose.timestamp_ns for pose in called] == [0, 1, 2]
    stats = fanout.stats()
    assert stats.poses == 3 and stats.rejected == 1 and stats.last_reject_reason == "bad thing"
    assert stats.performers["a"].poses == 3 and stats.performers["a"].last_timestamp_ns == 2


def test_close_ends_waiting_iterators():
    fanout = PoseFanout()
    stream = fanout.poses(timeout_s=30.0)
    result = []
    reader = threading.Thread(target=lambda: result.extend(stream))
    reader.start()
    fanout.close()
    reader.join(5.0)
    assert not reader.is_alive() and result == []


def test_mocap_never_imports_bridge():
    offenders = []
    for path in MOCAP_DIR.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {name}" for name in names if name == "bridge" or name.startswith("bridge.")]
    assert offenders == []


def test_committed_grpc_stubs_match_the_proto(tmp_path):
    pytest.importorskip("grpc_tools", reason="grpcio-tools not installed (pip install grpcio-tools==1.62.3)")
    root = MOCAP_DIR.parent
    proto = "mocap/move_live_proto/move_live.proto"
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-I", ".", f"--python_out={tmp_path}", f"--grpc_python_out={tmp_path}", proto],
        cwd=root, check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    for name in ("move_live_pb2.py", "move_live_pb2_grpc.py"):
        generated = (tmp_path / "mocap" / "move_live_proto" / name).read_text()
        committed = (MOCAP_DIR / "move_live_proto" / name).read_text()
        assert generated == committed, f"{name} is stale: regenerate it (see move_live.proto)"
