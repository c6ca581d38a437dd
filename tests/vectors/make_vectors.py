"""Write the golden vectors of wire protocol v1 (see README.md in this folder).

Every vector is built from a literal header map, written in canonical key order,
and literal plane bytes.  Headers are encoded with ``msgpack.packb(use_bin_type=True)``,
which is the canonical form of ``docs/protocol.md`` (smallest int, float64 floats,
smallest str form, keys in the order given).  This script deliberately does not
import ``bridge``: the vectors are an independent statement of the format that the
Python, C# and C++ implementations are all tested against.

    .venv/bin/python tests/vectors/make_vectors.py

rewrites the files next to this script; the output is the same bytes on every run.
"""

from __future__ import annotations

import hashlib
import json
import struct
import sys
from pathlib import Path
from typing import Any

import msgpack

HERE = Path(__file__).resolve().parent

# ---------------------------------------------------------------------------
# literal plane bytes
# ---------------------------------------------------------------------------

# 4x2 RGBA8, rows top to bottom, bytes R G B A per pixel, stride 16 (packed)
RGBA8_4x2 = bytes.fromhex(
    "ff0000ff" "00ff00ff" "0000ffff" "ffffffff"  # red, green, blue, white
    "000000ff" "808080ff" "ffff0080" "00000000"  # black, grey, half-transparent yellow, transparent
)
# 4x2 F16 little-endian linear depth in metres, stride 8
F16_DEPTH_4x2 = struct.pack("<8e", 0.5, 1.0, 1.5, 2.0, 4.0, 8.0, 16.0, 1000.0)
# 4x2 U8 mask (255 = actor), stride 4
U8_MASK_4x2 = bytes([0, 255, 255, 0, 0, 128, 255, 0])

# 3x2 RGBA8 with stride 16: 12 bytes of pixels then 4 padding bytes (0xee) per row
RGBA8_3x2_PADDED = bytes.fromhex(
    "102030ff" "405060ff" "708090ff" "eeeeeeee"
    "a0b0c0ff" "d0e0f0ff" "01020304" "eeeeeeee"
)
# 3x2 F32 little-endian depth with stride 16: 12 bytes of samples then 4 padding bytes per row
F32_DEPTH_3x2_PADDED = (
    struct.pack("<3f", 1.0, 2.0, 3.0) + b"\xee" * 4 + struct.pack("<3f", 0.25, 0.5, 0.75) + b"\xee" * 4
)
# 2x2 RGB8, bytes R G B per pixel, stride 6
RGB8_2x2 = bytes.fromhex("ff8000" "0080ff" "102030" "fefefe")
# 4x2 RGBA8 stylised result
RGBA8_RESULT_4x2 = bytes.fromhex(
    "e01010ff" "10e010ff" "1010e0ff" "f0f0f0ff"
    "101010ff" "7f7f7fff" "f0f010ff" "202020ff"
)


# AUDIO: 4 stereo sample frames of signed 16-bit little-endian PCM, interleaved L R L R ...
AUDIO_STEREO_4 = struct.pack("<8h", 0, 0, 16384, -16384, 32767, -32768, -1, 1)


def _plane(kind: str, fmt: str, width: int, height: int, stride: int) -> dict[str, Any]:
    return {"kind": kind, "format": fmt, "width": width, "height": height, "stride": stride}


CAMERA = {
    # row-major 4x4 world-from-camera, metres
    "world_from_camera": [
        1.0, 0.0, 0.0, 0.5,
        0.0, 0.0, 1.0, -3.0,
        0.0, -1.0, 0.0, 1.6,
        0.0, 0.0, 0.0, 1.0,
    ],
    "intrinsics_px": [4.0, 4.0, 1.5, 0.5],  # fx, fy, cx, cy
    "near_m": 0.1,
    "far_m": 1000.0,
}

# ---------------------------------------------------------------------------
# valid vectors: name, description, header (canonical key order), plane bytes
# ---------------------------------------------------------------------------

