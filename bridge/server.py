"""The bridge server: one ROUTER socket serving many engines, a pipeline per declared stream.

Threads: one I/O thread receives on the ROUTER socket and does only cheap
work (parse headers, check planes, drop frames into mailboxes, answer control
messages).  Each stream's pipeline runs on its own stage threads
(``StageChain``); the last stage thread sends its RESULT itself on the same
ROUTER, under a lock that every use of the socket takes, with a non-blocking
send and without copying the pixels.  An engine that stops reading loses its
own results (counted in its next RESULT.dropped) and never slows anyone else.
Pipeline set-up (model loading) and tear-down run off the I/O thread; work
that must run on the I/O thread is queued and the loop woken (``Wakeup``).
"""

from __future__ import annotations

import errno
import logging
import queue
import select
import signal
import threading
import time
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

import zmq
import zmq.utils.monitor

from bridge import __version__
from bridge.engine_session import EngineSession, StreamRuntime
from bridge.mocap_relay import MOCAP_CAPABILITY, MocapRelay
from bridge.pipeline_config import PipelineCatalog, PipelineConfigError
from bridge.protocol.audio_messages import Audio
from bridge.protocol.errors import ErrorCode, ProtocolError
from bridge.protocol.header_codec import decode_header
from bridge.protocol.header_templates import encode_result_header
from bridge.protocol.messages import (
    Bye, Control, ControlAck, Error, Frame, Heartbeat, Hello, Message, Mocap, Result, Stats, StreamGrant,
    Welcome, parse_message, serialize_message,
)
from bridge.protocol.session_messages import StateChange
from bridge.protocol.planes import Plane
from mocap.pose_wire import pose_from_wire
from bridge.rate_limited_log import RateLimitedLog
from bridge.security import CurveGuard, SecurityConfigError, check_endpoints
from bridge.server_config import ServerConfig, ServerConfigError
from bridge.session_directory import SESSION_CAPABILITY, SessionDirectory
from bridge.socket_parts import NOBLOCK, readable, recv_parts, send_parts
from bridge.take_control import LIVE_QUIET_S, TAKE_STAGE, TAKE_STATE_KEY, TakeControl, stream_key
from bridge.stage import StageBase, StageFrame, StreamSpec
from bridge.stage_chain import StageChain
from bridge.stage_params import ParamError
from bridge.stream_stats import StreamStatsTracker
from bridge.wakeup import Wakeup

log = logging.getLogger(__name__)

_DRAIN_BATCH = 64
_HOUSEKEEPING_MS = 100
_MOCAP_RETRY_MS = 2  # poses an engine could not take yet are retried this often
_PERFORMER_TAKEOVER_NS = 1_000_000_000  # a performer silent this long may be sent by another engine
_SERVER_TO_ENGINE_KINDS = {"WELCOME", "RESULT", "CONTROL_ACK"}


@dataclass
class ControlOutcome:
    engine_id: str
    stream: int
    ack: ControlAck


