"""The Python implementation of protocol v1 against the golden vectors in tests/vectors."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from bridge.protocol import (
    Audio,
    MESSAGE_TYPES,
    ErrorCode,
    Frame,
    ProtocolError,
    Result,
    encode_header,
    parse_message,
    serialize_message,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
INVALID = VECTORS / "invalid"

VALID_NAMES = sorted(p.stem for p in VECTORS.glob("*.json"))
INVALID_NAMES = sorted(p.stem for p in INVALID.glob("*.json"))


def _load(folder: Path, name: str) -> tuple[dict, list[bytes]]:
    meta = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
    parts = [(folder / part).read_bytes() for part in meta["parts"]]
    return meta, parts


def _key_orders(value):
    """Every map's key order, recursively (dict equality ignores order; the wire does not)."""
    if isinstance(value, dict):
        return [list(value)] + [o for v in value.values() for o in _key_orders(v)]
    if isinstance(value, list):
        return [o for v in value for o in _key_orders(v)]
    return []


def _types(value):
    """The value with every leaf replaced by its type name (JSON 30.0 vs 30 is float vs int on the wire)."""
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_types(v) for v in value]
    return type(value).__name__


def test_vector_sets_are_complete():
    kinds = {json.loads((VECTORS / f"{n}.json").read_text(encoding="utf-8"))["kind"] for n in VALID_NAMES}
    assert kinds == set(MESSAGE_TYPES), "every message kind needs a golden vector"
    assert {
        "hello", "welcome", "frame_rgba8_depth_mask", "frame_padded_stride", "frame_rgb8", "result", "control",
        "control_ack_ok", "control_ack_rejected", "stats_request", "stats_report", "error", "heartbeat", "bye",
        "mocap", "hello_audio", "audio",
    } <= set(VALID_NAMES)
    assert {
        "empty_header", "not_msgpack", "header_array", "trailing_bytes", "missing_version", "wrong_version",
        "version_string", "unknown_kind", "frame_missing_index", "frame_stream_string", "plane_count_mismatch",
        "plane_length_mismatch", "stride_too_small", "color_plane_depth_format", "hello_with_part",
        "hello_duplicate_stream_id", "audio_length_mismatch", "audio_without_part", "hello_audio_channels_zero",
    } <= set(INVALID_NAMES)


@pytest.mark.parametrize("name", VALID_NAMES)
def test_valid_vector_parses_to_its_json(name):
    meta, parts = _load(VECTORS, name)
    assert meta["name"] == name
    assert meta["parts"] == [f"{name}.{i}.bin" for i in range(len(parts))]

    msg = parse_message(parts)

    assert msg.KIND == meta["kind"]
    header = msg.to_header()
    assert header == meta["header"]
    assert _key_orders(header) == _key_orders(meta["header"])
    assert _types(header) == _types(meta["header"])
    planes = getattr(msg, "planes", [])
    carried = getattr(msg, "parts", [])  # MOCAP: the pose part
    if isinstance(msg, Audio):  # AUDIO: the samples part
        carried = [msg.pcm]
        assert msg.to_array().reshape(-1).tolist() == meta["samples_s16"]
        assert hashlib.sha256(memoryview(msg.pcm)).hexdigest() == meta["samples_sha256"]
    assert len(planes) == len(meta["planes"]) and len(planes) + len(carried) == len(parts) - 1
    for plane, expected in zip(planes, meta["planes"]):
        assert {**plane.descriptor.to_wire(), "sha256": expected["sha256"]} == expected
        assert hashlib.sha256(memoryview(plane.data)).hexdigest() == expected["sha256"]


@pytest.mark.parametrize("name", VALID_NAMES)
def test_valid_vector_reencodes_byte_for_byte(name):
    meta, parts = _load(VECTORS, name)

    out = serialize_message(parse_message(parts))

    assert len(out) == len(parts)
    for i, (got, want) in enumerate(zip(out, parts)):
        assert bytes(memoryview(got)) == want, f"{name} part {i} differs"
    # the JSON header, encoded canonically, is part 0 too (so the JSON keeps wire key order and types)
    assert encode_header(meta["header"]) == parts[0]


@pytest.mark.parametrize("name", INVALID_NAMES)
def test_invalid_vector_is_rejected_with_its_code(name):
    meta, parts = _load(INVALID, name)
    assert meta["name"] == name
    assert ErrorCode(meta["error_code"]).name == meta["error_name"]

    with pytest.raises(ProtocolError) as info:
        parse_message(parts)

    assert info.value.code == meta["error_code"], info.value.message


