"""The archive-footage look: every effect changes the picture the way it should, and repeatably."""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
import pytest
import skimage.data

from realtime_models.film_look import (
    FilmLook,
    FilmLookSettings,
    block_edge_energy,
    h264_crf_for_quality,
    mpeg_qscale_for_quality,
)


@lru_cache(maxsize=None)
def photo(width_px: int = 256, height_px: int = 256) -> np.ndarray:
    image = cv2.resize(skimage.data.astronaut(), (width_px, height_px), interpolation=cv2.INTER_AREA)
    image.setflags(write=False)  # FilmLook must never write into its input
    return image


def grey(value: int = 128, width_px: int = 160, height_px: int = 120) -> np.ndarray:
    return np.full((height_px, width_px, 3), value, dtype=np.uint8)


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def moving_frames(count: int, step_px: int = 8) -> list[np.ndarray]:
    return [np.roll(photo(), i * step_px, axis=1) for i in range(count)]


# -- settings ------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value",
    [
        ("codec", "vp9"),
        ("quality", 0),
        ("quality", 101),
        ("quality", 50.5),
        ("chroma_bleed_px", -1.0),
        ("grain", 1.5),
        ("fade", -0.1),
        ("weave_px", 100.0),
        ("vignette", float("nan")),
        ("interlace", "yes"),
        ("seed", -3),
    ],
)
def test_validate_names_the_field_and_range(field, value):
    settings = FilmLookSettings(**{field: value})
    with pytest.raises(ValueError) as excinfo:
        settings.validate()
    assert f"FilmLookSettings.{field}" in str(excinfo.value)


def test_invalid_update_keeps_the_previous_settings():
    look = FilmLook(FilmLookSettings(grain=0.2))
    with pytest.raises(ValueError, match="fade"):
        look.update(FilmLookSettings(fade=2.0))
    assert look.settings.grain == 0.2 and look.settings.fade == 0.0


def test_defaults_leave_the_frame_untouched_in_a_new_array():
    out = FilmLook().apply(photo())
    assert out is not photo() and np.array_equal(out, photo())


def test_apply_rejects_non_rgb_frames():
    with pytest.raises(ValueError, match="uint8 HxWx3"):
        FilmLook().apply(photo().astype(np.float32))


def test_quality_maps_to_codec_parameters_monotonically():
    assert mpeg_qscale_for_quality(100) == 2 and mpeg_qscale_for_quality(1) == 31
    assert h264_crf_for_quality(100) == 18 and h264_crf_for_quality(1) == 51
    assert mpeg_qscale_for_quality(30) > mpeg_qscale_for_quality(70)


# -- real lossy codecs ----------------------------------------------------------------


def test_low_jpeg_quality_gives_block_edges():
    low = FilmLook(FilmLookSettings(codec="jpeg", quality=5)).apply(photo())
    high = FilmLook(FilmLookSettings(codec="jpeg", quality=95)).apply(photo())
    assert block_edge_energy(photo()) < 1.2  # a clean photo has no 8x8 grid
    assert block_edge_energy(low) > 1.8 * block_edge_energy(high)
    assert mean_abs_diff(low, photo()) > 3 * mean_abs_diff(high, photo())


@pytest.mark.parametrize("codec", ["mpeg2", "mpeg4", "h264"])
def test_video_codec_degrades_every_frame_without_lag(codec):
    look = FilmLook(FilmLookSettings(codec=codec, quality=1))
    frames = moving_frames(14)  # past the 12-frame GOP: P-frames and a second I-frame
    previous = None
    for frame in frames:
        out = look.apply(frame)
        assert out.shape == frame.shape and out.dtype == np.uint8
        assert mean_abs_diff(out, frame) > 5  # really degraded
        if previous is not None:
            # the picture that comes out is this frame's, not the one before it
            assert mean_abs_diff(out, frame) < 0.5 * mean_abs_diff(out, previous)
        previous = frame
    look.close()


def test_mpeg2_high_quality_is_much_closer_than_low_quality():
    errors = {}
    for quality in (1, 95):
        look = FilmLook(FilmLookSettings(codec="mpeg2", quality=quality))
        errors[quality] = np.mean([mean_abs_diff(look.apply(f), f) for f in moving_frames(6)])
    assert errors[1] > 2 * errors[95]


def test_mpeg2_handles_odd_sizes_and_size_changes():
    look = FilmLook(FilmLookSettings(codec="mpeg2", quality=20))
    for width_px, height_px in [(129, 97), (129, 97), (160, 90), (33, 17)]:
        frame = cv2.resize(photo(), (width_px, height_px))
        assert look.apply(frame).shape == (height_px, width_px, 3)


def test_codec_round_trip_is_deterministic():
    settings = FilmLookSettings(codec="mpeg2", quality=10, grain=0.3, weave_px=2.0, seed=7)
    first, second = FilmLook(settings), FilmLook(settings)
    for frame in moving_frames(4):
        assert np.array_equal(first.apply(frame), second.apply(frame))


# -- film effects ----------------------------------------------------------------------


