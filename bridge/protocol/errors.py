"""Error codes of the wire protocol and the exception that carries one.

Every code is sent on the wire inside an ERROR message (or a rejected
CONTROL_ACK) as its integer value together with its name, so clients can
switch on the number and show the name and message to people.
"""

from __future__ import annotations

from enum import IntEnum


class ErrorCode(IntEnum):
    """Numbered causes; the numbers are part of protocol version 1 and never change."""

    MALFORMED_HEADER = 1  # header part is not a msgpack map with string keys
    BAD_VERSION = 2  # "v" is not a protocol version this peer speaks
    UNKNOWN_KIND = 3  # "kind" names no message kind
    BAD_FIELD = 4  # a field is missing, has the wrong type, or is out of range
    NOT_WELCOMED = 5  # FRAME/CONTROL/STATS before a successful HELLO
    UNKNOWN_STREAM = 6  # stream id not declared in this engine's HELLO
    PLANE_MISMATCH = 7  # plane count, shape, format or byte length disagree
    FRAME_TOO_LARGE = 8  # message bytes above the server's cap
    UNKNOWN_STAGE = 9  # CONTROL names a stage not in the stream's pipeline
    UNKNOWN_PARAM = 10  # CONTROL names a parameter the stage does not have
    BAD_PARAM_VALUE = 11  # CONTROL value of the wrong type or out of range
    PIPELINE_FAILED = 12  # a stage raised while setting up or processing
    LIMIT_EXCEEDED = 13  # too many streams, parts, too large a resolution
    UNSUPPORTED = 14  # a kind only the server sends (WELCOME, RESULT, CONTROL_ACK), or a feature not served
    SHUTTING_DOWN = 15  # the server is stopping
    TIMEOUT = 16  # the peer was silent longer than the heartbeat timeout


class ProtocolError(Exception):
    """A message (or part of one) broke the protocol; ``code`` says how.

    ``stream`` and ``index`` are filled when the failure concerns one stream
    or one frame, so the ERROR sent back can name them.
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        kind: str | None = None,
        stream: int | None = None,
        index: int | None = None,
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = ErrorCode(code)
        self.message = message
        self.kind = kind
        self.stream = stream
        self.index = index
