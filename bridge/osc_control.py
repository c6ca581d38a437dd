"""Live control over OSC (TouchOSC, a lighting desk, a DAW, another script).

Addresses (UDP, default 127.0.0.1:9010)::

    /bridge/<stream>/<stage>/<param>  value...            set now
    /bridge/<stream>/<stage>/<param>/glide  ms value...   glide there over ``ms`` milliseconds

``<stream>`` is a stream name from HELLO, its numeric id, or ``*`` for every
stream; it applies to every connected engine's stream of that name.  One
argument sets a scalar, several set an array (e.g. the 26 ``style_weights``).
Booleans may be sent as OSC true/false or as 0/1.  Each message is answered to
the sender with ``/bridge/ack <address> <streams changed>`` or
``/bridge/error <address> <reason>``; a rejected value leaves the old one.

Takes: ``/bridge/take/start [name]`` and ``/bridge/take/stop`` (acked with the take's name).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from pythonosc import dispatcher as osc_dispatcher
from pythonosc import osc_message_builder, osc_server

if TYPE_CHECKING:
    from bridge.server import BridgeServer

log = logging.getLogger(__name__)


class OscAddressError(ValueError):
    pass


def parse_osc_control(address: str, args: tuple[Any, ...]) -> tuple[str, str, str, Any, float | None]:
    """Split an OSC control message into (stream, stage, param, value, glide_ms); raises naming the problem."""
    parts = address.strip("/").split("/")
    if len(parts) not in (4, 5) or parts[0] != "bridge" or (len(parts) == 5 and parts[4] != "glide"):
        raise OscAddressError(
            f"address {address!r} is not /bridge/<stream>/<stage>/<param> or /bridge/<stream>/<stage>/<param>/glide"
        )
    _, stream, stage, param = parts[:4]
    values = list(args)
    glide_ms = None
    if len(parts) == 5:
        if not values or isinstance(values[0], bool) or not isinstance(values[0], (int, float)):
            raise OscAddressError(f"{address}: the first argument must be the glide time in milliseconds")
        glide_ms = float(values.pop(0))
        if not 0.0 <= glide_ms <= 600_000.0:
            raise OscAddressError(f"{address}: glide time {glide_ms} ms is outside 0..600000")
    if not values:
        raise OscAddressError(f"{address}: no value given")
    value: Any = values[0] if len(values) == 1 else values
    return stream, stage, param, value, glide_ms


class OscControlServer:
    """Runs a python-osc UDP server on its own thread and applies messages to the bridge server."""

    def __init__(self, bridge: BridgeServer, host: str = "127.0.0.1", port: int = 9010) -> None:
        self._bridge = bridge
        dispatcher = osc_dispatcher.Dispatcher()
        dispatcher.set_default_handler(self._on_message, needs_reply_address=True)
        # one thread, datagrams in arrival order: a fader's updates must not overtake each other
        self._server = osc_server.BlockingOSCUDPServer((host, port), dispatcher)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="osc-control", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread.start()
        log.info("OSC control on udp://%s:%d (/bridge/<stream>/<stage>/<param>)", *self.address)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(2.0)

    def _on_take(self, client: tuple[str, int], address: str, args: tuple[Any, ...]) -> None:
        try:
            if address.endswith("start"):
                name = str(args[0]) if args else None
                summary = self._bridge.start_take(name)
            else:
                summary = self._bridge.stop_take()
        except (ValueError, OSError) as exc:
            log.warning("OSC %s rejected: %s", address, exc)
            self._reply(client, "/bridge/error", address, str(exc))
            return
        self._reply(client, "/bridge/ack", address, str(summary.get("take", "")))

    def _reply(self, client: tuple[str, int], address: str, *args: Any) -> None:
        builder = osc_message_builder.OscMessageBuilder(address=address)
        for arg in args:
            builder.add_arg(arg)
        try:
            self._server.socket.sendto(builder.build().dgram, client)
        except OSError as exc:
            log.debug("OSC reply to %s failed: %s", client, exc)

    def _on_message(self, client: tuple[str, int], address: str, *args: Any) -> None:
        if address in ("/bridge/take/start", "/bridge/take/stop"):
            self._on_take(client, address, args)
            return
        try:
            stream, stage, param, value, glide_ms = parse_osc_control(address, args)
        except OscAddressError as exc:
            log.warning("OSC from %s:%d rejected: %s", client[0], client[1], exc)
            self._reply(client, "/bridge/error", address, str(exc))
            return
        outcomes = self._bridge.apply_control(stream, stage, {param: value}, glide_ms)
        if not outcomes:
            reason = f"no connected stream matches {stream!r}"
            log.warning("OSC %s: %s", address, reason)
            self._reply(client, "/bridge/error", address, reason)
            return
        failed = [o for o in outcomes if not o.ack.ok]
        if failed:
            reason = failed[0].ack.reason or "rejected"
            log.warning("OSC %s rejected: %s", address, reason)
            self._reply(client, "/bridge/error", address, reason)
        else:
            self._reply(client, "/bridge/ack", address, len(outcomes))
