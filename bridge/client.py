"""The Python engine client: the reference implementation the Unity and Unreal plugins follow.

One DEALER socket, used from one thread.  ``connect`` sends HELLO and waits for
WELCOME; ``send_frame`` never blocks (it returns False when the server is not
keeping up and the send queue is full, so the engine just renders on);
``recv`` returns the next message; ``control``/``stats`` wait for their reply
while keeping any RESULTs that arrive meanwhile for later ``recv`` calls.
"""

from __future__ import annotations

import collections
import logging
import time
from typing import Any, Sequence

import numpy as np
import zmq

from bridge import __version__
from bridge.protocol.audio_messages import Audio
from bridge.protocol.errors import ProtocolError
from bridge.protocol.header_templates import HeaderTemplate, KnownHeaders, encode_frame_header, frame_template
from bridge.protocol.messages import (
    Bye, CameraInfo, Control, ControlAck, Error, Frame, Heartbeat, Hello, Message, Result, Stats,
    StreamDeclaration, Welcome, parse_message, serialize_message,
)
from bridge.protocol.planes import Plane
from bridge.socket_parts import NOBLOCK, recv_parts, send_parts

log = logging.getLogger(__name__)
_PLAIN_FRAME_SHAPES = 16  # colour-only frame layouts whose header template a client keeps


class BridgeClientError(Exception):
    """The server refused something (carries the ERROR) or did not answer in time."""

    def __init__(self, message: str, error: Error | None = None) -> None:
        super().__init__(message)
        self.error = error


