"""Export a take: MP4 per stream with the take's timing and timecode, WAV in sync, BVH per performer."""

from __future__ import annotations

import wave

import av
import numpy as np

from bridge.takes import TakeReader, TakeRecorder, export
from bridge.takes.export import _pose_interval_s, export_audio
from mocap.bvh import bvh_to_poses, read_bvh
from mocap.pose_wire import pose_to_wire
from mocap.skeleton import t_pose

FRAME_NS = 33_333_333
RATE_HZ = 48_000
CHUNK = 1600  # samples per chunk: one 30 fps frame


def _sine_chunk(i: int) -> bytes:
    t = (np.arange(CHUNK) + i * CHUNK) / RATE_HZ
    mono = (np.sin(2 * np.pi * 440.0 * t) * 12000).astype("<i2")
    return np.repeat(mono, 2).tobytes()  # stereo, interleaved


def _arm(i: int) -> np.ndarray:
    angle = 0.6 * np.sin(i / 8)
    return np.array([0.0, 0.0, np.sin(angle / 2), np.cos(angle / 2)])


def _record(tmp_path, clock, frames):
    recorder = TakeRecorder(tmp_path, "scene1", clock_ns=clock, fps_hint=30.0)
    recorder.start({"cam": {"name": "passthrough"}})
    for i, frame in enumerate(frames):
        recorder.on_input("cam", i, 0, None, frame.color_rgba, None, None, color_format="RGBA8")
        recorder.on_output("cam", i, 255 - frame.to_rgb(), False)
        recorder.on_audio("cam", 0, RATE_HZ, 2, _sine_chunk(i))
        for half in range(2):  # mocap at 60 Hz
            pose = t_pose("alice", timestamp_ns=10**18 + (2 * i + half) * FRAME_NS // 2)
            pose.bone_rotations["LeftUpperArm"] = _arm(2 * i + half)
            recorder.on_mocap("alice", *pose_to_wire(pose))
        clock.advance(FRAME_NS)
    return recorder.stop()


def test_export_writes_mp4_wav_and_bvh(tmp_path, clock, scene_frames):
    frames = scene_frames[:30]
    info = _record(tmp_path / "takes", clock, frames)
    result = export(info.path, tmp_path / "export", inputs=True)  # a take path works as well as a reader
    names = sorted(p.name for p in result.files)
    assert names == ["alice.bvh", "cam.input.mp4", "cam.mp4", "cam.wav"]

    with av.open(str(tmp_path / "export" / "cam.mp4")) as container:
        video = container.streams.video[0]
        assert video.metadata.get("timecode") == info.start_timecode
        pictures = [(f.time, f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]
    assert len(pictures) == 30
    times = [t for t, _ in pictures]
    assert np.allclose(np.diff(times), FRAME_NS / 1e9, atol=2e-4)  # each picture at its take-clock time
    # the output (an inverted picture here) is what was exported, frame by frame in order
    expected = [255 - f.to_rgb().astype(int) for f in frames]
    for i in (0, 15, 29):
        diffs = [np.abs(pictures[i][1].astype(int) - e).mean() for e in expected]
        assert int(np.argmin(diffs)) == i and diffs[i] < 6  # two H.264 generations at 160x96: small loss
    with av.open(str(tmp_path / "export" / "cam.input.mp4")) as container:
        first_input = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert np.abs(first_input.astype(int) - frames[0].to_rgb()).mean() < 6

    with wave.open(str(tmp_path / "export" / "cam.wav")) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (RATE_HZ, 2, 2)
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
    assert np.array_equal(pcm, np.frombuffer(b"".join(_sine_chunk(i) for i in range(30)), "<i2"))

    bvh = read_bvh(tmp_path / "export" / "alice.bvh")
    assert abs(bvh.frame_time_s - 1 / 60) < 1e-6
    poses = bvh_to_poses(bvh, "alice")
    assert 55 <= len(poses) <= 60
    for k in (0, 20, 40):
        got = poses[k].bone_rotations["LeftUpperArm"]
        want = _arm(k)
        assert min(np.abs(got - want).max(), np.abs(got + want).max()) < 1e-3


def test_audio_is_placed_on_the_take_clock_with_silence_for_a_gap(tmp_path, clock, scene_frames):
    recorder = TakeRecorder(tmp_path, "gappy", clock_ns=clock)
    recorder.start({})
    recorder.on_input("cam", 0, 0, None, scene_frames[0].to_rgb(), None, None)
    clock.advance(100_000_000)  # audio starts 100 ms after the first picture
    recorder.on_audio("cam", 0, RATE_HZ, 2, _sine_chunk(0))
    clock.advance(500_000_000)  # then half a second of nothing
    recorder.on_audio("cam", 0, RATE_HZ, 2, _sine_chunk(1))
    reader = TakeReader(recorder.stop().path)
    samples = export_audio(reader, "cam", tmp_path / "a.wav", t0_ns=0)
    with wave.open(str(tmp_path / "a.wav")) as wav:
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").reshape(-1, 2)
    assert samples == len(pcm) == int(0.6 * RATE_HZ) + CHUNK
    assert not pcm[: int(0.1 * RATE_HZ)].any()  # silence before the first chunk
    assert pcm[int(0.1 * RATE_HZ) : int(0.1 * RATE_HZ) + CHUNK].any()
    assert not pcm[int(0.1 * RATE_HZ) + CHUNK : int(0.6 * RATE_HZ)].any()  # the gap stays silent


def test_pose_interval_snaps_to_common_rates():
    assert abs(_pose_interval_s(np.arange(20) * 16_666_667) - 1 / 60) < 1e-9
    assert abs(_pose_interval_s(np.arange(20) * 8_400_000) - 1 / 120) < 1e-9
    assert _pose_interval_s([5]) == 1 / 60
