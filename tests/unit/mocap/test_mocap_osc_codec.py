"""The VMC hot-path OSC codec, cross-checked against python-osc (an independent implementation)."""

from __future__ import annotations

import struct

import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from mocap import osc_codec


def _python_osc_message(address: str, *typed_args: tuple[object, str]) -> bytes:
    builder = OscMessageBuilder(address)
    for value, tag in typed_args:
        builder.add_arg(value, tag)
    return builder.build().dgram


def test_decodes_what_python_osc_builds():
    raw = _python_osc_message(
        "/VMC/Ext/Bone/Pos", ("LeftUpperArm", "s"), (0.5, "f"), (-1.25, "f"), (2.0, "f"),
        (0.0, "f"), (0.0, "f"), (0.0, "f"), (1.0, "f"),
    )  # fmt: skip
    message = osc_codec.decode_message(raw)
    assert message.address == "/VMC/Ext/Bone/Pos"
    assert message.type_tags == "sfffffff"
    assert message.args == ("LeftUpperArm", 0.5, -1.25, 2.0, 0.0, 0.0, 0.0, 1.0)
    mixed = _python_osc_message("/x", (7, "i"), (b"\x01\x02\x03", "b"), (True, "T"), (2**40, "h"), (0.1, "d"), ("", "s"))
    decoded = osc_codec.decode_message(mixed)
    assert decoded.type_tags == "ibThds"
    assert decoded.args == (7, b"\x01\x02\x03", True, 2**40, 0.1, "")


def test_nested_bundles_are_flattened_in_order():
    inner = OscBundleBuilder(IMMEDIATELY)
    inner.add_content(OscMessageBuilder("/b").build())
    outer = OscBundleBuilder(IMMEDIATELY)
    first = OscMessageBuilder("/a")
    first.add_arg(1, "i")
    outer.add_content(first.build())
    outer.add_content(inner.build())
    messages = osc_codec.decode_packet(outer.build().dgram)
    assert [m.address for m in messages] == ["/a", "/b"]


def test_python_osc_decodes_what_we_encode():
    raw = osc_codec.encode_message("/VMC/Ext/Blend/Val", "sf", ("Joy", 0.75))
    parsed = OscPacket(raw).messages[0].message
    assert parsed.address == "/VMC/Ext/Blend/Val" and parsed.params == ["Joy", 0.75]
    bundles = osc_codec.pack_bundles([raw] * 40, 300)
    assert all(len(bundle) <= 300 for bundle in bundles)
    total = sum(len(OscPacket(bundle).messages) for bundle in bundles)
    assert total == 40
    ints = osc_codec.encode_message("/VMC/Ext/OK", "i", (1,))
    assert ints.endswith(b",i\x00\x00" + struct.pack(">i", 1))
    floats = osc_codec.encode_message("/VMC/Ext/T", "f", (1,))  # an int still goes out as 'f'
    assert floats.endswith(b",f\x00\x00" + struct.pack(">f", 1.0))


@pytest.mark.parametrize(
    "raw, fragment",
    [
        (b"", "not a positive multiple of 4"),
        (b"/ab", "not a positive multiple of 4"),
        (b"abc\x00", "does not start with '/'"),
        (b"/abc", "no terminating NUL"),
        (b"/a\x00\x00xyz\x00", "does not start with ','"),
        (b"/a\x00\x00,f\x00\x00", "run past the end"),
        (b"/a\x00\x00,q\x00\x00", "unsupported OSC type tag 'q'"),
        (b"/a\x00\x00,i\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00", "4 bytes after the last argument"),
        (b"#bundle\x00" + b"\x00" * 8 + struct.pack(">i", 100) + b"/a\x00\x00", "claims 100 bytes"),
        (b"#bundle\x00" + b"\x00" * 4, "shorter than its 16-byte header"),
    ],
)
def test_malformed_packets_name_the_cause(raw, fragment):
    with pytest.raises(osc_codec.OscDecodeError, match=fragment):
        osc_codec.decode_packet(raw)


def test_encoder_checks_argument_count_and_size():
    with pytest.raises(ValueError, match="need 2 arguments, got 1"):
        osc_codec.encode_message("/a", "sf", ("x",))
    with pytest.raises(ValueError, match="cannot fit"):
        osc_codec.pack_bundles([b"\x00" * 2000], 1500)