# MOCAP pose payload: little-endian float32, rotations (x, y, z, w) per bone, then positions, then blendshapes
MOCAP_POSE_FLOATS = [0.0, 0.0, 0.0, 1.0,  0.0, 0.0, 0.3826834559440613, 0.9238795042037964,  0.0, 0.95, 0.0,  0.25]
MOCAP_POSE_PART = struct.pack("<12f", *MOCAP_POSE_FLOATS)

VALID: list[tuple[str, str, dict[str, Any], list[bytes]]] = [
    (
        "hello",
        "HELLO declaring two streams: RGBA8 with F32 depth and a mask, and BGRA8 without; UTF-8 session name",
        {
            "v": 1,
            "kind": "HELLO",
            "engine": "Unity 2022.3.20f1",
            "client": "machinima-bridge-unity/0.1.0 (Windows x64)",
            "session": "take-01 café",
            "streams": [
                {
                    "id": 0,
                    "name": "main-cam",
                    "width": 1920,
                    "height": 1080,
                    "color_format": "RGBA8",
                    "depth_format": "F32",
                    "mask": True,
                    "fps": 29.97,
                    "pipeline": "stylize",
                },
                {
                    "id": 300,
                    "name": "overlay",
                    "width": 640,
                    "height": 360,
                    "color_format": "BGRA8",
                    "mask": False,
                    "fps": 24.0,
                },
            ],
            "capabilities": ["depth", "mask", "camera"],
            "heartbeat_ms": 1000,
        },
        [],
    ),
    (
        "welcome",
        "WELCOME granting both streams of the HELLO vector",
        {
            "v": 1,
            "kind": "WELCOME",
            "server": "machinima-bridge/0.1.0",
            "engine_id": "engine-1",
            "session": "take-01 café",
            "streams": [
                {
                    "id": 0,
                    "pipeline": "stylize",
                    "stages": ["depth_prep", "style", "cadence"],
                    "width": 1920,
                    "height": 1080,
                    "color_format": "RGBA8",
                },
                {
                    "id": 300,
                    "pipeline": "passthrough",
                    "stages": [],
                    "width": 640,
                    "height": 360,
                    "color_format": "BGRA8",
                },
            ],
            "heartbeat_ms": 1000,
            "timeout_ms": 5000,
            "max_frame_bytes": 67108864,
        },
        [],
    ),
    (
        "frame_rgba8_depth_mask",
        "FRAME 4x2: RGBA8 colour, F16 depth and U8 mask, with timecode and camera",
        {
            "v": 1,
            "kind": "FRAME",
            "stream": 0,
            "index": 7,
            "t_capture_ns": 1700000000123456789,
            "timecode": "01:00:00:07",
            "planes": [
                _plane("color", "RGBA8", 4, 2, 16),
                _plane("depth", "F16", 4, 2, 8),
                _plane("mask", "U8", 4, 2, 4),
            ],
            "camera": CAMERA,
        },
        [RGBA8_4x2, F16_DEPTH_4x2, U8_MASK_4x2],
    ),
    (
        "frame_padded_stride",
        "FRAME 3x2 whose RGBA8 colour and F32 depth rows are padded to a 16-byte stride (padding bytes are 0xee)",
        {
            "v": 1,
            "kind": "FRAME",
            "stream": 0,
            "index": 8,
            "t_capture_ns": 1700000000156789012,
            "planes": [
                _plane("color", "RGBA8", 3, 2, 16),
                _plane("depth", "F32", 3, 2, 16),
            ],
        },
        [RGBA8_3x2_PADDED, F32_DEPTH_3x2_PADDED],
    ),
    (
        "frame_rgb8",
        "FRAME 2x2 with an RGB8 colour plane only, no timecode, no camera, index 0",
        {
            "v": 1,
            "kind": "FRAME",
            "stream": 300,
            "index": 0,
            "t_capture_ns": 0,
            "planes": [_plane("color", "RGB8", 2, 2, 6)],
        },
        [RGB8_2x2],
    ),
    (
        "result",
        "RESULT 4x2 RGBA8 with per-stage timings (in pipeline order), two drops and a held picture",
        {
            "v": 1,
            "kind": "RESULT",
            "stream": 0,
            "index": 7,
            "t_capture_ns": 1700000000123456789,
            "planes": [_plane("color", "RGBA8", 4, 2, 16)],
            "stage_us": {"depth_prep": 112, "style": 8450, "cadence": 3},
            "server_us": 9120,
            "dropped": 2,
            "held": True,
        },
        [RGBA8_RESULT_4x2],
    ),
    (
        "control",
        "CONTROL with float, negative int, int, bool, string and float-array params and a glide",
        {
            "v": 1,
            "kind": "CONTROL",
            "request_id": 42,
            "stream": 0,
            "stage": "style",
            "params": {
                "strength": 0.75,
                "bias": -3,
                "seed": 1234,
                "enabled": True,
                "preset": "ink wash",
                "tint_rgb": [1.0, 0.9, 0.8],
            },
            "glide_ms": 250.0,
        },
        [],
    ),
    (
        "control_ack_ok",
        "CONTROL_ACK accepting the CONTROL vector; applied echoes the values as applied",
        {
            "v": 1,
            "kind": "CONTROL_ACK",
            "request_id": 42,
            "ok": True,
            "applied": {
                "strength": 0.75,
                "bias": -3,
                "seed": 1234,
                "enabled": True,
                "preset": "ink wash",
                "tint_rgb": [1.0, 0.9, 0.8],
            },
        },
        [],
    ),
    (
        "control_ack_rejected",
        "CONTROL_ACK rejecting a CONTROL with UNKNOWN_PARAM (10)",
        {
            "v": 1,
            "kind": "CONTROL_ACK",
            "request_id": 43,
            "ok": False,
            "applied": {},
            "code": 10,
            "reason": "stage 'style' has no parameter 'strenght'",
        },
        [],
    ),
    (
        "stats_request",
        "STATS request from an engine (no streams field)",
        {"v": 1, "kind": "STATS"},
        [],
    ),
    (
        "stats_report",
        "STATS report from the server for both streams",
        {
            "v": 1,
            "kind": "STATS",
            "t_ns": 1700000005000000000,
            "streams": [
                {
                    "id": 0,
                    "name": "main-cam",
                    "frames_in": 1500,
                    "frames_out": 1420,
                    "dropped": 80,
                    "fps_in": 29.97,
                    "fps_out": 28.4,
                    "latency_ms_p50": 21.5,
                    "latency_ms_p95": 34.25,
                    "stage_ms": {"depth_prep": 0.11, "style": 8.45, "cadence": 0.003},
                },
                {
                    "id": 300,
                    "name": "overlay",
                    "frames_in": 0,
                    "frames_out": 0,
                    "dropped": 0,
                    "fps_in": 0.0,
                    "fps_out": 0.0,
                    "latency_ms_p50": 0.0,
                    "latency_ms_p95": 0.0,
                    "stage_ms": {},
                },
            ],
        },
        [],
    ),
    (
        "error",
        "ERROR UNKNOWN_STREAM (6) about a FRAME, naming its stream and index",
        {
            "v": 1,
            "kind": "ERROR",
            "code": 6,
            "name": "UNKNOWN_STREAM",
            "message": "stream 9 was not declared in this engine's HELLO",
            "ref_kind": "FRAME",
            "stream": 9,
            "index": 120,
        },
        [],
    ),
    (
        "heartbeat",
        "HEARTBEAT",
        {"v": 1, "kind": "HEARTBEAT", "t_ns": 1700000004000000000},
        [],
    ),
    (
        "bye",
        "BYE with a reason",
        {"v": 1, "kind": "BYE", "reason": "editor left play mode"},
        [],
    ),
    (
        "mocap",
        "MOCAP: one performer's pose (layout in docs/protocol.md 6.11): Hips and LeftUpperArm rotations "
        "(the arm turned 45 degrees about Z), the Hips position, one blendshape; no confidences",
        {
            "v": 1,
            "kind": "MOCAP",
            "performer": "actor-1",
            "t_ns": 1700000005000000000,
            "source": "xsens",
            "root": [0.0, 0.95, 0.0, 0.0, 0.0, 0.0, 1.0],
            "bones": ["Hips", "LeftUpperArm"],
            "positions": ["Hips"],
            "blendshapes": ["jawOpen"],
            "confidence": False,
        },
        [MOCAP_POSE_PART],
    ),
    (
        "session_snapshot",
        "SESSION snapshot sent right after WELCOME: the members and the whole shared state",
        {
            "v": 1,
            "kind": "SESSION",
            "session": "forum-world",
            "event": "snapshot",
            "engine_id": "engine-7",
            "engine": "Unity 2022.3.20f1",
            "members": [
                {"engine_id": "engine-3", "engine": "Unreal 5.4"},
                {"engine_id": "engine-7", "engine": "Unity 2022.3.20f1"},
            ],
            "state": {"scene.cue": "act-2", "lights": {"key": 0.8, "fill": 0.25}, "doors": [1, 0, 1]},
        },
        [],
    ),
    (
        "session_leave",
        "SESSION leave: another engine left (reason: bye, timeout, disconnected or replaced)",
        {
            "v": 1,
            "kind": "SESSION",
            "session": "forum-world",
            "event": "leave",
            "engine_id": "engine-3",
            "engine": "Unreal 5.4",
            "members": [],
            "state": {},
            "reason": "timeout",
        },
        [],
    ),
    (
        "state_set",
        "STATE from an engine: set one key of the session's shared state",
        {"v": 1, "kind": "STATE", "key": "scene.cue", "op": "set", "value": {"act": 2, "cue": "door-opens"}},
        [],
    ),
    (
        "state_applied",
        "STATE from the server to every listening engine: the change as applied, by whom, state version",
        {"v": 1, "kind": "STATE", "key": "lights", "op": "delete", "by": "engine-3", "version": 42},
        [],
    ),
    (
        "hello_audio",
        "HELLO declaring one stream that also carries stereo sound at 48 kHz (the stream's audio format)",
        {
            "v": 1,
            "kind": "HELLO",
            "engine": "Unreal 5.4",
            "client": "machinima-bridge-unreal 0.1.0",
            "session": "take-12",
            "streams": [
                {"id": 0, "name": "SetCam", "width": 640, "height": 360, "color_format": "BGRA8", "mask": False,
                 "fps": 24.0, "audio": {"sample_rate_hz": 48000, "channels": 2}},
            ],
            "capabilities": ["audio"],
            "heartbeat_ms": 1000,
        },
        [],
    ),
    (
        "audio",
        "AUDIO: 4 stereo sample frames at 48 kHz of stream 0, interleaved s16le "
        "(0,0), (16384,-16384), (32767,-32768), (-1,1)",
        {
            "v": 1,
            "kind": "AUDIO",
            "stream": 0,
            "index": 7,
            "t_capture_ns": 1700000006000000000,
            "sample_rate_hz": 48000,
            "channels": 2,
            "samples": 4,
        },
        [AUDIO_STEREO_4],
    ),
]

