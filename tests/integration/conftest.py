"""Fixtures for the server integration tests: a real BridgeServer and real ZeroMQ engines, always cleaned up."""

from __future__ import annotations

import threading
from typing import Any, Callable

import pytest
import zmq

from bridge.client import BridgeClient
from bridge.server import BridgeServer
from bridge.server_config import ServerConfig
from bridge_harness import RawEngine


@pytest.fixture
def zctx():
    ctx = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


@pytest.fixture
def make_server() -> Callable[..., BridgeServer]:
    """``make_server(**ServerConfig fields)``: a started server on a free loopback port, stopped at teardown."""
    servers: list[BridgeServer] = []

    def make(**overrides: Any) -> BridgeServer:
        server = BridgeServer(ServerConfig(endpoints=["tcp://127.0.0.1:*"], **overrides))
        server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop(timeout_s=5.0)
    # stop() does not wait for sessions ended earlier (BYE, timeout, new HELLO) to finish closing their
    # stages; wait here, or a stage thread still inside onnxruntime/libav can abort the interpreter at exit
    for thread in threading.enumerate():
        if thread.name == "teardown":
            thread.join(10.0)


@pytest.fixture
def server(make_server) -> BridgeServer:
    return make_server()


@pytest.fixture
def make_client(zctx) -> Callable[..., BridgeClient]:
    """``make_client(server_or_endpoint, engine=...)``: a BridgeClient closed (with BYE) at teardown."""
    clients: list[BridgeClient] = []

    def make(target: BridgeServer | str, engine: str = "itest-engine", **kw: Any) -> BridgeClient:
        endpoint = target if isinstance(target, str) else target.endpoint
        client = BridgeClient(endpoint, engine=engine, context=zctx, **kw)
        clients.append(client)
        return client

    yield make
    for client in clients:
        try:
            client.close(bye=False)
        except zmq.ZMQError:
            pass


@pytest.fixture
def make_raw(zctx) -> Callable[..., RawEngine]:
    engines: list[RawEngine] = []

    def make(target: BridgeServer | str, **kw: Any) -> RawEngine:
        endpoint = target if isinstance(target, str) else target.endpoint
        engine = RawEngine(zctx, endpoint, **kw)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.close()