def test_grain_adds_noise_around_the_same_mean_and_is_seeded():
    flat = grey()
    outs = [FilmLook(FilmLookSettings(grain=g, seed=3)).apply(flat) for g in (0.2, 0.8)]
    weak, strong = (o.astype(np.float32) for o in outs)
    assert 2.0 < weak.std() < strong.std()
    assert abs(strong.mean() - 128) < 2.0
    # monochrome grain: the three channels move together
    assert np.array_equal(outs[1][..., 0], outs[1][..., 2])
    same_seed = FilmLook(FilmLookSettings(grain=0.8, seed=3))
    other_seed = FilmLook(FilmLookSettings(grain=0.8, seed=4))
    assert np.array_equal(same_seed.apply(flat), outs[1])
    assert not np.array_equal(other_seed.apply(flat), outs[1])


def test_grain_changes_from_frame_to_frame():
    look = FilmLook(FilmLookSettings(grain=0.5, seed=1))
    first, second = look.apply(grey()), look.apply(grey())
    assert mean_abs_diff(first, second) > 3


def test_fade_lifts_blacks_desaturates_and_warms():
    rgb = photo()
    faded = FilmLook(FilmLookSettings(fade=1.0)).apply(rgb)
    black_in = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) < 20
    assert black_in.mean() > 0.02  # the photo has real blacks to lift
    assert faded[black_in].mean() > rgb[black_in].mean() + 25
    # desaturated: the colours spread far less around their (now warm) average
    chroma_spread = lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2YCrCb)[..., 1:].reshape(-1, 2).std(axis=0)  # noqa: E731
    assert (chroma_spread(faded) < 0.5 * chroma_spread(rgb)).all()
    # a neutral grey turns warm: red above blue
    tinted = FilmLook(FilmLookSettings(fade=1.0)).apply(grey(128)).astype(np.int16)
    assert (tinted[..., 0] - tinted[..., 2]).min() > 15
    half = FilmLook(FilmLookSettings(fade=0.5)).apply(rgb)
    assert faded[black_in].mean() > half[black_in].mean() > rgb[black_in].mean()


def test_vignette_darkens_corners_not_the_centre():
    flat = grey(200)
    out = FilmLook(FilmLookSettings(vignette=1.0)).apply(flat).astype(np.float32)
    height_px, width_px = flat.shape[:2]
    centre = out[height_px // 2 - 2 : height_px // 2 + 2, width_px // 2 - 2 : width_px // 2 + 2].mean()
    corner = out[:4, :4].mean()
    assert centre > 196
    assert corner < 0.4 * 200
    mild = FilmLook(FilmLookSettings(vignette=0.3)).apply(flat).astype(np.float32)
    assert corner < mild[:4, :4].mean() < centre


def test_weave_translates_within_its_range_and_is_seeded():
    rgb = photo()
    weave_px = 4.0
    look = FilmLook(FilmLookSettings(weave_px=weave_px, seed=11))
    shifts = []
    outs = []
    for _ in range(8):
        out = look.apply(rgb)
        outs.append(out)
        gray_in = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
        gray_out = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY).astype(np.float32)
        (dx, dy), _ = cv2.phaseCorrelate(gray_in, gray_out)
        shifts.append((dx, dy))
    shifts = np.array(shifts)
    assert np.abs(shifts).max() <= weave_px + 0.5
    assert np.hypot(shifts[:, 0], shifts[:, 1]).max() > 0.5  # it does move
    assert len({(round(x, 1), round(y, 1)) for x, y in shifts}) > 4  # and keeps moving
    again = FilmLook(FilmLookSettings(weave_px=weave_px, seed=11))
    assert all(np.array_equal(again.apply(rgb), out) for out in outs)


def test_interlace_combs_odd_lines_from_the_previous_frame():
    first, second = moving_frames(2, step_px=16)
    look = FilmLook(FilmLookSettings(interlace=True))
    assert np.array_equal(look.apply(first), first)  # nothing to comb with yet
    combed = look.apply(second)
    assert np.array_equal(combed[0::2], second[0::2])
    assert np.array_equal(combed[1::2], first[1::2])


def test_chroma_bleed_smears_colour_to_the_right_only():
    frame = grey(128, 120, 40)
    frame[:, :60] = (200, 40, 40)  # red on the left, grey on the right
    out = FilmLook(FilmLookSettings(chroma_bleed_px=10)).apply(frame)
    cr = lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2YCrCb)[..., 1].astype(np.int16)  # noqa: E731
    grey_cr = cr(frame)[0, 100]
    # right of the edge the red's chroma trails into the grey ...
    assert cr(out)[20, 62] > grey_cr + 20
    # ... but well past the smear and left of the edge nothing moved
    assert abs(int(cr(out)[20, 90]) - int(grey_cr)) <= 1
    assert abs(int(cr(out)[20, 40]) - int(cr(frame)[20, 40])) <= 1
    # luminance is untouched (up to YCrCb rounding)
    luma = lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2YCrCb)[..., 0].astype(np.int16)  # noqa: E731
    assert np.abs(luma(out) - luma(frame)).mean() < 3


def test_full_chain_and_update_between_frames():
    look = FilmLook(FilmLookSettings(codec="mpeg2", quality=30, grain=0.3, fade=0.5, vignette=0.5, weave_px=1.5,
                                     interlace=True, chroma_bleed_px=3, seed=2))
    frames = moving_frames(3)
    for frame in frames:
        out = look.apply(frame)
        assert out.shape == frame.shape and mean_abs_diff(out, frame) > 10
    look.update(FilmLookSettings(codec="jpeg", quality=90))
    out = look.apply(frames[0])
    assert mean_abs_diff(out, frames[0]) < 3  # only a gentle JPEG is left
    look.close()
    assert look.apply(frames[0]).shape == frames[0].shape  # usable again after close
