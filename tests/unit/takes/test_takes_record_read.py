"""Record real frames, controls, poses and audio with TakeRecorder, then read every byte back with TakeReader."""

from __future__ import annotations

import json
import time

import cv2
import numpy as np
import pytest

from bridge.takes import TakeReader, TakeRecorder
from bridge.takes.compactor import RAW_DELETE_DELAY_S
from bridge.takes.layout import MANIFEST
from mocap.bvh import read_bvh
from mocap.pose_wire import pose_from_wire, pose_to_wire
from mocap.skeleton import t_pose

FRAME_NS = 33_333_333
PIPELINES = {"cam": {"name": "passthrough", "stage": [{"type": "passthrough", "name": "passthrough", "params": {}}]}}


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Luma PSNR in dB (H.264 output is yuv420p: chroma is subsampled by design, luma carries the detail)."""
    a, b = (cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).astype(np.float64) for x in (a, b))
    mse = float(np.mean((a - b) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _record(tmp_path, clock, frames, **kw):
    recorder = TakeRecorder(tmp_path, "take1", clock_ns=clock, fps_hint=30.0, **kw)
    recorder.start(PIPELINES)
    for i, frame in enumerate(frames):
        recorder.on_input("cam", i, 1000 + i, f"01:00:00:{i % 30:02d}", frame.color_rgba, frame.depth_m,
                          frame.actor_mask, color_format="RGBA8")
        if i == 12:
            recorder.on_control("cam", "film_look", {"fade": 0.9}, None, 13)
        if i == 20:
            recorder.on_control("cam", "film_look", {"grain": 0.5}, 250.0, 21)
        recorder.on_output("cam", i, frame.to_rgb(), held=(i % 2 == 1))
        recorder.on_audio("cam", 1000 + i, 48_000, 2, np.full(1600 * 2, i, dtype="<i2").tobytes())
        pose = t_pose("alice", timestamp_ns=10**18 + i * FRAME_NS)
        pose.bone_rotations["LeftUpperArm"] = np.array([0.0, 0.0, np.sin(i / 20), np.cos(i / 20)])
        fields, payload = pose_to_wire(pose)
        recorder.on_mocap("alice", fields, payload)
        clock.advance(FRAME_NS)
    recorder.on_control("cam", "film_look", {"fade": 0.0}, None, len(frames) + 5)  # never reached
    return recorder, recorder.stop()


def test_everything_recorded_reads_back(tmp_path, clock, scene_frames):
    recorder, info = _record(tmp_path, clock, scene_frames)
    assert recorder.failed is None
    assert info.status == "complete"
    assert info.streams["cam"].input_frames == 40 and info.streams["cam"].output_frames == 40
    assert info.controls == 3 and info.performers == {"alice": 40}
    assert info.duration_s == pytest.approx(39 * FRAME_NS / 1e9, abs=1e-6)

    reader = TakeReader(info.path)
    assert reader.status == "complete" and reader.pipelines == PIPELINES
    # the performer's poses are also in the take as BVH, written when it finished
    assert reader.manifest["mocap"]["bvh"] == {"alice": "mocap/alice.bvh"}
    bvh = read_bvh(info.path / "mocap" / "alice.bvh")
    assert bvh.frames.shape[0] >= 39 and "LeftUpperArm" in [joint.name for joint in bvh.joints()]
    inputs = list(reader.input_frames("cam"))
    assert [f.index for f in inputs] == list(range(40))
    for i, frame in enumerate(inputs):
        source = scene_frames[i]
        assert np.array_equal(frame.color_rgb, source.to_rgb())  # lossless, bit for bit
        assert frame.depth_m.dtype == np.float16
        assert np.array_equal(frame.depth_m, source.depth_m.astype(np.float16))
        assert np.array_equal(frame.mask, source.actor_mask)
        assert frame.t_capture_ns == 1000 + i and frame.engine_timecode == f"01:00:00:{i % 30:02d}"
        assert frame.t_ns == i * FRAME_NS
    # one clock, one timecode: frame i is i frames after the take's start timecode
    start = reader.manifest["start_timecode"]
    tc = TakeReader(info.path).info().start_timecode
    assert tc == start and inputs[0].timecode == start
    assert inputs[30].timecode != inputs[29].timecode

    # each control is attached to the frame it preceded
    attached = {f.index: [(c.stage, c.params, c.glide_ms) for c in f.controls] for f in inputs if f.controls}
    assert attached == {13: [("film_look", {"fade": 0.9}, None)], 21: [("film_look", {"grain": 0.5}, 250.0)]}
    assert [c.input_index for c in reader.trailing_controls("cam")] == [45]

    outputs = list(reader.output_frames("cam"))
    assert [o.index for o in outputs] == list(range(40))
    assert [o.held for o in outputs] == [i % 2 == 1 for i in range(40)]
    assert min(_psnr(o.color_rgb, scene_frames[o.index].to_rgb()) for o in outputs) > 40.0

    chunks = list(reader.audio_chunks("cam"))
    assert len(chunks) == 40
    for i, chunk in enumerate(chunks):
        assert (chunk.sample_rate_hz, chunk.channels) == (48_000, 2)
        assert np.array_equal(np.frombuffer(chunk.pcm_s16, "<i2"), np.full(3200, i, dtype="<i2"))

    poses = list(reader.mocap("alice"))
    assert len(poses) == 40
    for i, record in enumerate(poses):
        pose = record.pose()
        expected = pose_from_wire(*pose_to_wire(pose))
        assert pose.timestamp_ns == 10**18 + i * FRAME_NS
        assert np.allclose(pose.bone_rotations["LeftUpperArm"], expected.bone_rotations["LeftUpperArm"])
        assert np.allclose(pose.bone_rotations["LeftUpperArm"], [0, 0, np.sin(i / 20), np.cos(i / 20)], atol=1e-6)


def test_segments_follow_the_take_clock_and_the_manifest_lists_them(tmp_path, clock, scene_frames):
    recorder, info = _record(tmp_path, clock, scene_frames)
    manifest = json.loads((info.path / MANIFEST).read_text())
    assert manifest["status"] == "complete" and manifest["segment_s"] == 0.5
    inputs = manifest["streams"]["cam"]["input"]
    # frame i arrives at i * 33.333333 ms of take time: 0..15 (15 at 499.999995 ms) in the first half second
    assert [(s["first_index"], s["last_index"], s["count"]) for s in inputs["segments"]] == [
        (0, 15, 16), (16, 30, 15), (31, 39, 9)]
    assert manifest["controls"]["count"] == 3 and manifest["mocap"]["performers"] == {"alice": 40}
    stream_dir = info.path / manifest["streams"]["cam"]["dir"]
    # recorded raw, then re-encoded by the compactor process: lossless Matroska inputs, H.264 outputs
    assert recorder.wait_compacted(60) and recorder.compactor.failed == []
    time.sleep(RAW_DELETE_DELAY_S + 1.0)  # raw files go a few seconds after their replacement is committed
    assert sorted(p.name for p in (stream_dir / "input").iterdir()) == [
        f"{seq:06d}.{ext}" for seq in range(3) for ext in ("json", "mkv", "npz")]
    assert sorted(p.name for p in (stream_dir / "output").iterdir()) == [
        f"{seq:06d}.{ext}" for seq in range(3) for ext in ("json", "mp4")]
    assert not list(info.path.rglob("*.part"))


def test_exact_depth_storage_keeps_float32(tmp_path, clock, scene_frames):
    from bridge.takes import EncodingSettings

    recorder = TakeRecorder(tmp_path, "exact", clock_ns=clock, encoding=EncodingSettings(depth_storage="exact"))
    recorder.start({})
    for i, frame in enumerate(scene_frames[:3]):
        recorder.on_input("cam", i, 0, None, frame.to_bgra(), frame.depth_m, None, color_format="BGRA8")
        clock.advance(FRAME_NS)
    info = recorder.stop()
    frames = list(TakeReader(info.path).input_frames())
    assert len(frames) == 3
    for frame, source in zip(frames, scene_frames):
        assert frame.depth_m.dtype == np.float32 and np.array_equal(frame.depth_m, source.depth_m)
        assert frame.mask is None
        assert np.array_equal(frame.color_rgb, source.to_rgb())  # BGRA converted on the writer thread


def test_odd_sizes_and_a_size_change_mid_stream(tmp_path, clock, scene_frames):
    recorder = TakeRecorder(tmp_path, "odd", clock_ns=clock)
    recorder.start({})
    small = [np.ascontiguousarray(f.to_rgb()[:91, :141]) for f in scene_frames[:4]]
    for i, rgb in enumerate(small):
        recorder.on_input("cam", i, 0, None, rgb, None, None)
        recorder.on_output("cam", i, rgb, False)
        clock.advance(FRAME_NS)
    big = scene_frames[4].to_rgb()
    recorder.on_input("cam", 4, 0, None, big, None, None)
    recorder.on_output("cam", 4, big, False)
    info = recorder.stop()
    reader = TakeReader(info.path)
    inputs = list(reader.input_frames())
    assert [f.color_rgb.shape for f in inputs] == [(91, 141, 3)] * 4 + [(96, 160, 3)]
    assert all(np.array_equal(f.color_rgb, rgb) for f, rgb in zip(inputs, small))
    outputs = list(reader.output_frames())
    assert [o.color_rgb.shape for o in outputs] == [(91, 141, 3)] * 4 + [(96, 160, 3)]
    assert _psnr(outputs[0].color_rgb, small[0]) > 35
    assert len(reader.segments("cam", "input")) == 2  # the size change started a new segment


def test_hooks_check_arguments_and_ignore_calls_outside_a_recording(tmp_path, clock, scene_frames):
    frame = scene_frames[0]
    recorder = TakeRecorder(tmp_path, "args", clock_ns=clock)
    recorder.on_input("cam", 0, 0, None, frame.to_rgb(), None, None)  # before start: ignored
    recorder.start({})
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        recorder.on_input("cam", 0, 0, None, frame.color_rgba, None, None)  # RGBA passed as RGB8
    with pytest.raises(ValueError, match="colour format 'YUV'"):
        recorder.on_output("cam", 0, frame.to_rgb(), False, color_format="YUV")
    with pytest.raises(ValueError, match="depth must be 96x160"):
        recorder.on_input("cam", 0, 0, None, frame.to_rgb(), frame.depth_m[:10], None)
    with pytest.raises(ValueError, match="whole number of 2-channel"):
        recorder.on_audio("cam", 0, 48_000, 2, b"\x00" * 6)
    recorder.on_input("cam", 0, 0, None, frame.to_rgb(), None, None)
    info = recorder.stop()
    recorder.on_input("cam", 1, 0, None, frame.to_rgb(), None, None)  # after stop: ignored
    assert info.input_frames == 1 and recorder.stop().input_frames == 1  # stop is idempotent
    assert recorder.failed is None


def test_names_are_checked_and_never_reused(tmp_path):
    with pytest.raises(ValueError, match="take name '../x'"):
        TakeRecorder(tmp_path, "../x")
    TakeRecorder(tmp_path, "same").start({})
    with pytest.raises(FileExistsError, match="take 'same' already exists"):
        TakeRecorder(tmp_path, "same").start({})
    first = TakeRecorder(tmp_path)
    second = TakeRecorder(tmp_path)
    assert first.start({}).name != second.start({}).name  # generated names get a suffix
    first.stop()
    second.stop()


def test_hook_calls_do_not_wait_for_the_writer(tmp_path, scene_frames):
    """On the frame path a hook call queues a reference: far below a frame time even on a busy machine."""
    recorder = TakeRecorder(tmp_path, "fast", max_queued_bytes=4096 * 1024 * 1024)
    recorder.start({})
    big = cv2.resize(scene_frames[0].color_rgba, (1280, 720))
    durations = []
    for i in range(120):
        t0 = time.perf_counter()
        recorder.on_input("cam", i, 0, None, big, None, None, color_format="RGBA8")
        recorder.on_output("cam", i, big, False, color_format="RGBA8")
        durations.append(time.perf_counter() - t0)
    # 120 frames of 1280x720 take the writer far longer than the calls took
    assert float(np.median(durations)) < 0.002
    info = recorder.stop()
    assert recorder.failed is None and info.input_frames == 120 and info.output_frames == 120


def test_hooks_from_many_threads_at_once(tmp_path, scene_frames):
    """Like the server: inputs on one thread, outputs on stage threads, controls and poses from elsewhere."""
    import threading

    recorder = TakeRecorder(tmp_path, "threads", fps_hint=30.0)
    recorder.start({"a": PIPELINES["cam"], "b": PIPELINES["cam"]})
    rgb = [f.to_rgb() for f in scene_frames]

    def inputs() -> None:
        for i in range(60):
            for key in ("a", "b"):
                recorder.on_input(key, i, i, None, rgb[i % 40], None, None)
            time.sleep(0.002)

    def outputs(key: str) -> None:
        for i in range(60):
            recorder.on_output(key, i, rgb[(i + 1) % 40], False)
            time.sleep(0.002)

    def events() -> None:
        for i in range(60):
            recorder.on_control("a", "film_look", {"fade": i / 60}, None, i)
            recorder.on_mocap("p", *pose_to_wire(t_pose("p", timestamp_ns=i)))

    threads = [threading.Thread(target=f, args=a) for f, a in ((inputs, ()), (outputs, ("a",)), (outputs, ("b",)),
                                                               (events, ()))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    info = recorder.stop()
    assert recorder.failed is None
    assert {k: (s.input_frames, s.output_frames) for k, s in info.streams.items()} == {"a": (60, 60), "b": (60, 60)}
    reader = TakeReader(info.path)
    for key in ("a", "b"):
        assert [f.index for f in reader.input_frames(key, planes=False)] == list(range(60))
        assert [o.index for o in reader.output_frames(key)] == list(range(60))
    assert [c.params["fade"] for c in reader.controls("a")] == [i / 60 for i in range(60)]
    assert [m.pose().timestamp_ns for m in reader.mocap("p")] == list(range(60))


def test_padded_row_strides_as_received_from_the_wire(tmp_path, clock, scene_frames):
    """Planes arrive as views with padded rows (protocol stride > width); they are recorded as pictures."""
    frame = scene_frames[0]
    h, w = frame.depth_m.shape
    padded = np.zeros((h, w + 5, 4), np.uint8)
    padded[:, :w] = frame.to_bgra()
    depth = np.zeros((h, w + 7), np.float32)
    depth[:, :w] = frame.depth_m
    mask = np.zeros((h, w + 9), np.uint8)
    mask[:, :w] = frame.actor_mask
    recorder = TakeRecorder(tmp_path, "strided", clock_ns=clock)
    recorder.start({})
    recorder.on_input("cam", 0, 0, None, padded[:, :w], depth[:, :w], mask[:, :w], color_format="BGRA8")
    recorder.on_output("cam", 0, padded[:, :w], False, color_format="BGRA8")
    got = next(TakeReader(recorder.stop().path).input_frames())
    assert np.array_equal(got.color_rgb, frame.to_rgb())
    assert np.array_equal(got.depth_m, frame.depth_m.astype(np.float16))
    assert np.array_equal(got.mask, frame.actor_mask)


def test_float16_depth_conversion_matches_numpy_rounding():
    from bridge.takes.segments import to_float16

    rng = np.random.default_rng(0)
    values = np.concatenate([rng.uniform(0.1, 100.0, 5000), rng.uniform(0, 1e-3, 1000),
                             [0.0, 65504.0, 65520.0, 1e6, np.inf, -np.inf, 2.0**-24, 2.0**-25]]).astype(np.float32)
    plane = values[: 6000].reshape(60, 100)
    assert np.array_equal(to_float16(plane), plane.astype(np.float16))
    special = values[6000:].reshape(1, -1)
    with np.errstate(over="ignore"):  # 65520 and 1e6 overflow to inf, as they must
        assert np.array_equal(to_float16(special), special.astype(np.float16))
    strided = np.zeros((60, 120), np.float32)
    strided[:, :100] = plane
    assert np.array_equal(to_float16(strided[:, :100]), plane.astype(np.float16))


def test_request_stop_returns_at_once_and_wait_gives_the_finished_take(tmp_path, scene_frames):
    recorder = TakeRecorder(tmp_path, "async-stop", max_queued_bytes=4096 * 1024 * 1024)
    recorder.start({})
    big = cv2.resize(scene_frames[0].color_rgba, (1280, 720))
    for i in range(60):  # a backlog of 1280x720 frames the writer needs a while for
        recorder.on_input("cam", i, 0, None, big, None, None, color_format="RGBA8")
    t0 = time.perf_counter()
    recorder.request_stop()
    assert time.perf_counter() - t0 < 0.5  # the writers still have seconds of frames to write
    assert not recorder.recording
    recorder.on_input("cam", 60, 0, None, big, None, None, color_format="RGBA8")  # ignored: stopping
    info = recorder.wait(timeout_s=120)
    assert info is not None and info.status == "complete" and info.input_frames == 60
    assert recorder.stop() is info  # stop after request_stop just returns the result
