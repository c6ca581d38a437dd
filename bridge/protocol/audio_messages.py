"""Audio of a stream: the declaration in HELLO (``AudioFormat``) and the AUDIO message (one chunk of PCM).

An engine that records sound with its pictures (a microphone on set, the
game's mix) declares the format on the stream in HELLO and then sends AUDIO
chunks beside its FRAMEs.  ``t_capture_ns`` is on the same engine clock as
FRAME's, so the server can place sound and pictures of a take in sync.  The
samples are interleaved little-endian signed 16-bit PCM in one binary part.
docs/protocol.md section 6.14 is normative; field order below is the
canonical key order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np

from bridge.protocol.errors import ErrorCode, ProtocolError
from bridge.protocol.header_codec import PROTOCOL_VERSION, FieldReader

MIN_SAMPLE_RATE_HZ = 8000
MAX_SAMPLE_RATE_HZ = 192_000
MAX_CHANNELS = 8
BYTES_PER_SAMPLE = 2  # signed 16-bit little-endian
_MAX_STREAM_ID = 65535
_MAX_U63 = 2**63 - 1


@dataclass(frozen=True)
class AudioFormat:
    """The ``audio`` map of a stream declaration: what every AUDIO chunk of the stream carries."""

    sample_rate_hz: int = 48_000
    channels: int = 2

    def __post_init__(self) -> None:
        if not MIN_SAMPLE_RATE_HZ <= self.sample_rate_hz <= MAX_SAMPLE_RATE_HZ:
            raise ValueError(f"sample_rate_hz {self.sample_rate_hz} is outside "
                             f"{MIN_SAMPLE_RATE_HZ}..{MAX_SAMPLE_RATE_HZ}")
        if not 1 <= self.channels <= MAX_CHANNELS:
            raise ValueError(f"channels {self.channels} is outside 1..{MAX_CHANNELS}")

    def to_wire(self) -> dict[str, Any]:
        return {"sample_rate_hz": self.sample_rate_hz, "channels": self.channels}

    @classmethod
    def from_wire(cls, r: FieldReader) -> AudioFormat:
        return cls(sample_rate_hz=r.int("sample_rate_hz", lo=MIN_SAMPLE_RATE_HZ, hi=MAX_SAMPLE_RATE_HZ),
                   channels=r.int("channels", lo=1, hi=MAX_CHANNELS))

    def describe(self) -> str:
        return f"{self.sample_rate_hz} Hz x {self.channels}"


@dataclass
class Audio:
    """Engine -> server: one chunk of a stream's sound, ``samples`` sample frames of ``channels`` each."""

    KIND: ClassVar[str] = "AUDIO"
    stream: int
    index: int
    t_capture_ns: int
    sample_rate_hz: int
    channels: int
    samples: int
    pcm: Any  # bytes-like: samples * channels * 2 bytes, interleaved s16le

    @property
    def format(self) -> AudioFormat:
        return AudioFormat(self.sample_rate_hz, self.channels)

    @property
    def duration_ns(self) -> int:
        return self.samples * 1_000_000_000 // self.sample_rate_hz

    @classmethod
    def from_array(cls, stream: int, index: int, t_capture_ns: int, sample_rate_hz: int,
                   pcm: np.ndarray) -> Audio:
        """A chunk from int16 samples shaped (samples,) for mono or (samples, channels); not copied when
        already little-endian and contiguous."""
        array = np.asarray(pcm)
        if array.dtype.kind != "i" or array.dtype.itemsize != BYTES_PER_SAMPLE:
            raise ValueError(f"audio samples must be int16, got {array.dtype}")
        if array.ndim == 1:
            array = array[:, None]
        if array.ndim != 2:
            raise ValueError(f"audio samples must be shaped (samples,) or (samples, channels), got {array.shape}")
        array = np.ascontiguousarray(array, dtype="<i2")
        samples, channels = array.shape
        msg = cls(stream, index, t_capture_ns, sample_rate_hz, channels, samples, memoryview(array).cast("B"))
        msg.validate()
        return msg

    def to_array(self) -> np.ndarray:
        """The samples as int16 (samples, channels), a view of the received bytes."""
        return np.frombuffer(self.pcm, dtype="<i2").reshape(self.samples, self.channels)

    @property
    def byte_length(self) -> int:
        return self.samples * self.channels * BYTES_PER_SAMPLE

    def validate(self) -> None:
        """Raise ProtocolError naming the first field out of range or a part of the wrong size."""
        where = dict(kind=self.KIND, stream=self.stream, index=self.index)
        if not MIN_SAMPLE_RATE_HZ <= self.sample_rate_hz <= MAX_SAMPLE_RATE_HZ:
            raise ProtocolError(ErrorCode.BAD_FIELD, f"AUDIO.sample_rate_hz {self.sample_rate_hz} is outside "
                                f"{MIN_SAMPLE_RATE_HZ}..{MAX_SAMPLE_RATE_HZ}", **where)
        if not 1 <= self.channels <= MAX_CHANNELS:
            raise ProtocolError(ErrorCode.BAD_FIELD, f"AUDIO.channels {self.channels} is outside 1..{MAX_CHANNELS}",
                                **where)
        if not 1 <= self.samples <= self.sample_rate_hz:
            raise ProtocolError(ErrorCode.BAD_FIELD, f"AUDIO.samples {self.samples} is outside 1..{self.sample_rate_hz} "
                                "(a chunk holds at most one second)", **where)
        nbytes = memoryview(self.pcm).nbytes
        if nbytes != self.byte_length:
            raise ProtocolError(ErrorCode.PLANE_MISMATCH, f"AUDIO part has {nbytes} bytes but {self.samples} samples "
                                f"x {self.channels} channels of 16-bit PCM need {self.byte_length}", **where)

    def to_header(self) -> dict[str, Any]:
        return {
            "v": PROTOCOL_VERSION,
            "kind": self.KIND,
            "stream": self.stream,
            "index": self.index,
            "t_capture_ns": self.t_capture_ns,
            "sample_rate_hz": self.sample_rate_hz,
            "channels": self.channels,
            "samples": self.samples,
        }

    @classmethod
    def from_header(cls, r: FieldReader, parts: Sequence[Any]) -> Audio:
        stream = r.int("stream", lo=0, hi=_MAX_STREAM_ID)
        index = r.int("index", lo=0, hi=_MAX_U63)
        try:
            t_capture_ns = r.int("t_capture_ns", lo=0, hi=_MAX_U63)
            rate = r.int("sample_rate_hz")
            channels = r.int("channels")
            samples = r.int("samples")
        except ProtocolError as exc:  # name the chunk the bad field belongs to
            raise ProtocolError(exc.code, exc.message, kind=cls.KIND, stream=stream, index=index) from None
        if len(parts) != 1:
            raise ProtocolError(ErrorCode.PLANE_MISMATCH,
                                f"AUDIO carries exactly one binary part (the samples), got {len(parts)}",
                                kind=cls.KIND, stream=stream, index=index)
        msg = cls(stream, index, t_capture_ns, rate, channels, samples, parts[0])
        msg.validate()
        return msg