# ---------------------------------------------------------------------------
# invalid vectors: name, description, header part bytes, other parts, error name
# each breaks exactly one rule, so every receiver must answer the same code
# ---------------------------------------------------------------------------


def _pack(header: Any) -> bytes:
    return msgpack.packb(header, use_bin_type=True)


_HEARTBEAT = {"v": 1, "kind": "HEARTBEAT", "t_ns": 1}


_DROP = object()


def _frame(**changes: Any) -> dict[str, Any]:
    """A valid 4x2 FRAME header (colour only) with ``changes`` applied in place; ``_DROP`` removes a key."""
    header: dict[str, Any] = {
        "v": 1,
        "kind": "FRAME",
        "stream": 0,
        "index": 1,
        "t_capture_ns": 1000,
        "timecode": _DROP,
        "planes": [_plane("color", "RGBA8", 4, 2, 16)],
    }
    header.update(changes)
    return {key: value for key, value in header.items() if value is not _DROP}


def _audio(**changes: Any) -> dict[str, Any]:
    """A valid AUDIO header (4 stereo samples at 48 kHz) with ``changes`` applied."""
    header: dict[str, Any] = {"v": 1, "kind": "AUDIO", "stream": 0, "index": 1, "t_capture_ns": 1000,
                              "sample_rate_hz": 48000, "channels": 2, "samples": 4}
    header.update(changes)
    return {key: value for key, value in header.items() if value is not _DROP}


