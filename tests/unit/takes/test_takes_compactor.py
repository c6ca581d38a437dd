"""Deferred encoding: takes are written raw, then a compactor process re-encodes every segment.

The pictures read back must not change (inputs stay bit-exact, outputs become H.264), a reader opened
before the compaction still reads the take after it, and a compactor killed mid-way leaves a take that
reads whole and that ``compact_take`` (``machinima-bridge takes compact``) finishes.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from bridge.takes import EncodingSettings, TakeReader, TakeRecorder
from bridge.takes.cli import main as takes_main
from bridge.takes.compactor import RAW_DELETE_DELAY_S, compact_segment, compact_take, pending_tables
from bridge.takes.segments import RAW_CODEC

FRAME_NS = 33_333_333


def _record(tmp_path, clock, frames, name="raw", **kw):
    recorder = TakeRecorder(tmp_path, name, clock_ns=clock, fps_hint=30.0, **kw)
    recorder.start({"cam": {"name": "passthrough"}})
    for i, frame in enumerate(frames):
        recorder.on_input("cam", i, 1000 + i, None, frame.color_rgba, frame.depth_m, frame.actor_mask,
                          color_format="RGBA8")
        recorder.on_output("cam", i, frame.to_rgb(), held=False)
        clock.advance(FRAME_NS)
    return recorder, recorder.stop()


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def test_compaction_keeps_inputs_bit_exact_and_outputs_close(tmp_path, clock, scene_frames):
    recorder, info = _record(tmp_path, clock, scene_frames)
    early = TakeReader(info.path)  # opened while the segments may still be raw
    assert recorder.wait_compacted(60)
    compactor = recorder.compactor
    assert compactor is not None and compactor.failed == [] and compactor.done == 6  # 3 input + 3 output segments
    assert compactor.final_bytes < compactor.raw_bytes / 3
    assert compactor.priority in ("SCHED_IDLE", "nice 19")
    assert pending_tables(info.path) == []
    reader = TakeReader(info.path)
    for table in reader.segments("cam", "input"):
        assert table["codec"] == "libx264rgb" and table["video"].endswith(".mkv") and "compact_to" not in table
    inputs = list(reader.input_frames("cam"))
    assert [f.index for f in inputs] == list(range(40))
    for frame, source in zip(inputs, scene_frames):
        np.testing.assert_array_equal(frame.color_rgb, source.to_rgb())
        np.testing.assert_array_equal(frame.mask, source.actor_mask)
    outputs = list(reader.output_frames("cam"))
    assert [f.index for f in outputs] == list(range(40))
    assert min(_psnr(f.color_rgb, s.to_rgb()) for f, s in zip(outputs, scene_frames)) > 30.0
    time.sleep(RAW_DELETE_DELAY_S + 1.0)
    assert not list(info.path.rglob("*.raw.nut"))
    # the reader opened before the compaction read raw tables; their raw files are gone now, yet it still reads
    assert [f.index for f in early.input_frames("cam", planes=False)] == list(range(40))
    assert len(list(early.output_frames("cam"))) == 40


def test_a_killed_compactor_leaves_a_whole_take_that_compact_take_finishes(tmp_path, clock, scene_frames, capsys):
    recorder, info = _record(tmp_path, clock, scene_frames, name="crashed")
    recorder.compactor.terminate()  # the compactor process is killed, perhaps in the middle of a segment
    reader = TakeReader(info.path)
    assert [f.index for f in reader.input_frames("cam")] == list(range(40))  # raw or not: whole
    left = pending_tables(info.path)
    assert takes_main(["takes", "--takes-dir", str(tmp_path), "compact", "crashed"]) == 0
    assert f"{len(left)} raw segments re-encoded" in capsys.readouterr().out
    assert pending_tables(info.path) == []
    assert not list(info.path.rglob("*.raw.nut")) and not list(info.path.rglob("*.part"))
    frames = list(TakeReader(info.path).input_frames("cam"))
    assert all(np.array_equal(f.color_rgb, s.to_rgb()) for f, s in zip(frames, scene_frames)) and len(frames) == 40
    assert compact_take(info.path) == []  # nothing left to do


def test_without_background_compaction_segments_stay_raw_until_compacted(tmp_path, clock, scene_frames):
    recorder, info = _record(tmp_path, clock, scene_frames, name="later", compaction="manual")
    assert recorder.compactor is None and recorder.wait_compacted(0)
    assert len(pending_tables(info.path)) == 6
    assert [f.index for f in TakeReader(info.path).input_frames("cam")] == list(range(40))
    assert len(compact_take(info.path)) == 6 and pending_tables(info.path) == []


def test_a_raw_segment_whose_frames_do_not_match_its_table_stays_raw(tmp_path, clock, scene_frames):
    _, info = _record(tmp_path, clock, scene_frames[:10], name="short", compaction="manual")
    (table_path,) = [p for p in info.path.glob("streams/cam/input/*.json")]
    table = json.loads(table_path.read_text())
    assert table["codec"] == RAW_CODEC
    table["records"].append(dict(table["records"][-1], index=99))  # one frame more than the file holds
    table_path.write_text(json.dumps(table))
    with pytest.raises(Exception, match="holds 10 frames, its table lists 11"):
        compact_segment(table_path)
    assert json.loads(table_path.read_text())["codec"] == RAW_CODEC  # untouched
    assert not list(table_path.parent.glob("*.part"))


def test_large_streams_are_encoded_live_not_deferred():
    settings = EncodingSettings()
    assert settings.defers(640, 360, 30)  # ~40 MiB/s raw: deferred
    assert not settings.defers(3840, 2160, 60)  # ~2.8 GiB/s raw: too much for any disk, encoded live
    assert not EncodingSettings(deferred=False).defers(64, 64, 30)
