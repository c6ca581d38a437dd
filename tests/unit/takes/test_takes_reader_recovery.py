"""TakeReader on takes left in every state a crash or a full disk can leave them in."""

from __future__ import annotations

import json
import shutil
import time

import numpy as np
import pytest

from bridge.takes import EncodingSettings, TakeFormatError, TakeReader, TakeRecorder, list_takes, resolve_take
from bridge.takes.layout import CONTROLS_FILE, MANIFEST, MOCAP_FILE
from mocap.pose_wire import pose_to_wire
from mocap.skeleton import t_pose

FRAME_NS = 33_333_333


def _take(tmp_path, clock, frames, name="t", **kw):
    recorder = TakeRecorder(tmp_path, name, clock_ns=clock, **kw)
    recorder.start({"cam": {"name": "passthrough"}})
    for i, frame in enumerate(frames):
        recorder.on_input("cam", i, 0, None, frame.to_rgb(), None, None)
        recorder.on_control("cam", "film_look", {"grain": i / 100}, None, i)
        recorder.on_mocap("p1", *pose_to_wire(t_pose("p1", timestamp_ns=i)))
        clock.advance(FRAME_NS)
    return recorder


def test_reading_a_take_while_it_records_does_not_touch_it(tmp_path, clock, scene_frames):
    recorder = _take(tmp_path, clock, scene_frames[:20])
    time_limit = 50
    while recorder.info().streams.get("cam") is None or recorder.info().streams["cam"].input_frames < 16:
        time_limit -= 1
        assert time_limit, "the first segment was never committed"
        time.sleep(0.1)
        clock.advance(FRAME_NS)  # let the idle segment close
    reader = TakeReader(recorder.path)
    assert reader.live and not reader.rebuilt and reader.status == "recording"
    assert len(list(reader.input_frames())) >= 16
    assert json.loads((recorder.path / MANIFEST).read_text())["status"] == "recording"
    recorder.stop()
    assert TakeReader(recorder.path).status == "complete"


def test_a_final_manifest_that_could_not_be_written_is_rebuilt_with_the_real_status(tmp_path, clock, scene_frames):
    recorder = _take(tmp_path, clock, scene_frames[:20])
    at_start = (recorder.path / MANIFEST).read_bytes()
    recorder.stop()
    (recorder.path / MANIFEST).write_bytes(at_start)  # as if the disk had been full when it stopped
    reader = TakeReader(recorder.path)
    assert reader.rebuilt and reader.status == "complete"
    assert reader.manifest["streams"]["cam"]["input"]["count"] == 20
    assert reader.manifest["controls"]["count"] == 20 and reader.manifest["mocap"]["performers"] == {"p1": 20}
    assert json.loads((recorder.path / MANIFEST).read_text())["status"] == "complete"  # repaired on disk


def test_event_logs_cut_short_by_a_crash_lose_only_the_cut_record(tmp_path, clock, scene_frames):
    recorder = _take(tmp_path, clock, scene_frames[:10])
    recorder.stop()
    for name in (CONTROLS_FILE, MOCAP_FILE):
        path = recorder.path / name
        path.write_bytes(path.read_bytes()[:-7])  # the last record half written
    reader = TakeReader(recorder.path)
    assert [c.input_index for c in reader.controls()] == list(range(9))
    assert [m.pose().timestamp_ns for m in reader.mocap()] == list(range(9))


def test_a_damaged_segment_table_is_left_out_and_reported(tmp_path, clock, scene_frames):
    recorder = _take(tmp_path, clock, scene_frames[:20], name="damaged")
    info = recorder.stop()
    table = next((info.path / "streams" / "cam" / "input").glob("000001.json"))
    table.write_text("{not json")
    (info.path / MANIFEST).write_text((info.path / MANIFEST).read_text().replace('"complete"', '"recording"'))
    reader = TakeReader(info.path)
    assert reader.status == "complete"  # the status file says it finished
    assert reader.unreadable == ["streams/cam/input/000001.json"]
    assert [f.index for f in reader.input_frames()] == list(range(16))
    assert reader.manifest["recovery"]["unreadable_segments_left_out"] == ["streams/cam/input/000001.json"]


def test_list_resolve_and_not_a_take(tmp_path, clock, scene_frames):
    for name in ("a", "b"):
        _take(tmp_path, clock, scene_frames[:2], name=name).stop()
    (tmp_path / "junk").mkdir()
    assert sorted(info.name for info in list_takes(tmp_path)) == ["a", "b"]
    assert resolve_take("a", tmp_path) == tmp_path / "a"
    assert resolve_take(tmp_path / "b") == tmp_path / "b"
    with pytest.raises(FileNotFoundError, match="no take 'zzz'"):
        resolve_take("zzz", tmp_path)
    with pytest.raises(TakeFormatError, match="is not a take"):
        TakeReader(tmp_path / "junk")
    shutil.copytree(tmp_path / "a", tmp_path / "v2")
    manifest = json.loads((tmp_path / "v2" / MANIFEST).read_text())
    (tmp_path / "v2" / MANIFEST).write_text(json.dumps({**manifest, "version": 2}))
    with pytest.raises(TakeFormatError, match="version 2 is not supported"):
        TakeReader(tmp_path / "v2")


def test_fast_lossless_inputs_are_exact_too(tmp_path, clock, scene_frames):
    recorder = TakeRecorder(tmp_path, "huff", clock_ns=clock, encoding=EncodingSettings.fast_lossless())
    recorder.start({})
    for i, frame in enumerate(scene_frames[:5]):
        recorder.on_input("cam", i, 0, None, frame.color_rgba, None, None, color_format="RGBA8")
    info = recorder.stop()
    assert [p.suffix for p in (info.path / "streams" / "cam" / "input").glob("*.nut")] == [".nut"]
    frames = list(TakeReader(info.path).input_frames())
    assert all(np.array_equal(f.color_rgb, s.to_rgb()) for f, s in zip(frames, scene_frames))
    with pytest.raises(ValueError, match="depth_storage"):
        EncodingSettings(depth_storage="half")


def test_take_names_must_match_the_rule_to_the_last_character():
    from bridge.takes.layout import check_take_name, stream_dir_name

    assert check_take_name("scene-4.take_2") == "scene-4.take_2"
    for bad in ("evil\n", "a/b", "-lead", "", "x" * 129, ".hidden", "café"):
        with pytest.raises(ValueError, match="take name"):
            check_take_name(bad)
    assert stream_dir_name("main\n") != "main\n" and "\n" not in stream_dir_name("main\n")