class BridgeServer:
    """Serve engines on ``config.endpoints``; ``start()`` binds and returns, ``stop()`` shuts down."""

    def __init__(self, config: ServerConfig | None = None, catalog: PipelineCatalog | None = None,
                 context: zmq.Context | None = None) -> None:
        self.config = config or ServerConfig()
        self.config.validate()
        self.catalog = catalog or PipelineCatalog.with_builtins(self.config.pipelines, self.config.default_pipeline)
        self._own_context = context is None
        self._ctx = context or zmq.Context()
        self._sessions: dict[bytes, EngineSession] = {}
        self._registry_lock = threading.RLock()
        self._outgoing: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()  # work for the I/O thread
        self._sock_lock = threading.RLock()  # every use of the ROUTER socket
        self._wakeup = Wakeup()
        self._running = threading.Event()
        self._stopped = threading.Event()
        self._io_thread: threading.Thread | None = None
        self._io_ident = -1  # thread id of the I/O loop (it re-checks the socket itself after sending)
        self._edge_maybe_consumed = False  # a send since the I/O loop last read ZMQ_EVENTS (see _io_loop)
        self._router: zmq.Socket | None = None
        self.bound_endpoints: list[str] = []
        self._limited = RateLimitedLog(log)
        self.mocap_relay = MocapRelay()
        self.sessions = SessionDirectory(self.config.limits)
        self.takes = TakeControl(self.config.takes_dir, self.config.take_compaction)
        self._last_frame_ns = 0  # when the last FRAME arrived (take compaction waits for quiet)
        self._osc = None
        self._curve: CurveGuard | None = None
        self._mocap_hub = None
        self._teardowns: list[threading.Thread] = []
        self._monitor: zmq.Socket | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        try:
            curve = self.config.curve_settings()
            check_endpoints(self.config.endpoints, curve)
            self._curve = CurveGuard(self._ctx, curve) if curve is not None else None
        except (SecurityConfigError, ServerConfigError) as exc:
            raise OSError(str(exc)) from None
        if self._curve is not None:
            self._curve.start()
        router = self._ctx.socket(zmq.ROUTER)
        if self._curve is not None:
            self._curve.secure(router)
            self._monitor = router.get_monitor_socket(
                zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_AUTH)
        router.setsockopt(zmq.ROUTER_MANDATORY, 1)
        router.setsockopt(zmq.SNDHWM, self.config.send_hwm)
        router.setsockopt(zmq.RCVHWM, 64)
        router.setsockopt(zmq.LINGER, 0)
        try:
            for endpoint in self.config.endpoints:
                router.bind(endpoint)
                self.bound_endpoints.append(router.getsockopt_string(zmq.LAST_ENDPOINT))
        except zmq.ZMQError as exc:
            if self._monitor is not None:
                self._monitor.close(0)
            router.close(0)
            if self._curve is not None:
                self._curve.stop()
            raise OSError(f"cannot bind {endpoint}: {exc}") from None
        self._router = router
        self._running.set()
        self._io_thread = threading.Thread(target=self._io_loop, name="bridge-io", daemon=True)
        self._io_thread.start()
        if self.config.mocap.active:
            from bridge.mocap_hub import MocapHub

            self._mocap_hub = MocapHub(self.config.mocap, self.publish_mocap)
            self._mocap_hub.start()
        if self.config.osc_enabled:
            from bridge.osc_control import OscControlServer

            self._osc = OscControlServer(self, self.config.osc_host, self.config.osc_port)
            self._osc.start()
        log.info("serving on %s (pipelines: %s)", ", ".join(self.bound_endpoints), ", ".join(sorted(self.catalog.pipelines)))

    @property
    def endpoint(self) -> str:
        return self.bound_endpoints[0]

    @property
    def osc_address(self) -> tuple[str, int] | None:
        return None if self._osc is None else self._osc.address

    def stop(self, timeout_s: float = 10.0) -> None:
        if not self._running.is_set():
            return
        if self._osc is not None:
            self._osc.stop()
        if self._mocap_hub is not None:
            self._mocap_hub.stop()
        self.takes.close()  # a take in progress is finished and kept
        self._running.clear()
        self._wake()
        if self._io_thread is not None:
            self._io_thread.join(timeout_s)
        for thread in self._teardowns:  # pipelines of engines that left: their stages must be closed too
            thread.join(timeout_s)
        if self._own_context:
            self._ctx.destroy(linger=0)

    def serve_forever(self) -> None:
        """Run until SIGINT/SIGTERM (main thread only)."""
        stop_requested = threading.Event()

        def _on_signal(signum: int, _frame: Any) -> None:
            log.info("received %s, shutting down", signal.Signals(signum).name)
            stop_requested.set()

        previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            if not self._running.is_set():
                self.start()
            while not stop_requested.wait(0.2):
                pass
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def __enter__(self) -> BridgeServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ cross-thread plumbing
    def _call_soon(self, fn: Callable[[], None]) -> None:
        self._outgoing.put(fn)
        self._wakeup.signal()

    def _wake(self) -> None:
        self._wakeup.signal()

    # ------------------------------------------------------------------ I/O thread
    def _io_loop(self) -> None:
        """Receive and dispatch; sleep in poll(2) on the ROUTER's signalling fd and the wake-up fd.

        The ROUTER is shared with the stage threads, which send their results
        themselves (one thread hand-off fewer per frame); every use of the
        socket holds ``_sock_lock``.  The socket's fd is edge-triggered: any
        send may process the command that announced new input and so eat the
        edge.  So before sleeping the loop re-reads ZMQ_EVENTS under the lock
        if anything was sent since its last look, and a stage thread that finds
        input pending after its send wakes the loop.  When poll(2) reports the
        fd, the first receive is tried without a ZMQ_EVENTS read.
        """
        assert self._router is not None
        self._io_ident = threading.get_ident()
        router_fd = self._router.getsockopt(zmq.FD)
        poller = select.poll()
        poller.register(router_fd, select.POLLIN)
        poller.register(self._wakeup.fileno(), select.POLLIN)
        monitor_fd = self._monitor.getsockopt(zmq.FD) if self._monitor is not None else None
        if monitor_fd is not None:
            poller.register(monitor_fd, select.POLLIN)
        next_housekeeping = time.monotonic_ns()
        input_signalled = False  # poll(2) said the ROUTER's fd fired: receive at once, no ZMQ_EVENTS read first
        try:
            while self._running.is_set():
                self._drain_outgoing()
                with self._sock_lock:
                    more_input = self._drain_incoming(input_signalled)
                    if self.mocap_relay.has_pending:
                        self.mocap_relay.flush(self._send_parts)
                if self._monitor is not None:
                    self._log_refused_handshakes()
                now = time.monotonic_ns()
                if now >= next_housekeeping:
                    self._expire_silent_engines(now)
                    self.takes.set_live(now - self._last_frame_ns < LIVE_QUIET_S * 1e9)
                    next_housekeeping = now + _HOUSEKEEPING_MS * 1_000_000
                input_signalled = more_input
                if more_input:
                    continue
                if self._edge_maybe_consumed:  # we sent since the last look: that may have eaten the fd's edge
                    with self._sock_lock:
                        if readable(self._router):
                            input_signalled = True
                            continue
                wait_ms = _MOCAP_RETRY_MS if self.mocap_relay.has_pending else _HOUSEKEEPING_MS
                for fd, _ in poller.poll(wait_ms):
                    if fd == router_fd:
                        input_signalled = True
                    elif fd == self._wakeup.fileno():
                        self._wakeup.clear()
        except Exception:  # pragma: no cover - the I/O loop must never die silently
            log.exception("I/O loop failed")
        finally:
            self._shutdown_io()

    def _log_refused_handshakes(self) -> None:
        assert self._monitor is not None
        while self._monitor.getsockopt(zmq.EVENTS) & zmq.POLLIN:
            event = zmq.utils.monitor.recv_monitor_message(self._monitor, flags=zmq.NOBLOCK)
            reason = {
                zmq.EVENT_HANDSHAKE_FAILED_AUTH: "its key is not allowed",
                zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: "no or wrong encryption (plain client, or wrong server key)",
            }.get(event["event"], "handshake failed")
            self._limited.warning(("handshake", event["event"]), "refused a connection on %s: %s",
                                  event["endpoint"].decode("utf-8", "replace"), reason)

    def _drain_outgoing(self) -> None:
        if self._outgoing.empty():  # the usual case: no exception raised and caught per loop pass
            return
        while True:
            try:
                item = self._outgoing.get_nowait()
            except queue.Empty:
                return
            item()

    def _send_from_worker(self, session: EngineSession, generation: int, stream_id: int, parts: list[Any],
                          carried_drops: int = 0) -> bool:
        """A stage thread sends its result itself (under the socket lock) and never waits for the engine.

        Nothing is sent for a session that was replaced or ended meanwhile (a frame of the old pipeline
        that finishes late must not reach the engine after its new WELCOME).  A result the engine
        cannot take is dropped and counted, together with the drops it was carrying.
        """
        with self._sock_lock:
            if self._router is None or session.generation != generation:
                return False
            sent = self._send_parts(session.routing_id, parts)
            if not sent:
                session.results_dropped += 1
                runtime = session.streams.get(stream_id)
                if runtime is not None:
                    runtime.chain.add_drops(1)  # this result
                    runtime.chain.entrance.restore_unreported_drops(carried_drops)  # and what it carried
            if threading.get_ident() != self._io_ident and readable(self._router):
                self._wakeup.signal()  # our send consumed the fd's edge; make sure the loop looks
            return sent

    def _send_parts(self, rid: bytes, parts: list[Any]) -> bool:
        """Non-blocking send; False when the engine is not taking messages (full) or gone.

        The caller holds ``_sock_lock`` (or is the I/O thread inside it).
        """
        assert self._router is not None
        self._edge_maybe_consumed = True
        try:
            send_parts(self._router, [rid, *parts], NOBLOCK)
            return True
        except zmq.Again:
            return False  # this engine is not reading: its message is dropped, others are served
        except zmq.ZMQError as exc:
            if exc.errno == errno.EHOSTUNREACH:
                self._call_soon(partial(self._on_engine_gone, rid))
                return False
            raise

    def _on_engine_gone(self, rid: bytes) -> None:
        session = self._sessions.get(rid)
        if session is not None:
            log.info("%s disconnected; freeing its streams", session.label)
            self._remove_session(rid, "disconnected")

    def _send(self, rid: bytes, msg: Message) -> bool:
        with self._sock_lock:
            return self._send_parts(rid, serialize_message(msg))

    def _send_error(self, rid: bytes, exc: ProtocolError) -> None:
        self._limited.warning(("err", rid, exc.code), "engine %s: %s", rid.hex(), exc)
        self._send(rid, Error.from_exception(exc))

    def _drain_incoming(self, signalled: bool) -> bool:
        """Receive and handle up to ``_DRAIN_BATCH`` messages; True when more may be waiting.

        ``signalled``: the ROUTER's fd just fired, so a message is most likely there and the first receive
        is tried at once (one ``ZMQ_EVENTS`` read fewer on the path of every frame; a spurious wake-up
        costs one refused receive).  Later messages are looked for with ``ZMQ_EVENTS``, which is cheaper
        than a refused receive and, read after the handlers' sends, re-arms the fd for poll(2).
        """
        router = self._router
        assert router is not None
        for n in range(_DRAIN_BATCH):
            if n or not signalled:
                self._edge_maybe_consumed = False  # this look comes after every send so far
                if not readable(router):
                    return False
            try:
                parts = recv_parts(router, NOBLOCK)
            except zmq.Again:
                self._edge_maybe_consumed = False  # the refused receive processed the socket's commands too
                return False
            rid = parts[0].bytes
            try:
                self._handle(rid, parts[1:])
            except ProtocolError as exc:
                self._send_error(rid, exc)
            except Exception as exc:  # a bug in handling one message must not take the server down
                log.exception("unexpected failure handling a message from %s", rid.hex())
                self._send_error(rid, ProtocolError(ErrorCode.PIPELINE_FAILED, f"internal error: {exc}"))
        return True

    def _handle(self, rid: bytes, body: list[Any]) -> None:
        now = time.monotonic_ns()
        session = self._sessions.get(rid)
        if session is not None and session.ready:
            frame = session.match_known_frame(body)  # a FRAME of a shape already accepted: no full parse
            if frame is not None:
                session.last_seen_ns = now
                self._accept_frame(session.streams[frame.stream], frame, now, body)
                return
        total = sum(len(p) for p in body)
        if total > self.config.max_frame_bytes:
            stream = index = kind = None
            try:
                head = decode_header(body[0])
                stream, index, kind = head.get("stream"), head.get("index"), head.get("kind")
            except ProtocolError:
                pass
            raise ProtocolError(
                ErrorCode.FRAME_TOO_LARGE,
                f"message is {total} bytes, above the server's cap of {self.config.max_frame_bytes} bytes",
                kind=kind if isinstance(kind, str) else None, stream=stream if isinstance(stream, int) else None,
                index=index if isinstance(index, int) else None,
            )
        msg = parse_message(body)
        if session is not None:
            session.last_seen_ns = now
        if isinstance(msg, Frame):
            self._on_frame(rid, session, msg, now, body)
        elif isinstance(msg, Hello):
            self._on_hello(rid, msg, now)
        elif isinstance(msg, Control):
            self._on_control(rid, session, msg)
        elif isinstance(msg, Heartbeat):
            self._send(rid, Heartbeat(t_ns=time.monotonic_ns()))
        elif isinstance(msg, Stats):
            self._on_stats(rid, session)
        elif isinstance(msg, Bye):
            if session is not None:
                log.info("%s said BYE (%s)", session.label, msg.reason or "no reason")
                self._remove_session(rid, "bye")
        elif isinstance(msg, Mocap):
            self._on_mocap(rid, session, msg)
        elif isinstance(msg, Audio):
            self._on_audio(session, msg)
        elif isinstance(msg, StateChange):
            self._require_ready(session, "STATE")
            for target, applied in self.sessions.change_state(rid, msg):
                self._send(target, applied)
        elif isinstance(msg, Error):
            log.warning("engine %s reported error %s %s: %s", rid.hex(), msg.code, msg.name, msg.message)
        else:
            kind = type(msg).KIND  # WELCOME, RESULT, CONTROL_ACK, SESSION
            raise ProtocolError(ErrorCode.UNSUPPORTED, f"{kind} is sent by the server, not to it", kind=kind)

    # ------------------------------------------------------------------ message handlers
    def _require_ready(self, session: EngineSession | None, kind: str) -> EngineSession:
        if session is None:
            raise ProtocolError(ErrorCode.NOT_WELCOMED, f"{kind} before HELLO: send HELLO and wait for WELCOME", kind=kind)
        if not session.ready:
            raise ProtocolError(
                ErrorCode.NOT_WELCOMED, f"{kind} before WELCOME: the pipelines are still being set up", kind=kind
            )
        return session

    def _declared_stream(self, session: EngineSession | None, msg: Frame | Audio) -> StreamRuntime:
        """The stream a FRAME or AUDIO names; NOT_WELCOMED or UNKNOWN_STREAM naming the message otherwise."""
        session = self._require_ready(session, msg.KIND)
        runtime = session.streams.get(msg.stream)
        if runtime is None:
            raise ProtocolError(
                ErrorCode.UNKNOWN_STREAM,
                f"stream {msg.stream} was not declared in HELLO (declared: {sorted(session.streams)})",
                kind=msg.KIND, stream=msg.stream, index=msg.index,
            )
        return runtime

    def _on_frame(self, rid: bytes, session: EngineSession | None, msg: Frame, now: int, body: list[Any]) -> None:
        runtime = self._declared_stream(session, msg)
        runtime.check_frame(msg)
        session.learn_frame_shape(msg, body)  # type: ignore[union-attr]  # ready: _declared_stream checked
        self._accept_frame(runtime, msg, now, body)

    def _accept_frame(self, runtime: StreamRuntime, msg: Frame, now: int, body: list[Any]) -> None:
        """A FRAME checked against its stream's declaration enters the pipeline."""
        self._last_frame_ns = now
        runtime.stats.record_in(now)
        frame = runtime.to_stage_frame(msg, now, body)
        runtime.last_index = msg.index
        if self.takes.recorder is not None:
            self.takes.on_input(runtime.take_key, frame, runtime.decl.color_format)
        runtime.chain.submit(frame)

    def _on_audio(self, session: EngineSession | None, msg: Audio) -> None:
        """Check a chunk against its stream's declaration; a recording take gets it, otherwise it is dropped."""
        runtime = self._declared_stream(session, msg)
        runtime.check_audio(msg)
        runtime.last_audio_index = msg.index
        if self.takes.recorder is not None:
            self.takes.on_audio(runtime.take_key, msg)

    def _on_hello(self, rid: bytes, hello: Hello, now: int) -> None:
        # A HELLO refused at once (malformed, unknown pipeline) leaves the previous session as it was;
        # one accepted for set-up replaces it immediately.
        for decl in hello.streams:
            if decl.pipeline is not None and decl.pipeline not in self.catalog.pipelines:
                raise ProtocolError(
                    ErrorCode.BAD_FIELD,
                    f"stream {decl.id} asks for pipeline {decl.pipeline!r}, which this server does not have "
                    f"(available: {', '.join(sorted(self.catalog.pipelines))})",
                    kind="HELLO", stream=decl.id,
                )
        self.sessions.check_hello(rid, hello)
        old = self._sessions.get(rid)
        if old is not None:
            log.info("%s sent HELLO again; replacing its streams", old.label)
            self._remove_session(rid, "replaced")
        session = EngineSession(routing_id=rid, hello=hello, last_seen_ns=now)
        with self._registry_lock:
            self._sessions[rid] = session
        log.info("%s says HELLO with %d stream(s)", session.label, len(hello.streams))
        threading.Thread(
            target=self._set_up_session, args=(session, session.generation), name=f"setup-{session.engine_id}",
            daemon=True,
        ).start()

    def _set_up_session(self, session: EngineSession, generation: int) -> None:
        """Off the I/O thread: build and set up every stream's stages (loads models)."""
        streams: dict[int, StreamRuntime] = {}
        built: list[StageBase] = []
        try:
            for decl in session.hello.streams:
                pipeline = self.catalog.get(decl.pipeline)
                spec = StreamSpec(
                    engine=session.engine_id, stream_id=decl.id, name=decl.name, width=decl.width, height=decl.height,
                    color_format=decl.color_format, depth_format=decl.depth_format, has_mask=decl.mask, fps=decl.fps,
                )
                stages = pipeline.build_stages()
                for stage in stages:
                    try:
                        stage.setup(spec)
                    except Exception as exc:
                        raise ProtocolError(
                            ErrorCode.PIPELINE_FAILED,
                            f"stream {decl.id} ({decl.name!r}), pipeline {pipeline.name!r}: stage {stage.name!r} "
                            f"could not start: {exc}",
                            kind="HELLO", stream=decl.id,
                        ) from None
                    built.append(stage)
                stats = StreamStatsTracker(decl.id, decl.name)
                chain = StageChain(
                    stages, spec,
                    on_output=partial(self._on_output, session, generation, decl.id, decl.color_format, stats),
                    on_error=partial(self._on_stage_error, session, generation, decl.id),
                    thread_prefix=session.engine_id,
                )
                streams[decl.id] = StreamRuntime(decl, spec, pipeline, chain, stats,
                                                 take_key=stream_key(session.engine_id, decl.id, decl.name))
        except (ProtocolError, PipelineConfigError, KeyError) as exc:
            for stage in built:
                try:
                    stage.close()
                except Exception:
                    log.exception("closing stage %s after a failed set-up", stage.name)
            error = exc if isinstance(exc, ProtocolError) else ProtocolError(ErrorCode.PIPELINE_FAILED, str(exc), kind="HELLO")
            self._call_soon(partial(self._set_up_failed, session, generation, error))
            return
        self._call_soon(partial(self._install_session, session, generation, streams))

    def _install_session(self, session: EngineSession, generation: int, streams: dict[int, StreamRuntime]) -> None:
        if self._sessions.get(session.routing_id) is not session or session.generation != generation:
            self._close_streams_async(list(streams.values()))  # replaced or gone meanwhile
            return
        session.streams = streams
        for runtime in streams.values():
            runtime.chain.start()
        session.ready = True
        self.mocap_relay.join(session.hello.session, session.routing_id,
                              MOCAP_CAPABILITY in session.hello.capabilities)
        grants = [
            StreamGrant(rt.decl.id, rt.decl.pipeline or self.catalog.default, rt.pipeline.stage_names, rt.decl.width, rt.decl.height,
                        rt.decl.color_format)
            for rt in streams.values()
        ]
        self._send(session.routing_id, Welcome(
            server=f"machinima-bridge {__version__}", engine_id=session.engine_id, session=session.hello.session,
            streams=grants, heartbeat_ms=self.config.heartbeat_ms, timeout_ms=self.config.timeout_ms,
            max_frame_bytes=self.config.max_frame_bytes,
        ))
        log.info("%s welcomed: %s", session.label,
                 ", ".join(f"stream {g.id} -> {g.pipeline} [{' > '.join(g.stages)}]" for g in grants))
        for target, event in self.sessions.join(session.routing_id, session.hello.session, session.engine_id,
                                                session.hello.engine, SESSION_CAPABILITY in session.hello.capabilities):
            self._send(target, event)

    def _set_up_failed(self, session: EngineSession, generation: int, error: ProtocolError) -> None:
        if self._sessions.get(session.routing_id) is not session or session.generation != generation:
            return  # that HELLO was replaced meanwhile: its failure concerns nobody
        with self._registry_lock:
            del self._sessions[session.routing_id]
        log.error("%s: %s", session.label, error)
        self._send(session.routing_id, Error.from_exception(error))

    def _on_control(self, rid: bytes, session: EngineSession | None, msg: Control) -> None:
        session = self._require_ready(session, "CONTROL")
        runtime = session.streams.get(msg.stream)
        if msg.stage == TAKE_STAGE:  # takes are the server's, not a stream's: any stream id will do
            ack = self._take_control(msg.request_id, msg.params)
        elif runtime is None:
            ack = ControlAck(msg.request_id, False, code=int(ErrorCode.UNKNOWN_STREAM),
                             reason=f"stream {msg.stream} was not declared in HELLO")
        else:
            ack = self._apply_control(runtime, msg.request_id, msg.stage, msg.params, msg.glide_ms)
        self._send(rid, ack)

    def _take_control(self, request_id: int, params: dict[str, Any]) -> ControlAck:
        """CONTROL to the pseudo-stage ``take``: {"record": true[, "name": str]} or {"record": false}."""
        record = params.get("record")
        name = params.get("name")
        if not isinstance(record, bool) or set(params) - {"record", "name"} or not (name is None or isinstance(name, str)):
            return ControlAck(request_id, False, code=int(ErrorCode.BAD_PARAM_VALUE),
                              reason='stage "take" takes {"record": true|false, "name": optional string}')
        try:
            summary = self.start_take(name) if record else self.stop_take()
        except (ValueError, OSError) as exc:
            return ControlAck(request_id, False, code=int(ErrorCode.BAD_PARAM_VALUE), reason=f"take: {exc}")
        return ControlAck(request_id, True, applied={"record": record, **{k: v for k, v in summary.items() if v is not None}})

    def start_take(self, name: str | None = None) -> dict[str, Any]:
        """Start recording every connected stream, control and pose (thread-safe; disk work of milliseconds)."""
        with self._registry_lock:
            runtimes = [rt for s in self._sessions.values() for rt in s.streams.values()]
        summary = self.takes.start({rt.take_key: rt.pipeline for rt in runtimes}, name)
        self._announce_take({"recording": True, "take": summary["take"], "timecode": summary.get("timecode")})
        return summary

    def stop_take(self) -> dict[str, Any]:
        summary = self.takes.stop()
        self._announce_take({"recording": False, "take": summary["take"], "status": summary.get("status")})
        return summary

    def _announce_take(self, value: dict[str, Any]) -> None:
        """Tell every session (STATE key ``bridge.take``, by ``server``) that a take started or stopped, whoever
        started it (CLI, OSC, an engine); sent from the I/O thread, which owns the session directory."""
        def announce() -> None:
            for target, applied in self.sessions.set_server_state(TAKE_STATE_KEY, value):
                self._send(target, applied)
        self._call_soon(announce)

    def _apply_control(self, runtime: StreamRuntime, request_id: int, stage_name: str, params: dict[str, Any],
                       glide_ms: float | None) -> ControlAck:
        stage = runtime.chain.stage(stage_name)
        if stage is None:
            return ControlAck(
                request_id, False, code=int(ErrorCode.UNKNOWN_STAGE),
                reason=f"stage {stage_name!r} is not in pipeline {runtime.pipeline.name!r} "
                f"(stages: {', '.join(runtime.pipeline.stage_names)})",
            )
        try:
            applied = stage.params.update(stage.translate_updates(dict(params)), glide_ms)
        except ParamError as exc:
            return ControlAck(request_id, False, code=int(exc.code), reason=f"stage {stage_name!r}: {exc.message}")
        log.info("stream %s stage %s <- %s%s", runtime.decl.name, stage_name, applied,
                 f" over {glide_ms:.0f} ms" if glide_ms else "")
        if self.takes.recorder is not None:
            self.takes.on_control(runtime.take_key, stage_name, applied, glide_ms, runtime.last_index + 1)
        return ControlAck(request_id, True, applied=applied)

    def apply_control(self, stream_name: str, stage_name: str, params: dict[str, Any],
                      glide_ms: float | None = None) -> list[ControlOutcome]:
        """Thread-safe: apply to every connected stream named ``stream_name`` (``*`` = all)."""
        outcomes = []
        with self._registry_lock:
            sessions = list(self._sessions.values())
        for session in sessions:
            for runtime in list(session.streams.values()):
                if stream_name in ("*", runtime.decl.name, str(runtime.decl.id)):
                    ack = self._apply_control(runtime, 0, stage_name, params, glide_ms)
                    outcomes.append(ControlOutcome(session.engine_id, runtime.decl.id, ack))
        return outcomes

    def _on_mocap(self, rid: bytes, session: EngineSession | None, msg: Mocap) -> None:
        session = self._require_ready(session, "MOCAP")
        performer, t_ns = self.mocap_relay.wire_check.check(msg)  # remembers each performer's checked layout
        owner = self.mocap_relay.performers.get(performer)
        if (owner is not None and owner.source != session.engine_id and owner.session == session.hello.session
                and time.monotonic_ns() - owner.last_ns < _PERFORMER_TAKEOVER_NS):
            raise ProtocolError(
                ErrorCode.BAD_FIELD,
                f"performer {performer!r} is being sent by {owner.source}; give each performer a unique id",
                kind="MOCAP",
            )
        self.mocap_relay.publish(session.hello.session, rid, performer, serialize_message(msg), t_ns,
                                 source=session.engine_id)
        self.mocap_relay.flush(self._send_parts)  # out now (we hold the socket lock), not after the whole batch
        if self.takes.recorder is not None:
            self.takes.on_mocap(performer, msg.fields, msg.parts[0])
        if self._mocap_hub is not None:
            self._mocap_hub.forward(pose_from_wire(msg.fields, msg.parts[0]))  # VMC out needs the pose itself

    def publish_mocap(self, session: str, msg: Mocap, source: str) -> None:
        """From any thread: relay a pose made inside the server (a mocap source) to the session's engines."""
        performer, t_ns = msg.fields["performer"], msg.fields["t_ns"]  # made by pose_to_wire: well-formed
        parts = serialize_message(msg)
        if self.takes.recorder is not None:
            self.takes.on_mocap(performer, msg.fields, msg.parts[0])
        self._call_soon(lambda: self.mocap_relay.publish(session, None, performer, parts, t_ns, source))

    def _on_stats(self, rid: bytes, session: EngineSession | None) -> None:
        session = self._require_ready(session, "STATS")
        self._send(rid, Stats(t_ns=time.monotonic_ns(), streams=self._stream_stats(session)))

    @staticmethod
    def _stream_stats(session: EngineSession) -> list:
        return [rt.stats.snapshot(dropped=rt.chain.entrance.dropped_total) for rt in session.streams.values()]

    def stats_snapshot(self) -> dict[str, list]:
        """Thread-safe: every engine's stream statistics."""
        with self._registry_lock:
            sessions = list(self._sessions.values())
        return {s.label: self._stream_stats(s) for s in sessions if s.ready}

    # ------------------------------------------------------------------ worker-thread callbacks
    def _on_output(self, session: EngineSession, generation: int, stream_id: int, color_format: str,
                   stats: StreamStatsTracker, frame: StageFrame, output: Any, dropped: int) -> None:
        if output is frame.input_color and frame.input_color_plane is not None:
            plane = frame.input_color_plane  # untouched: send the received message buffer itself
        else:
            plane = Plane.from_array("color", color_format, output)
        now = time.monotonic_ns()
        server_us = (now - frame.t_received_ns) // 1000
        result = Result(stream_id, frame.index, frame.t_capture_ns, [plane], frame.stage_us, server_us, dropped,
                        frame.held)
        parts = [encode_result_header(result), plane.data]  # serialize_message's bytes, minus its dispatch
        # bookkeeping before the send: once the picture is handed to ZeroMQ, work left on this thread competes
        # with ZeroMQ's own threads for the CPU that carries it (on 2 cores, a 0.2 ms pause after the send made
        # a 512x512 RESULT reach the engine ~35 µs sooner)
        stats.record_out(server_us, frame.stage_us, now)
        if not self._send_from_worker(session, generation, stream_id, parts, dropped):
            stats.retract_out(server_us, frame.stage_us)
        if self.takes.recorder is not None:
            runtime = session.streams.get(stream_id)
            if runtime is not None:
                self.takes.on_output(runtime.take_key, frame.index, output, frame.held, color_format)

    def _on_stage_error(self, session: EngineSession, generation: int, stream_id: int, stage_name: str,
                        exc: BaseException, frame: StageFrame) -> None:
        key = ("stage", session.routing_id, stream_id, stage_name, type(exc).__name__)
        if self._limited.allow(key):
            log.error("stream %d stage %s failed on frame %d: %s", stream_id, stage_name, frame.index, exc,
                      exc_info=exc)
            error = Error(int(ErrorCode.PIPELINE_FAILED), ErrorCode.PIPELINE_FAILED.name,
                          f"stage {stage_name!r} failed on frame {frame.index}: {exc}", "FRAME", stream_id, frame.index)
            self._send_from_worker(session, generation, stream_id, serialize_message(error))

    # ------------------------------------------------------------------ sessions
    def _remove_session(self, rid: bytes, reason: str = "left") -> None:
        with self._registry_lock:
            session = self._sessions.pop(rid, None)
        if session is not None:
            session.generation += 1
            session.ready = False
            for target, event in self.sessions.leave(rid, reason):
                self._send(target, event)
            self.mocap_relay.leave(rid)
            self.mocap_relay.drop_performers_of(session.engine_id)
            self._close_streams_async(list(session.streams.values()))

    def _close_streams_async(self, streams: list[StreamRuntime]) -> None:
        """Close pipelines off the I/O thread (a stage may be mid-frame); ``stop()`` waits for these."""
        if streams:
            thread = threading.Thread(target=lambda: [rt.chain.close() for rt in streams], name="teardown", daemon=True)
            self._teardowns = [t for t in self._teardowns if t.is_alive()] + [thread]
            thread.start()

    def _expire_silent_engines(self, now: int) -> None:
        limit = self.config.timeout_ms * 1_000_000
        for rid, session in list(self._sessions.items()):
            if now - session.last_seen_ns > limit:
                silent_ms = (now - session.last_seen_ns) // 1_000_000
                log.warning("%s silent for %d ms (timeout %d ms); freeing its streams", session.label, silent_ms,
                            self.config.timeout_ms)
                self._send(rid, Bye(reason=f"timeout: no message for {silent_ms} ms"))
                self._remove_session(rid, "timeout")

    def _shutdown_io(self) -> None:
        for rid in list(self._sessions):
            try:
                self._send(rid, Bye(reason="server shutting down"))
            except zmq.ZMQError:
                pass
        with self._registry_lock:
            sessions = list(self._sessions.values())
            self._sessions.clear()
        for session in sessions:
            for runtime in session.streams.values():
                runtime.chain.close()
        with self._sock_lock:
            if self._router is not None:
                if self._monitor is not None:
                    self._router.disable_monitor()
                    self._monitor.close(0)
                    self._monitor = None
                self._router.close(0)
                self._router = None
        self._wakeup.close()
        if self._curve is not None:
            self._curve.stop()
        self._stopped.set()
        log.info("server stopped")
