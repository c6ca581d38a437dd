"""Helpers for the server integration tests: real server, real ZeroMQ sockets, bounded waits.

Every wait here has a deadline, so a server bug shows up as a failed assertion,
never as a hung test run.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable

import msgpack
import numpy as np
import zmq

from bridge.client import BridgeClient
from bridge.protocol.errors import ErrorCode
from bridge.protocol.messages import (
    ControlAck, Error, Message, Result, StreamDeclaration, parse_message,
)
from bridge.protocol.planes import bytes_per_pixel

WAIT_S = 5.0  # the longest any single expected reply may take


def decl(id: int = 0, name: str = "main", width: int = 64, height: int = 48, color_format: str = "RGBA8",
         pipeline: str | None = "passthrough", **kw: Any) -> StreamDeclaration:
    return StreamDeclaration(id=id, name=name, width=width, height=height, color_format=color_format,
                             pipeline=pipeline, **kw)


def picture(height: int = 48, width: int = 64, channels: int = 4, seed: int = 0) -> np.ndarray:
    """A deterministic picture with structure (gradients + blocks) and noise, uint8."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([(x * 255 // max(width - 1, 1)), (y * 255 // max(height - 1, 1)),
                     ((x // 8 + y // 8) % 2) * 200 + 20], axis=-1)
    noise = rng.integers(-25, 26, size=(height, width, 3))
    rgb = np.clip(base + noise, 0, 255).astype(np.uint8)
    if channels == 3:
        return np.ascontiguousarray(rgb)
    alpha = rng.integers(0, 256, size=(height, width, 1), dtype=np.uint8)
    return np.ascontiguousarray(np.concatenate([rgb, alpha], axis=-1))


def color_of(result: Result) -> np.ndarray:
    """The RESULT's colour plane as an (H, W, C) array, honouring its stride."""
    plane = result.plane("color")
    assert plane is not None, f"RESULT {result.index} has no colour plane"
    return plane.array()


def rgb_of(arr: np.ndarray, fmt: str) -> np.ndarray:
    if fmt == "BGRA8":
        return arr[..., [2, 1, 0]]
    return arr[..., :3]


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def recv_until(client: BridgeClient, match: Callable[[Message], bool], timeout_s: float = WAIT_S,
               what: str = "the expected message") -> tuple[Message, list[Message]]:
    """Receive until ``match``; returns (the match, everything received before it)."""
    deadline = time.monotonic() + timeout_s
    seen: list[Message] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {what} within {timeout_s} s; received instead: {summarize(seen)}")
        msg = client.recv(min(left, 0.5))
        if msg is None:
            continue
        if match(msg):
            return msg, seen
        seen.append(msg)


def expect_error(client: BridgeClient, code: ErrorCode, timeout_s: float = WAIT_S) -> Error:
    msg, _ = recv_until(client, lambda m: isinstance(m, Error), timeout_s, what=f"ERROR {code.name}")
    assert isinstance(msg, Error)
    assert (msg.code, msg.name) == (int(code), code.name), f"expected {code.name}, got {msg}"
    return msg


def expect_result(client: BridgeClient, stream: int | None = None, index: int | None = None,
                  timeout_s: float = WAIT_S) -> Result:
    def match(m: Message) -> bool:
        return isinstance(m, Result) and (stream is None or m.stream == stream) and (index is None or m.index == index)

    msg, seen = recv_until(client, match, timeout_s, what=f"RESULT stream={stream} index={index}")
    errors = [m for m in seen if isinstance(m, Error)]
    assert not errors, f"unexpected errors before the RESULT: {errors}"
    assert isinstance(msg, Result)
    return msg


def drain(client: BridgeClient, quiet_s: float = 0.3, limit_s: float = WAIT_S) -> list[Message]:
    """Everything that arrives until the socket has been quiet for ``quiet_s``."""
    out: list[Message] = []
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        msg = client.recv(quiet_s)
        if msg is None:
            return out
        out.append(msg)
    return out


def summarize(msgs: Iterable[Message]) -> str:
    parts = []
    for m in msgs:
        if isinstance(m, Result):
            parts.append(f"RESULT({m.stream}:{m.index})")
        elif isinstance(m, Error):
            parts.append(f"ERROR({m.name}: {m.message})")
        else:
            parts.append(type(m).__name__)
    return ", ".join(parts) or "nothing"


def roundtrip(client: BridgeClient, stream: int, index: int, image: np.ndarray, color_format: str = "RGBA8",
              **kw: Any) -> Result:
    """Send one FRAME and wait for its RESULT."""
    assert client.send_frame(stream, index, image, color_format=color_format, block=True, **kw)
    return expect_result(client, stream, index)


def ack_of(client: BridgeClient, stream: int, stage: str, params: dict[str, Any], glide_ms: float | None = None) -> ControlAck:
    return client.control(stream, stage, params, glide_ms=glide_ms, timeout_s=WAIT_S)


# ---------------------------------------------------------------- raw wire building


def pack(header: dict[str, Any]) -> bytes:
    return msgpack.packb(header, use_bin_type=True)


def plane_desc(kind: str, fmt: str, width: int, height: int, stride: int | None = None) -> dict[str, Any]:
    return {"kind": kind, "format": fmt, "width": width, "height": height,
            "stride": stride if stride is not None else width * bytes_per_pixel(fmt)}


def frame_header(stream: int, index: int, planes: list[dict[str, Any]], t_capture_ns: int = 1_000,
                 **extra: Any) -> dict[str, Any]:
    return {"v": 1, "kind": "FRAME", "stream": stream, "index": index, "t_capture_ns": t_capture_ns,
            "planes": planes, **extra}


class RawEngine:
    """A bare DEALER socket: sends any parts, receives and parses with a deadline."""

    def __init__(self, ctx: zmq.Context, endpoint: str, rcvhwm: int = 1000, sndhwm: int = 1000) -> None:
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVHWM, rcvhwm)
        self.sock.setsockopt(zmq.SNDHWM, sndhwm)
        self.sock.connect(endpoint)

    def send(self, *parts: Any) -> None:
        self.sock.send_multipart([pack(p) if isinstance(p, dict) else p for p in parts], copy=True)

    def recv(self, timeout_s: float = WAIT_S) -> Message | None:
        if not self.sock.poll(int(timeout_s * 1000), zmq.POLLIN):
            return None
        return parse_message(self.sock.recv_multipart(copy=False))

    def close(self) -> None:
        if not self.sock.closed:
            self.sock.close(0)
