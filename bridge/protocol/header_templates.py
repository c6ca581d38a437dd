"""Header templates: the canonical bytes of a FRAME or RESULT header shape, with the per-frame numbers spliced in.

A stream sends the same header shape frame after frame: the same keys in the
same order, the same plane descriptors, the same stage names; only the
numbers change (index, capture time, timings, drop count).  A
``HeaderTemplate`` holds the fixed byte runs of one such shape and the typed
slots between them, so

* ``encode(values)`` writes the header by joining the runs with each value's
  canonical msgpack form: byte for byte what ``encode_header`` makes of the
  full map (tests/unit/test_header_templates.py checks this for every slot
  width), without building a map or calling the packer;
* ``match(raw)`` reads the values back out of a header when, and only when,
  ``raw`` is exactly such a canonical encoding; anything else (another shape,
  a non-canonical integer, a repeated key, trailing bytes) is None, and the
  caller parses the header the full way, which names what is wrong.

Templates are only ever made from messages that were built or accepted whole
(``frame_template``/``result_template``), so a header a template matches is
one the full parser accepts, with the same fields: the same messages are
accepted and refused either way (tests/unit/test_protocol_fast_paths.py).
``KnownHeaders`` keeps the few templates one receiver sees and rebuilds the
message from a match; ``encode_frame_header``/``encode_result_header`` are
what ``serialize_message`` uses for the two picture kinds.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import msgpack
import zmq

from bridge.protocol.frame_messages import MAX_U63, Frame, Result
from bridge.protocol.header_codec import MAX_STRING_CHARS, PROTOCOL_VERSION, encode_header
from bridge.protocol.planes import Plane, PlaneDescriptor

_FIXINT = [bytes((v,)) for v in range(0x80)]
_TEMPLATE_CACHE_SIZE = 64
_FLAT_BUFFERS_SET = frozenset((zmq.Frame, bytes, bytearray))  # len() is the byte count (not so for memoryviews)


class Slot:
    """A per-message value in a template and how it is read back (canonical forms only)."""

    __slots__ = ("name", "read")

    def __init__(self, name: str, read: Callable[[bytes, int], tuple[Any, int]]) -> None:
        self.name = name
        self.read = read  # (raw, offset) -> (value, next offset); value None when the bytes are not canonical


def _read_uint(raw: bytes, i: int) -> tuple[int | None, int]:
    """A non-negative msgpack integer in its smallest form (a larger form than needed is not canonical)."""
    b = raw[i]
    if b < 0x80:
        return b, i + 1
    if b == 0xCC:
        v = raw[i + 1]
        return (v if v >= 0x80 else None), i + 2
    if b == 0xCD:
        v = int.from_bytes(raw[i + 1:i + 3], "big")
        return (v if v >= 0x100 else None), i + 3
    if b == 0xCE:
        v = int.from_bytes(raw[i + 1:i + 5], "big")
        return (v if v >= 0x10000 else None), i + 5
    if b == 0xCF:
        v = int.from_bytes(raw[i + 1:i + 9], "big")
        return (v if v >= 0x100000000 else None), i + 9
    return None, i


def _read_u63(raw: bytes, i: int) -> tuple[int | None, int]:
    """``_read_uint`` up to 2**63 - 1 (indices and times)."""
    b = raw[i]
    if b < 0x80:
        return b, i + 1
    if b == 0xCF:  # first: capture times in nanoseconds always take this form
        v = int.from_bytes(raw[i + 1:i + 9], "big")
        return (v if 0x100000000 <= v <= MAX_U63 else None), i + 9
    return _read_uint(raw, i)


def _read_bool(raw: bytes, i: int) -> tuple[bool | None, int]:
    b = raw[i]
    return (True if b == 0xC3 else False if b == 0xC2 else None), i + 1


def _read_str(raw: bytes, i: int) -> tuple[str | None, int]:
    """A UTF-8 string in its smallest msgpack form (fixstr, str8 or str16) of at most MAX_STRING_CHARS characters,
    the limit the full parse puts on strings such as the SMPTE timecode."""
    b = raw[i]
    if b & 0xE0 == 0xA0:
        n, start = b & 0x1F, i + 1
    elif b == 0xD9:
        n, start = raw[i + 1], i + 2
        if n < 32:
            return None, i
    elif b == 0xDA:
        n, start = int.from_bytes(raw[i + 1:i + 3], "big"), i + 3
        if n < 256:
            return None, i
    else:
        return None, i
    end = start + n
    if end > len(raw):
        return None, i
    try:
        text = raw[start:end].decode("utf-8")
    except UnicodeDecodeError:
        return None, i
    return (text if len(text) <= MAX_STRING_CHARS else None), end


U63 = Slot("u63", _read_u63)
UINT = Slot("uint", _read_uint)
BOOL = Slot("bool", _read_bool)
SHORT_STR = Slot("short_str", _read_str)  # a string field such as the SMPTE timecode (up to MAX_STRING_CHARS)

# msgpack writes every value in its canonical form, whatever its type: a slot's bytes are what encode_header
# would write for the same value inside the whole map.  (Same options as encode_header.)
_packed = msgpack.Packer(use_bin_type=True, use_single_float=False, strict_types=False, autoreset=True).pack


def _map_head(n: int) -> bytes:
    if n < 16:
        return bytes((0x80 | n,))
    return b"\xde" + n.to_bytes(2, "big")


class HeaderTemplate:
    """Fixed byte runs with a slot between each two: ``runs[0] slot[0] runs[1] ... slot[n-1] runs[n]``."""

    __slots__ = ("runs", "slots", "_steps", "_head", "_interleaved")

    def __init__(self, runs: Sequence[bytes], slots: Sequence[Slot]) -> None:
        if len(runs) != len(slots) + 1:
            raise ValueError(f"a template needs one more run than slots, got {len(runs)} runs for {len(slots)} slots")
        self.runs = tuple(runs)
        self.slots = tuple(slots)
        self._head = self.runs[0]
        self._interleaved: list[bytes | None] = [self._head]
        for run in self.runs[1:]:
            self._interleaved += [None, run]
        self._steps = tuple((slot.read, run, len(run)) for slot, run in zip(self.slots, self.runs[1:]))

    @classmethod
    def build(cls, fields: Sequence[tuple[str, Any]]) -> HeaderTemplate:
        """A template for a map with ``fields`` in this order; a value that is a ``Slot`` (or a map whose values
        are all ``Slot``s, one level deep) varies per message, every other value is fixed."""
        runs: list[bytes] = []
        slots: list[Slot] = []
        current = bytearray(_map_head(len(fields)))

        def add(value: Any) -> None:
            nonlocal current
            if isinstance(value, Slot):
                runs.append(bytes(current))
                slots.append(value)
                current = bytearray()
            else:
                current += _packed(value)

        for key, value in fields:
            current += _packed(key)
            if isinstance(value, dict) and any(isinstance(v, Slot) for v in value.values()):
                current += _map_head(len(value))
                for sub_key, sub_value in value.items():
                    current += _packed(sub_key)
                    add(sub_value)
            else:
                add(value)
        runs.append(bytes(current))
        return cls(runs, slots)

    def encode(self, values: Sequence[Any]) -> bytes:
        """The header with ``values`` in the slots: ``encode_header`` of the whole map, byte for byte, for any
        values (each is packed canonically, exactly as inside the map)."""
        out = self._interleaved[:]  # [run 0, slot, run 1, slot, ...]: the slots filled in by C-level calls
        out[1::2] = map(_packed, values)
        return b"".join(out)

    def match(self, raw: bytes) -> list[Any] | None:
        """The slot values when ``raw`` is exactly this shape, canonically encoded; None otherwise."""
        if not raw.startswith(self._head):
            return None
        i = len(self._head)
        values = []
        append = values.append
        try:
            for read, run, run_len in self._steps:
                value, i = read(raw, i)
                if value is None or not raw.startswith(run, i):
                    return None
                append(value)
                i += run_len
        except IndexError:  # cut short inside a value
            return None
        return values if i == len(raw) else None


# ---------------------------------------------------------------------------------------------- FRAME and RESULT
def _planes_wire(planes: Sequence[Plane]) -> list[dict[str, Any]]:
    return [p.descriptor.to_wire() for p in planes]


def frame_template(frame: Frame) -> HeaderTemplate | None:
    """The shape of ``frame``'s header (slots: index, t_capture_ns[, timecode]); None with a camera, whose
    floats change every frame (such frames take the full path)."""
    if frame.camera is not None:
        return None
    fields: list[tuple[str, Any]] = [("v", PROTOCOL_VERSION), ("kind", Frame.KIND), ("stream", frame.stream),
                                     ("index", U63), ("t_capture_ns", U63)]
    if frame.timecode is not None:
        fields.append(("timecode", SHORT_STR))
    fields.append(("planes", _planes_wire(frame.planes)))
    return HeaderTemplate.build(fields)


def frame_values(frame: Frame) -> list[Any]:
    return [frame.index, frame.t_capture_ns] + ([frame.timecode] if frame.timecode is not None else [])


def result_template(result: Result) -> HeaderTemplate:
    """The shape of ``result``'s header (slots: index, t_capture_ns, each stage's time, server_us, dropped, held)."""
    return HeaderTemplate.build([
        ("v", PROTOCOL_VERSION), ("kind", Result.KIND), ("stream", result.stream), ("index", U63),
        ("t_capture_ns", U63), ("planes", _planes_wire(result.planes)),
        ("stage_us", {name: UINT for name in result.stage_us} if result.stage_us else {}),
        ("server_us", UINT), ("dropped", UINT), ("held", BOOL),
    ])


def result_values(result: Result) -> list[Any]:
    return [result.index, result.t_capture_ns, *result.stage_us.values(), result.server_us, result.dropped,
            result.held]


_FRAME_TEMPLATES: dict[tuple, HeaderTemplate] = {}
_RESULT_TEMPLATES: dict[tuple, HeaderTemplate] = {}


def _remember(cache: dict, key: tuple, template: Any) -> None:
    if len(cache) >= _TEMPLATE_CACHE_SIZE:
        cache.clear()  # a sender cycling through many shapes: start over rather than grow
    cache[key] = template


def encode_frame_header(frame: Frame) -> bytes:
    """``encode_header(frame.to_header())``, through the template of the frame's shape when there is one."""
    if frame.camera is None and type(frame.stream) is int:  # (True == 1 must not find stream 1's template)
        key = (frame.stream, frame.timecode is not None, *[p.descriptor for p in frame.planes])
        template = _FRAME_TEMPLATES.get(key)
        if template is None:
            template = frame_template(frame)  # a shape: never None without a camera
            _remember(_FRAME_TEMPLATES, key, template)
        return template.encode(frame_values(frame))
    return encode_header(frame.to_header())


