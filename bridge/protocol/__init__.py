"""Wire protocol version 1: see docs/protocol.md for the normative description."""

from __future__ import annotations

from bridge.protocol.audio_messages import Audio, AudioFormat
from bridge.protocol.errors import ErrorCode, ProtocolError
from bridge.protocol.header_codec import PROTOCOL_VERSION, decode_header, encode_header
from bridge.protocol.messages import (
    MESSAGE_TYPES,
    Bye,
    CameraInfo,
    Control,
    ControlAck,
    Error,
    Frame,
    Heartbeat,
    Hello,
    Message,
    Mocap,
    Result,
    Stats,
    StreamDeclaration,
    StreamGrant,
    StreamStats,
    Welcome,
    parse_message,
    serialize_message,
)
from bridge.protocol.planes import PIXEL_FORMATS, PLANE_KIND_FORMATS, Plane, PlaneDescriptor
from bridge.protocol.session_messages import SessionEvent, SessionMember, StateChange

__all__ = [
    "PROTOCOL_VERSION", "ErrorCode", "ProtocolError", "decode_header", "encode_header", "MESSAGE_TYPES",
    "Bye", "CameraInfo", "Control", "ControlAck", "Error", "Frame", "Heartbeat", "Hello", "Message", "Mocap",
    "Result", "Stats", "StreamDeclaration", "StreamGrant", "StreamStats", "Welcome", "parse_message",
    "serialize_message", "PIXEL_FORMATS", "PLANE_KIND_FORMATS", "Plane", "PlaneDescriptor", "SessionEvent",
    "SessionMember", "StateChange", "Audio", "AudioFormat",
]