class BridgeClient:
    def __init__(self, endpoint: str = "tcp://127.0.0.1:5555", *, engine: str = "python-client",
                 session: str = "default", context: zmq.Context | None = None, send_hwm: int = 8,
                 curve: dict[str, bytes] | None = None) -> None:
        self.endpoint = endpoint
        self.engine = engine
        self.session = session
        self._own_context = context is None
        self._ctx = context or zmq.Context()
        self._sock = self._ctx.socket(zmq.DEALER)
        # Frames queued before send_frame says "full" (the engine renders on).  Not smaller than 8: ZeroMQ's
        # I/O thread tells the socket it may send again every send_hwm/2 messages, and that command wakes the
        # receive waiting for the RESULT; at 4 that happened every other frame and made 1280x720 round trips
        # ~8 % slower (bench transport).
        self._sock.setsockopt(zmq.SNDHWM, send_hwm)
        self._sock.setsockopt(zmq.RCVHWM, 64)
        self._sock.setsockopt(zmq.LINGER, 0)
        if curve:
            for opt, key in (("CURVE_SERVERKEY", "server_public"), ("CURVE_PUBLICKEY", "public"),
                             ("CURVE_SECRETKEY", "secret")):
                self._sock.setsockopt(getattr(zmq, opt), curve[key])
        self._sock.connect(endpoint)
        self._pending: collections.deque[Message] = collections.deque()
        self._known_results = KnownHeaders(Result)
        self._plain_frame_templates: dict[tuple, HeaderTemplate] = {}  # colour-only FRAME shapes sent before
        self._rcvtimeo_ms = -1
        self._next_request_id = 1
        self.welcome: Welcome | None = None
        self.last_sent_ns = 0

    # ------------------------------------------------------------------ low level
    def send(self, msg: Message, *, block: bool = True) -> bool:
        return self._send_parts(serialize_message(msg), block)

    def _send_parts(self, parts: list[Any], block: bool) -> bool:
        try:
            send_parts(self._sock, parts, 0 if block else NOBLOCK)
        except zmq.Again:
            return False
        self.last_sent_ns = time.monotonic_ns()
        return True

    def send_raw(self, parts: Sequence[Any]) -> None:
        """Send arbitrary parts (tests use this to send malformed messages)."""
        self._sock.send_multipart(list(parts), copy=False)

    def _recv_socket(self, timeout_s: float | None) -> Message | None:
        timeout_ms = -1 if timeout_s is None else max(0, int(timeout_s * 1000))
        if timeout_ms != self._rcvtimeo_ms:  # a blocking receive with a timeout: no separate poll(2) per message
            self._sock.setsockopt(zmq.RCVTIMEO, timeout_ms)
            self._rcvtimeo_ms = timeout_ms
        try:
            parts = recv_parts(self._sock)
        except zmq.Again:
            return None
        result = self._known_results.match_parts(parts)  # a RESULT of a shape seen before: no full parse
        if result is not None:
            return result
        msg = parse_message(parts)
        if isinstance(msg, Result):
            self._known_results.learn_parts(msg, parts)
        return msg

    def recv(self, timeout_s: float | None = 1.0) -> Message | None:
        """The next message from the server, or None after ``timeout_s``."""
        if self._pending:
            return self._pending.popleft()
        return self._recv_socket(timeout_s)

    def _await(self, kinds: tuple[type, ...], timeout_s: float, match: Any = None) -> Message:
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BridgeClientError(f"no {'/'.join(k.KIND for k in kinds)} from {self.endpoint} within {timeout_s} s")
            msg = self._recv_socket(left)
            if msg is None:
                continue
            if isinstance(msg, kinds) and (match is None or match(msg)):
                return msg
            if isinstance(msg, Error) and Error not in kinds and msg.ref_kind in {k.KIND for k in kinds} | {"HELLO", "CONTROL", "STATS"}:
                raise BridgeClientError(f"server error {msg.name}: {msg.message}", msg)
            self._pending.append(msg)

    # ------------------------------------------------------------------ session
    def connect(self, streams: Sequence[StreamDeclaration], *, capabilities: Sequence[str] = (),
                heartbeat_ms: int = 1000, timeout_s: float = 30.0) -> Welcome:
        hello = Hello(engine=self.engine, streams=list(streams), client=f"machinima-bridge-py {__version__}",
                      session=self.session, capabilities=list(capabilities), heartbeat_ms=heartbeat_ms)
        self.send(hello)
        deadline = time.monotonic() + timeout_s
        while True:
            msg = self._recv_socket(max(0.0, deadline - time.monotonic()))
            if msg is None:
                raise BridgeClientError(f"no WELCOME from {self.endpoint} within {timeout_s} s")
            if isinstance(msg, Welcome):
                self.welcome = msg
                return msg
            if isinstance(msg, Error):
                raise BridgeClientError(f"HELLO refused: {msg.name}: {msg.message}", msg)

    def send_frame(self, stream: int, index: int, color: np.ndarray, *, color_format: str = "RGBA8",
                   depth: np.ndarray | None = None, mask: np.ndarray | None = None,
                   camera: CameraInfo | None = None, timecode: str | None = None,
                   t_capture_ns: int | None = None, block: bool = False) -> bool:
        """Send one FRAME without copying the arrays; False if the send queue is full (frame skipped)."""
        plain = depth is None and mask is None and camera is None and timecode is None
        if plain:  # the usual frame: colour only, in a layout sent before -> its header template, nothing else
            key = (stream, color_format, color.shape, color.strides, color.dtype)
            template = self._plain_frame_templates.get(key)
            if template is not None:
                t_ns = time.monotonic_ns() if t_capture_ns is None else t_capture_ns
                return self._send_parts([template.encode((index, t_ns)), memoryview(color).cast("B")], block)
        planes = [Plane.from_array("color", color_format, color)]
        if depth is not None:
            planes.append(Plane.from_array("depth", "F16" if depth.dtype == np.float16 else "F32", depth))
        if mask is not None:
            planes.append(Plane.from_array("mask", "U8", mask))
        frame = Frame(stream=stream, index=index,
                      t_capture_ns=time.monotonic_ns() if t_capture_ns is None else t_capture_ns,
                      planes=planes, timecode=timecode, camera=camera)
        if plain and color.flags.c_contiguous and type(stream) is int:
            # same shape, strides and dtype: the same checked layout and contiguity next time
            if len(self._plain_frame_templates) >= _PLAIN_FRAME_SHAPES:
                self._plain_frame_templates.clear()
            self._plain_frame_templates[key] = frame_template(frame)
        return self._send_parts([encode_frame_header(frame), *[p.data for p in planes]], block)

    def send_audio(self, stream: int, index: int, pcm: np.ndarray, sample_rate_hz: int, *,
                   t_capture_ns: int | None = None, block: bool = False) -> bool:
        """Send one AUDIO chunk: int16 samples shaped (samples,) or (samples, channels), interleaved on the wire;
        ``t_capture_ns`` (the first sample's time, on the same clock as the frames') defaults to now minus the
        chunk's duration, as for sound that has just been captured.  False if the send queue is full."""
        chunk = Audio.from_array(stream, index, t_capture_ns or 0, sample_rate_hz, pcm)
        if t_capture_ns is None:
            chunk.t_capture_ns = max(0, time.monotonic_ns() - chunk.duration_ns)
        return self.send(chunk, block=block)

    def control(self, stream: int, stage: str, params: dict[str, Any], *, glide_ms: float | None = None,
                timeout_s: float = 10.0) -> ControlAck:
        request_id = self._next_request_id
        self._next_request_id += 1
        self.send(Control(request_id=request_id, stream=stream, stage=stage, params=params, glide_ms=glide_ms))
        return self._await((ControlAck,), timeout_s, match=lambda m: m.request_id == request_id)  # type: ignore[return-value]

    def stats(self, timeout_s: float = 10.0) -> Stats:
        self.send(Stats())
        return self._await((Stats,), timeout_s)  # type: ignore[return-value]

    def heartbeat(self, timeout_s: float | None = None) -> Heartbeat | None:
        self.send(Heartbeat(t_ns=time.monotonic_ns()))
        if timeout_s is None:
            return None
        return self._await((Heartbeat,), timeout_s)  # type: ignore[return-value]

    def heartbeat_if_idle(self) -> None:
        """Call from the engine loop: sends HEARTBEAT when nothing was sent for heartbeat_ms."""
        interval = (self.welcome.heartbeat_ms if self.welcome else 1000) * 1_000_000
        if time.monotonic_ns() - self.last_sent_ns >= interval:
            self.send(Heartbeat(t_ns=time.monotonic_ns()), block=False)

    def close(self, bye: bool = True) -> None:
        if bye and not self._sock.closed:
            try:
                self.send(Bye(reason="client closing"), block=False)
            except (zmq.ZMQError, ProtocolError):
                pass
        self._sock.close(linger=100 if bye else 0)
        if self._own_context:
            self._ctx.term()

    def __enter__(self) -> BridgeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