def encode_result_header(result: Result) -> bytes:
    """``encode_header(result.to_header())``, through the template of the result's shape."""
    if type(result.stream) is not int:  # (True == 1 must not find stream 1's template)
        return encode_header(result.to_header())
    planes = result.planes
    key = (result.stream, *result.stage_us, planes[0].descriptor if len(planes) == 1 else  # (names: str; never a
           tuple(p.descriptor for p in planes))                                          #  descriptor or tuple)
    template = _RESULT_TEMPLATES.get(key)
    if template is None:
        if not all(type(name) is str for name in result.stage_us):
            return encode_header(result.to_header())  # (only str keys are told apart from equal numbers)
        template = result_template(result)
        _remember(_RESULT_TEMPLATES, key, template)
    return template.encode(result_values(result))


class KnownHeaders:
    """The header shapes one receiver has accepted, to read later messages of the same shapes without a full parse.

    ``learn`` is called with a message the full parser accepted and the header bytes it came in; the shape is
    kept when those bytes are the canonical encoding (what every bridge client and plugin sends).  ``match``
    rebuilds an equal message from a header of a known shape and its parts, checking the parts' sizes against the
    learned plane descriptors; None sends the caller to the full parse.  At most ``capacity`` shapes are kept
    (the newest win), so a receiver cycling through shapes costs time, never memory.
    """

    def __init__(self, kind: type[Frame] | type[Result], capacity: int = 8, max_refused: int = 16,
                 max_header_bytes: int = 4096) -> None:
        self._kind = kind
        self._max_header_bytes = max_header_bytes  # larger headers are never copied out to be matched
        self._capacity = capacity
        self._refused_left = max_refused  # a sender that is not canonical stops costing a learning attempt per message
        # (template, stream, plane descriptors, their byte lengths, RESULT stage names)
        self._shapes: list[tuple[HeaderTemplate, int, tuple[PlaneDescriptor, ...], tuple[int, ...], Any]] = []

    def __len__(self) -> int:
        return len(self._shapes)

    def learn(self, message: Frame | Result, raw: bytes) -> bool:
        if self._refused_left <= 0 or not isinstance(message, self._kind):
            return False
        if isinstance(message, Frame):
            template = frame_template(message)
            values = frame_values(message) if template is not None else []
            extra: Any = None
        else:
            template = result_template(message)
            values = result_values(message)
            extra = tuple(message.stage_us)
        if template is None:
            return False  # a frame with a camera: the full parse's, but not the sender's fault
        if template.encode(values) != raw:
            self._refused_left -= 1
            return False
        descriptors = tuple(p.descriptor for p in message.planes)
        shape = (template, message.stream, descriptors, tuple(d.byte_length for d in descriptors), extra)
        self._shapes = [shape, *[s for s in self._shapes if s[0].runs != template.runs]][: self._capacity]
        return True

    def learn_parts(self, message: Frame | Result, parts: Sequence[Any]) -> bool:
        """``learn`` from the message's parts as received (header first)."""
        head = parts[0]
        return len(head) <= self._max_header_bytes and self.learn(message, bytes(head))

    def match_parts(self, parts: Sequence[Any]) -> Frame | Result | None:
        """``match`` on a message's parts as received (header first); None at once while no shape is known."""
        if not self._shapes or not parts:
            return None
        head = parts[0]
        if len(head) > self._max_header_bytes:
            return None
        return self.match(bytes(head), parts[1:])

    def match(self, raw: bytes, parts: Sequence[Any]) -> Frame | Result | None:
        for template, stream, descriptors, sizes, extra in self._shapes:
            values = template.match(raw)
            if values is not None:
                return self._rebuild(values, stream, descriptors, sizes, extra, parts)
        return None

    def _rebuild(self, values: list[Any], stream: int, descriptors: tuple[PlaneDescriptor, ...],
                 sizes: tuple[int, ...], extra: Any, parts: Sequence[Any]) -> Frame | Result | None:
        if len(parts) != len(sizes):
            return None  # right shape, wrong parts: the full parse names the plane
        planes = []
        for desc, part, size in zip(descriptors, parts, sizes):
            if (len(part) if type(part) in _FLAT_BUFFERS_SET else memoryview(part).nbytes) != size:
                return None
            planes.append(Plane(desc, part))
        if extra is None:  # FRAME: index, t_capture_ns[, timecode]
            return Frame(stream, values[0], values[1], planes, values[2] if len(values) > 2 else None)
        n = len(extra)  # RESULT: index, t_capture_ns, one time per stage, server_us, dropped, held
        return Result(stream, values[0], values[1], planes, dict(zip(extra, values[2:2 + n])),
                      values[2 + n], values[3 + n], values[4 + n])
