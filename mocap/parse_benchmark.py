"""Parse-cost figures for the mocap hot paths, each measured side by side with a baseline.

`measure_parse_costs()` returns microsecond figures (median of several repeats):

* ``mvn_parse_us``: `parse_datagram` of one MVN type-02 datagram of 23 segments;
  ``mvn_struct_baseline_us``: bare ``struct.unpack_from`` of the same header and 23 items.
* ``mvn_to_pose_us``: that datagram's segments to a canonical `HumanoidPose`.
* ``vmc_parse_us``: one full VMC frame (OK, T, Root, 55 bones = 58 messages in 4 bundles
  under 1500 bytes) decoded, checked and applied by `VmcMarionette`, then one pose built (what
  `VmcMarionetteSource` does per frame); ``vmc_decode_us``: our OSC decode alone;
  ``vmc_python_osc_us``: python-osc's generic parser on the same bytes (decode only);
  ``vmc_struct_baseline_us``: bare ``struct.unpack_from`` of the 7 floats of every bone
  message at known offsets.
* ``pose_to_wire_us`` / ``pose_from_wire_us``: the relay's MOCAP pose encoding.

Used by ``benchmarks/bench_mocap_parse.py`` (and the CLI's ``bench mocap``).
"""

from __future__ import annotations

import statistics
import struct
import time
from collections.abc import Callable

import numpy as np

from mocap import osc_codec
from mocap import quaternion as quat
from mocap.pose_wire import pose_from_wire, pose_to_wire
from mocap.skeleton import HUMAN_BONES, t_pose
from mocap.vmc import VmcMarionette, encode_pose_packets
from mocap.xsens_mvn import MvnSample, mvn_sample_to_pose, parse_datagram

MVN_TARGET_US = 50.0


def mvn_type02_datagram(segments: int = 23) -> bytes:
    """A type-02 datagram of ``segments`` items, built with struct."""
    rng = np.random.default_rng(0)
    items = []
    for segment_id in range(1, segments + 1):
        w, x, y, z = quat.normalise(rng.normal(size=4))
        items.append(struct.pack(">i7f", segment_id, *rng.normal(size=3), w, x, y, z))
    payload = b"".join(items)
    header = struct.pack(">6sIBBIBBBB2xH", b"MXTP02", 1, 0x80, segments, 0, 0, 23, 0, 0, len(payload))
    return header + payload


def vmc_frame_packets() -> list[bytes]:
    pose = t_pose("bench")
    rng = np.random.default_rng(1)
    for name in HUMAN_BONES:
        pose.bone_rotations[name] = quat.normalise(rng.normal(size=4))
    return encode_pose_packets(pose, time_s=1.0)


def _median_us(function: Callable[[], object], number: int, repeats: int = 7) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for _ in range(number):
            function()
        samples.append((time.perf_counter_ns() - start) / number / 1000.0)
    return statistics.median(samples)


def measure_parse_costs(number: int = 2000) -> dict[str, float]:
    datagram = mvn_type02_datagram()
    header = struct.Struct(">6sIBBIBBBB2xH")
    items = struct.Struct(">" + "i7f" * 23)

    def mvn_baseline() -> object:
        return header.unpack_from(datagram, 0), items.unpack_from(datagram, 24)

    parsed = parse_datagram(datagram)
    sample = MvnSample(parsed.header, parsed.data, 1)

    packets = vmc_frame_packets()
    marionette = VmcMarionette("bench")

    def vmc_parse() -> object:  # what VmcMarionetteSource does for one frame's burst of bundles
        for packet in packets:
            marionette.apply_messages(osc_codec.decode_packet(packet))
        return marionette.pose(0)

    def vmc_decode() -> object:
        return [osc_codec.decode_packet(packet) for packet in packets]

    from pythonosc.osc_packet import OscPacket

    def vmc_python_osc() -> object:
        return [OscPacket(packet).messages for packet in packets]

    bone_offsets: list[tuple[bytes, int]] = []
    for packet in packets:
        offset = 16
        while offset < len(packet):
            (length,) = struct.unpack_from(">i", packet, offset)
            element = packet[offset + 4 : offset + 4 + length]
            if element.startswith(b"/VMC/Ext/Bone/Pos"):
                bone_offsets.append((packet, offset + 4 + length - 28))
            offset += 4 + length
    seven = struct.Struct(">7f")

    def vmc_baseline() -> object:
        return [seven.unpack_from(packet, at) for packet, at in bone_offsets]

    pose = vmc_parse()
    assert pose is not None
    fields, payload = pose_to_wire(pose)

    vmc_number = max(1, number // 10)
    figures = {
        "mvn_parse_us": _median_us(lambda: parse_datagram(datagram), number),
        "mvn_struct_baseline_us": _median_us(mvn_baseline, number),
        "mvn_to_pose_us": _median_us(lambda: mvn_sample_to_pose(sample, "bench", 0), max(1, number // 4)),
        "vmc_parse_us": _median_us(vmc_parse, vmc_number),
        "vmc_decode_us": _median_us(vmc_decode, vmc_number),
        "vmc_python_osc_us": _median_us(vmc_python_osc, vmc_number),
        "vmc_struct_baseline_us": _median_us(vmc_baseline, vmc_number),
        "pose_to_wire_us": _median_us(lambda: pose_to_wire(pose), max(1, number // 4)),
        "pose_from_wire_us": _median_us(lambda: pose_from_wire(fields, payload), max(1, number // 4)),
    }
    figures["mvn_vs_struct_ratio"] = figures["mvn_parse_us"] / figures["mvn_struct_baseline_us"]
    figures["vmc_decode_vs_python_osc_ratio"] = figures["vmc_decode_us"] / figures["vmc_python_osc_us"]
    figures["vmc_vs_struct_ratio"] = figures["vmc_parse_us"] / figures["vmc_struct_baseline_us"]
    figures["vmc_messages_per_frame"] = float(sum(1 for _ in bone_offsets) + 3)
    figures["mvn_target_us"] = MVN_TARGET_US
    return {key: round(value, 3) for key, value in figures.items()}