def _hello_stream(stream_id: int) -> dict[str, Any]:
    return {"id": stream_id, "name": f"s{stream_id}", "width": 64, "height": 32, "color_format": "RGBA8",
            "mask": False, "fps": 30.0}


def _hello(streams: list[dict[str, Any]]) -> dict[str, Any]:
    return {"v": 1, "kind": "HELLO", "engine": "test", "client": "vectors", "session": "default",
            "streams": streams, "capabilities": [], "heartbeat_ms": 1000}


INVALID: list[tuple[str, str, bytes, list[bytes], str]] = [
    ("empty_header", "part 0 has no bytes", b"", [], "MALFORMED_HEADER"),
    ("not_msgpack", "part 0 starts with 0xc1, a byte msgpack never uses", b"\xc1\x81\xa1v\x01", [],
     "MALFORMED_HEADER"),
    ("header_truncated", "a map of 3 entries that ends after the first", b"\x83\xa1v\x01", [], "MALFORMED_HEADER"),
    ("header_array", "part 0 is a msgpack array, not a map", _pack([1, "HEARTBEAT", 1]), [], "MALFORMED_HEADER"),
    ("trailing_bytes", "a valid HEARTBEAT map followed by one extra byte 0x00", _pack(_HEARTBEAT) + b"\x00", [],
     "MALFORMED_HEADER"),
    ("non_string_key", "a HEARTBEAT map with an extra key that is msgpack bin, not str",
     b"\x84" + _pack(_HEARTBEAT)[1:] + b"\xc4\x03pad\x01", [], "MALFORMED_HEADER"),
    ("duplicate_key", "a HEARTBEAT map in which the key t_ns appears twice",
     b"\x84" + _pack(_HEARTBEAT)[1:] + b"\xa4t_ns\x02", [], "MALFORMED_HEADER"),
    ("missing_version", "a HEARTBEAT map without v", _pack({"kind": "HEARTBEAT", "t_ns": 1}), [],
     "MALFORMED_HEADER"),
    ("missing_kind", "a map with v but without kind", _pack({"v": 1, "t_ns": 1}), [], "MALFORMED_HEADER"),
    ("wrong_version", "a HEARTBEAT with v = 2", _pack({"v": 2, "kind": "HEARTBEAT", "t_ns": 1}), [], "BAD_VERSION"),
    ("version_string", "a HEARTBEAT with v = \"1\" (a string)", _pack({"v": "1", "kind": "HEARTBEAT", "t_ns": 1}), [],
     "BAD_VERSION"),
    ("unknown_kind", "kind FRAMES is not a message kind", _pack({"v": 1, "kind": "FRAMES", "t_ns": 1}), [],
     "UNKNOWN_KIND"),
    ("frame_missing_index", "a FRAME without its required index", _pack(_frame(index=_DROP)), [RGBA8_4x2],
     "BAD_FIELD"),
    ("frame_stream_string", "a FRAME whose stream is the string \"0\"", _pack(_frame(stream="0")), [RGBA8_4x2],
     "BAD_FIELD"),
    ("frame_index_float", "a FRAME whose index is the float 1.0 (integer fields never accept floats)",
     _pack(_frame(index=1.0)), [RGBA8_4x2], "BAD_FIELD"),
    ("frame_timecode_nil", "a FRAME whose optional timecode is nil (optional fields are left out, never nil)",
     _pack(_frame(timecode=None)), [RGBA8_4x2], "BAD_FIELD"),
    ("plane_count_mismatch", "a FRAME declaring a colour and a mask plane followed by one binary part",
     _pack(_frame(planes=[_plane("color", "RGBA8", 4, 2, 16), _plane("mask", "U8", 4, 2, 4)])), [RGBA8_4x2],
     "PLANE_MISMATCH"),
    ("plane_length_mismatch", "a FRAME whose 4x2 RGBA8 colour plane (32 bytes) arrives with 31 bytes",
     _pack(_frame()), [RGBA8_4x2[:31]], "PLANE_MISMATCH"),
    ("stride_too_small", "a FRAME whose 4x2 RGBA8 colour plane has stride 12 < 4*4 (12*2 bytes follow)",
     _pack(_frame(planes=[_plane("color", "RGBA8", 4, 2, 12)])), [RGBA8_4x2[:24]], "PLANE_MISMATCH"),
    ("stride_not_sample_multiple", "a FRAME whose 4x2 F32 depth plane has stride 18, not a multiple of 4",
     _pack(_frame(planes=[_plane("color", "RGBA8", 4, 2, 16), _plane("depth", "F32", 4, 2, 18)])),
     [RGBA8_4x2, bytes(36)], "PLANE_MISMATCH"),
    ("color_plane_depth_format", "a FRAME whose colour plane has format F32",
     _pack(_frame(planes=[_plane("color", "F32", 4, 2, 16)])), [RGBA8_4x2], "PLANE_MISMATCH"),
    ("repeated_plane_kind", "a FRAME with two colour planes",
     _pack(_frame(planes=[_plane("color", "RGBA8", 4, 2, 16), _plane("color", "RGBA8", 4, 2, 16)])),
     [RGBA8_4x2, RGBA8_4x2], "PLANE_MISMATCH"),
    ("plane_side_over_limit", "a FRAME whose U8 mask plane is 16385 pixels wide (limit 16384)",
     _pack(_frame(planes=[_plane("mask", "U8", 16385, 1, 16385)])), [bytes(16385)], "LIMIT_EXCEEDED"),
    ("hello_with_part", "a HELLO followed by a binary part (only FRAME, RESULT and MOCAP carry parts)",
     _pack(_hello([_hello_stream(0)])), [b"\x00\x01\x02\x03"], "PLANE_MISMATCH"),
    ("hello_duplicate_stream_id", "a HELLO declaring stream id 3 twice",
     _pack(_hello([_hello_stream(3), _hello_stream(3)])), [], "BAD_FIELD"),
    ("hello_too_many_streams", "a HELLO declaring 17 streams (limit 16)",
     _pack(_hello([_hello_stream(i) for i in range(17)])), [], "LIMIT_EXCEEDED"),
    ("hello_audio_channels_zero", "a HELLO whose stream declares audio with 0 channels (range 1..8)",
     _pack(_hello([{**_hello_stream(0), "audio": {"sample_rate_hz": 48000, "channels": 0}}])), [], "BAD_FIELD"),
    ("audio_length_mismatch", "an AUDIO of 4 stereo samples (16 bytes) whose part has 15 bytes",
     _pack(_audio()), [AUDIO_STEREO_4[:15]], "PLANE_MISMATCH"),
    ("audio_without_part", "an AUDIO header with no binary part", _pack(_audio()), [], "PLANE_MISMATCH"),
    ("audio_samples_over_one_second", "an AUDIO of 48001 samples at 48000 Hz (a chunk holds at most one second)",
     _pack(_audio(samples=48001, channels=1)), [bytes(2 * 48001)], "BAD_FIELD"),
    ("audio_missing_t_capture", "an AUDIO without its required t_capture_ns", _pack(_audio(t_capture_ns=_DROP)),
     [AUDIO_STEREO_4], "BAD_FIELD"),
]

