"""Remote engines: CURVE encryption and an allow-list, over real sockets."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zmq

from bridge.client import BridgeClient, BridgeClientError
from bridge.protocol.messages import Result, StreamDeclaration
from bridge.security import client_curve_keys, generate_keypair, is_loopback_endpoint
from bridge.server import BridgeServer
from bridge.server_config import ServerConfig

pytestmark = pytest.mark.timeout(60)
STREAM = StreamDeclaration(0, "main", 32, 24, pipeline="passthrough")


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    allowed = tmp_path / "allowed"
    server_pub, server_secret = generate_keypair(tmp_path / "server", "server")
    good_pub, good_secret = generate_keypair(tmp_path / "engines", "stage-left")
    _, bad_secret = generate_keypair(tmp_path / "engines", "intruder")
    _, fake_server_secret = generate_keypair(tmp_path / "other", "not-the-server")
    allowed.mkdir()
    (allowed / good_pub.name).write_bytes(good_pub.read_bytes())
    return {"allowed": allowed, "server_pub": server_pub, "server_secret": server_secret, "good": good_secret,
            "bad": bad_secret, "fake_server_pub": fake_server_secret.with_suffix(".key")}


@pytest.fixture
def server(keys):
    srv = BridgeServer(ServerConfig(endpoints=["tcp://127.0.0.1:*"], curve=True, timeout_ms=60_000,
                                    server_secret_file=str(keys["server_secret"]),
                                    allowed_clients_dir=str(keys["allowed"])))
    srv.start()
    yield srv
    srv.stop()


def _try_connect(server: BridgeServer, curve: dict | None) -> BridgeClient | None:
    client = BridgeClient(server.endpoint, engine="remote", curve=curve)
    try:
        client.connect([STREAM], timeout_s=2.0)
        return client
    except BridgeClientError:
        client.close(bye=False)
        return None


def test_allowed_key_streams_and_others_are_refused_and_logged(server, keys, caplog):
    caplog.set_level(logging.INFO)
    good = _try_connect(server, client_curve_keys(keys["server_pub"], keys["good"]))
    assert good is not None, "the allowed engine was refused"
    try:
        assert _try_connect(server, client_curve_keys(keys["server_pub"], keys["bad"])) is None  # unknown key
        assert _try_connect(server, None) is None  # plain, unencrypted
        assert _try_connect(server, client_curve_keys(keys["fake_server_pub"], keys["good"])) is None  # wrong server key
        frame = np.arange(24 * 32 * 4, dtype=np.uint8).reshape(24, 32, 4)
        for i in range(3):
            good.send_frame(0, i, frame)
            result = good.recv(5)
            assert isinstance(result, Result) and np.array_equal(result.plane("color").array(), frame)
    finally:
        good.close()
    messages = " | ".join(r.getMessage() for r in caplog.records)
    assert "refused a client: its CURVE public key" in messages
    assert "refused a connection" in messages


def test_public_endpoints_need_curve():
    srv = BridgeServer(ServerConfig(endpoints=["tcp://0.0.0.0:*"]))
    with pytest.raises(OSError, match="without encryption"):
        srv.start()


@pytest.mark.parametrize("endpoint, loopback", [
    ("tcp://127.0.0.1:5555", True), ("tcp://127.0.0.2:1", True), ("tcp://[::1]:5555", True),
    ("tcp://localhost:5555", True), ("ipc:///tmp/x", True), ("tcp://0.0.0.0:5555", False),
    ("tcp://*:5555", False), ("tcp://192.168.1.4:5555", False), ("tcp://eth0:5555", False)])
def test_loopback_detection(endpoint, loopback):
    assert is_loopback_endpoint(endpoint) is loopback


def test_keys_generate_command_writes_a_usable_pair(tmp_path: Path):
    proc = subprocess.run([sys.executable, "-m", "bridge", "keys", "generate", "--dir", str(tmp_path), "--name", "cam-a"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    public, secret = zmq.auth.load_certificate(str(tmp_path / "cam-a.key_secret"))
    assert len(public) == 40 and len(secret) == 40  # z85 text
    assert oct((tmp_path / "cam-a.key_secret").stat().st_mode & 0o777) == "0o600"
    again = subprocess.run([sys.executable, "-m", "bridge", "keys", "generate", "--dir", str(tmp_path), "--name", "cam-a"],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "not overwriting" in again.stderr
