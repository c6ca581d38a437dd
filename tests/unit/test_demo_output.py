from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from bridge.demo_output import (
    CONTACT_SHEET_NAME,
    VIDEO_NAME,
    RecorderError,
    SideBySideRecorder,
    contact_sheet_size_px,
)


def _pair(i: int, in_size: tuple[int, int] = (320, 180), out_size: tuple[int, int] = (240, 134)) -> tuple[np.ndarray, np.ndarray]:
    """Input: a red bar moving right on grey; output: a blue frame whose brightness encodes ``i``."""
    w, h = in_size
    inp = np.full((h, w, 3), 90, np.uint8)
    x = (i * 7) % (w - 20)
    inp[h // 2 :, x : x + 20] = (230, 30, 30)
    ow, oh = out_size
    out = np.zeros((oh, ow, 3), np.uint8)
    out[..., 2] = 40 + (i * 5) % 200
    return inp, out


def _decode_all(path: Path) -> tuple[list[np.ndarray], av.video.stream.VideoStream, str]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        return frames, stream, stream.codec_context.name


def test_writes_decodable_mp4_and_contact_sheet(tmp_path: Path) -> None:
    rec = SideBySideRecorder(tmp_path / "out", fps=24.0, max_frames=100)
    for i in range(30):
        assert rec.add(*_pair(i)) is True
    assert rec.frame_count == 30 and rec.stored_bytes > 0
    art = rec.finish()

    assert art.video_path == tmp_path / "out" / VIDEO_NAME and art.video_path.is_file()
    assert art.contact_sheet_path == tmp_path / "out" / CONTACT_SHEET_NAME
    assert art.frame_count == 30 and art.dropped_frames == 0
    # Output (240x134) is scaled to the input height (180): 240 * 180 / 134 = 322 -> 322, input 320.
    assert art.video_size_px == (320 + 322, 180)
    frames, stream, codec_name = _decode_all(art.video_path)
    assert len(frames) == 30
    assert (stream.width, stream.height) == art.video_size_px
    assert stream.average_rate == Fraction(24, 1)
    assert codec_name == ("h264" if art.codec == "libx264" else "mpeg4")
    # Left half is the input, right half the output, in order.
    first, last = frames[0], frames[-1]
    assert first[150, 10, 0] > 180 and first[150, 10, 2] < 80  # red bar of frame 0 at x 0..20
    assert abs(int(first[150, 100, 0]) - 90) < 15  # grey elsewhere
    assert last[150, 29 * 7 + 10, 0] > 180  # the bar moved right by 7 px per frame
    assert abs(int(last[100, 500, 2]) - (40 + 29 * 5 % 200)) < 20
    assert abs(int(first[100, 500, 2]) - 40) < 20
    # Labels are burned into the top-left of each half.
    assert np.abs(first[:20, :60].astype(int) - 90).max() > 100
    # Only the two final files remain (no temporary names left behind).
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted([VIDEO_NAME, CONTACT_SHEET_NAME])

    sheet = cv2.imread(str(art.contact_sheet_path))
    assert sheet is not None
    assert (sheet.shape[1], sheet.shape[0]) == art.contact_sheet_size_px
    assert art.contact_sheet_size_px == contact_sheet_size_px(12, *art.video_size_px)
    assert len(art.contact_sheet_frames) == 12
    assert art.contact_sheet_frames[0] == 0 and art.contact_sheet_frames[-1] == 29


def test_ntsc_rate_and_pts(tmp_path: Path) -> None:
    rec = SideBySideRecorder(tmp_path, fps=30000 / 1001, max_frames=10)
    for i in range(10):
        rec.add(*_pair(i, (64, 36), (64, 36)))
    art = rec.finish()
    with av.open(str(art.video_path)) as container:
        stream = container.streams.video[0]
        assert stream.average_rate == Fraction(30000, 1001)
        times = [float(f.pts * stream.time_base) for f in container.decode(stream)]
    assert len(times) == 10
    assert np.allclose(np.diff(sorted(times)), 1001 / 30000, atol=1e-4)


def test_max_frames_drops_the_rest_and_odd_sizes_become_even(tmp_path: Path) -> None:
    rec = SideBySideRecorder(tmp_path, fps=10, max_frames=5)
    results = [rec.add(*_pair(i, (101, 57), (77, 43))) for i in range(8)]
    assert results == [True] * 5 + [False] * 3
    art = rec.finish()
    assert art.frame_count == 5 and art.dropped_frames == 3
    w, h = art.video_size_px
    assert w % 2 == 0 and h % 2 == 0
    assert len(_decode_all(art.video_path)[0]) == 5
    assert art.contact_sheet_frames == [0, 1, 2, 3, 4]


def test_large_input_is_downscaled_and_rgba_gray_accepted(tmp_path: Path) -> None:
    rec = SideBySideRecorder(tmp_path, fps=30, max_frames=5, max_height_px=120)
    rgba = np.full((720, 1280, 4), 200, np.uint8)
    gray = np.full((360, 640), 50, np.uint8)
    rec.add(rgba, gray)
    art = rec.finish()
    assert art.video_size_px == (2 * 212, 120)


def test_finish_without_frames_is_a_clear_error(tmp_path: Path) -> None:
    rec = SideBySideRecorder(tmp_path / "empty", fps=30)
    with pytest.raises(RecorderError, match="no frames were added"):
        rec.finish()
    assert not (tmp_path / "empty" / VIDEO_NAME).exists()


def test_misuse_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fps"):
        SideBySideRecorder(tmp_path, fps=0)
    with pytest.raises(ValueError, match="max_frames"):
        SideBySideRecorder(tmp_path, fps=30, max_frames=0)
    rec = SideBySideRecorder(tmp_path, fps=30)
    with pytest.raises(ValueError, match="uint8"):
        rec.add(np.zeros((10, 10, 3), np.float32), np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(ValueError, match="shape"):
        rec.add(np.zeros((10, 10, 3), np.uint8), np.zeros((10, 10, 2), np.uint8))
    rec.add(*_pair(0, (32, 18), (32, 18)))
    rec.finish()
    with pytest.raises(RecorderError, match="after finish"):
        rec.add(*_pair(1, (32, 18), (32, 18)))
    with pytest.raises(RecorderError, match="twice"):
        rec.finish()


def test_failed_encode_leaves_no_file_under_final_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rec = SideBySideRecorder(tmp_path, fps=30)
    for i in range(3):
        rec.add(*_pair(i, (32, 18), (32, 18)))

    def boom(path: Path, codec: str, size: tuple[int, int]) -> None:
        path.write_bytes(b"half a file")
        raise KeyboardInterrupt  # a crash mid-encode

    monkeypatch.setattr(rec, "_encode", boom)
    with pytest.raises(KeyboardInterrupt):
        rec.finish()
    assert list(tmp_path.iterdir()) == []