ERROR_CODES = {
    "MALFORMED_HEADER": 1, "BAD_VERSION": 2, "UNKNOWN_KIND": 3, "BAD_FIELD": 4, "NOT_WELCOMED": 5,
    "UNKNOWN_STREAM": 6, "PLANE_MISMATCH": 7, "FRAME_TOO_LARGE": 8, "UNKNOWN_STAGE": 9, "UNKNOWN_PARAM": 10,
    "BAD_PARAM_VALUE": 11, "PIPELINE_FAILED": 12, "LIMIT_EXCEEDED": 13, "UNSUPPORTED": 14, "SHUTTING_DOWN": 15,
    "TIMEOUT": 16,
}

# ---------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def build(out_dir: Path | str) -> dict[str, bytes]:
    """Write every vector under ``out_dir`` (and ``out_dir/invalid``); returns {relative path: bytes}."""
    out_dir = Path(out_dir)
    files: dict[str, bytes] = {}

    for name, description, header, planes in VALID:
        parts = [_pack(header)] + list(planes)
        part_names = [f"{name}.{i}.bin" for i in range(len(parts))]
        descriptors = header.get("planes", [])
        if header["kind"] in ("MOCAP", "AUDIO"):  # its one part is the pose or the samples, not a plane
            descriptors, planes = [], []
        if len(descriptors) != len(planes):
            raise AssertionError(f"{name}: {len(descriptors)} descriptors for {len(planes)} planes")
        plane_info = []
        for desc, data in zip(descriptors, planes):
            if len(data) != desc["stride"] * desc["height"]:
                raise AssertionError(f"{name}: {desc['kind']} plane has {len(data)} bytes")
            plane_info.append({**desc, "sha256": hashlib.sha256(data).hexdigest()})
        for part_name, data in zip(part_names, parts):
            files[part_name] = data
        files[f"{name}.json"] = _json_bytes({
            "name": name,
            "description": description,
            "kind": header["kind"],
            "parts": part_names,
            "header": header,
            "planes": plane_info,
            **({"pose_floats": MOCAP_POSE_FLOATS, "pose_sha256": hashlib.sha256(MOCAP_POSE_PART).hexdigest()}
               if header["kind"] == "MOCAP" else {}),
            **({"samples_s16": list(struct.unpack(f"<{len(parts[1]) // 2}h", bytes(parts[1]))),
                "samples_sha256": hashlib.sha256(parts[1]).hexdigest()}
               if header["kind"] == "AUDIO" else {}),
        })

    for name, description, header_bytes, rest, error_name in INVALID:
        parts = [header_bytes] + list(rest)
        part_names = [f"{name}.{i}.bin" for i in range(len(parts))]
        for part_name, data in zip(part_names, parts):
            files[f"invalid/{part_name}"] = data
        files[f"invalid/{name}.json"] = _json_bytes({
            "name": name,
            "description": description,
            "parts": part_names,
            "error_code": ERROR_CODES[error_name],
            "error_name": error_name,
        })

    for rel, data in files.items():
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def main() -> int:
    files = build(HERE)
    # remove vectors that are no longer generated (only .bin/.json files in the two vector folders)
    removed = 0
    for folder in (HERE, HERE / "invalid"):
        for path in folder.iterdir():
            rel = path.relative_to(HERE).as_posix()
            if path.is_file() and path.suffix in (".bin", ".json") and rel not in files:
                path.unlink()
                removed += 1
    print(f"wrote {len(files)} files under {HERE}" + (f", removed {removed} stale" if removed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