def test_frame_vector_planes_decode_to_their_values():
    _, parts = _load(VECTORS, "frame_rgba8_depth_mask")
    frame = parse_message(parts)
    assert isinstance(frame, Frame)
    color = frame.plane("color").array()
    assert color.shape == (2, 4, 4)
    assert color[0, 0].tolist() == [255, 0, 0, 255]  # row 0 is the top row; bytes are R, G, B, A
    assert color[1, 2].tolist() == [255, 255, 0, 128]
    depth = frame.plane("depth").array()
    assert depth.dtype == np.dtype("<f2")
    assert depth.tolist() == [[0.5, 1.0, 1.5, 2.0], [4.0, 8.0, 16.0, 1000.0]]
    assert frame.plane("mask").array().tolist() == [[0, 255, 255, 0], [0, 128, 255, 0]]
    assert frame.camera is not None and frame.camera.intrinsics_px == [4.0, 4.0, 1.5, 0.5]
    assert frame.timecode == "01:00:00:07"


def test_padded_vector_views_skip_the_padding():
    _, parts = _load(VECTORS, "frame_padded_stride")
    frame = parse_message(parts)
    color = frame.plane("color").array()
    assert color.shape == (2, 3, 4) and color.strides == (16, 4, 1)
    assert color[1].tolist() == [[0xA0, 0xB0, 0xC0, 0xFF], [0xD0, 0xE0, 0xF0, 0xFF], [1, 2, 3, 4]]
    assert 0xEE not in color
    depth = frame.plane("depth").array()
    assert depth.shape == (2, 3) and depth.strides == (16, 4)
    assert depth.tolist() == [[1.0, 2.0, 3.0], [0.25, 0.5, 0.75]]


def test_result_vector_fields():
    _, parts = _load(VECTORS, "result")
    result = parse_message(parts)
    assert isinstance(result, Result)
    assert list(result.stage_us.items()) == [("depth_prep", 112), ("style", 8450), ("cadence", 3)]
    assert (result.server_us, result.dropped, result.held) == (9120, 2, True)


def _make_vectors_module():
    spec = importlib.util.spec_from_file_location("make_vectors", VECTORS / "make_vectors.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generator_reproduces_the_committed_files(tmp_path):
    generated = _make_vectors_module().build(tmp_path)

    committed = {
        p.relative_to(VECTORS).as_posix(): p.read_bytes()
        for folder in (VECTORS, INVALID)
        for p in folder.iterdir()
        if p.suffix in (".bin", ".json")
    }
    assert sorted(generated) == sorted(committed)
    for rel, data in generated.items():
        assert (tmp_path / rel).read_bytes() == data
        assert data == committed[rel], f"{rel} differs from a fresh run of make_vectors.py"


def test_generator_is_deterministic(tmp_path):
    module = _make_vectors_module()
    first = module.build(tmp_path / "a")
    second = module.build(tmp_path / "b")
    assert first == second


@pytest.mark.parametrize("name", ["hello.0.bin", "frame_rgba8_depth_mask.0.bin"])
def test_protocol_document_shows_the_vector_bytes(name):
    """docs/protocol.md's worked example must be the golden bytes, not a stale copy."""
    doc = (VECTORS.parents[1] / "docs" / "protocol.md").read_text(encoding="utf-8")
    data = (VECTORS / name).read_bytes()
    dump = "\n".join(
        f"{off:04x}: " + " ".join(f"{b:02x}" for b in data[off:off + 16]) for off in range(0, len(data), 16)
    )
    assert f"```\n{dump}\n```" in doc
    assert f"({len(data)} bytes)" in doc


def test_mocap_vector_is_a_pose_in_the_documented_layout():
    from mocap.pose_wire import pose_from_wire

    meta, parts = _load(VECTORS, "mocap")
    msg = parse_message(parts)
    assert hashlib.sha256(parts[1]).hexdigest() == meta["pose_sha256"]
    pose = pose_from_wire(msg.fields, msg.parts[0])
    assert pose.performer_id == "actor-1" and pose.source == "xsens"
    assert list(pose.bone_rotations) == ["Hips", "LeftUpperArm"]
    assert pose.bone_rotations["LeftUpperArm"] == pytest.approx(meta["pose_floats"][4:8], abs=1e-7)
    assert pose.bone_positions_m["Hips"] == pytest.approx([0.0, 0.95, 0.0], abs=1e-7)
    assert pose.blendshapes == {"jawOpen": pytest.approx(0.25)}
