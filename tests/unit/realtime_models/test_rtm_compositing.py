"""Masked compositing of a processed frame with the untouched original."""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
import pytest
import skimage.data

from realtime_models.compositing import BLEND_MODES, alpha_from_mask, composite


@lru_cache(maxsize=None)
def frames(width_px: int = 160, height_px: int = 120) -> tuple[np.ndarray, np.ndarray]:
    """(processed, original): a different real photo stands in for the processed frame."""
    original = cv2.resize(skimage.data.astronaut(), (width_px, height_px), interpolation=cv2.INTER_AREA)
    processed = cv2.resize(skimage.data.coffee(), (width_px, height_px), interpolation=cv2.INTER_AREA)
    original.setflags(write=False)
    processed.setflags(write=False)
    return processed, original


def test_all_zero_mask_gives_the_original_and_all_one_the_processed():
    processed, original = frames()
    zeros = np.zeros(original.shape[:2], dtype=np.uint8)
    ones = np.full(original.shape[:2], 255, dtype=np.uint8)
    assert np.array_equal(composite(processed, original, zeros), original)
    assert np.array_equal(composite(processed, original, ones), processed)
    assert np.array_equal(composite(processed, original, ones.astype(np.float32) / 255), processed)
    assert np.array_equal(composite(processed, original, ones.astype(bool)), processed)


def test_invert_swaps_the_roles():
    processed, original = frames()
    person = np.zeros(original.shape[:2], dtype=np.uint8)
    person[30:90, 50:110] = 255
    kept_actor = composite(processed, original, person, invert=True)
    assert np.array_equal(kept_actor[30:90, 50:110], original[30:90, 50:110])  # actor untouched
    assert np.array_equal(kept_actor[:30], processed[:30])  # set stylized
    plain = composite(processed, original, person)
    assert np.array_equal(plain[30:90, 50:110], processed[30:90, 50:110])
    assert np.array_equal(plain[:30], original[:30])


def test_half_mask_and_opacity_blend_linearly():
    processed, original = frames()
    expected = (processed.astype(np.float32) + original.astype(np.float32)) / 2
    half = np.full(original.shape[:2], 0.5, dtype=np.float32)
    assert np.abs(composite(processed, original, half) - expected).max() <= 1.0
    ones = np.ones(original.shape[:2], dtype=np.float32)
    assert np.abs(composite(processed, original, ones, opacity=0.5) - expected).max() <= 1.0
    assert np.array_equal(composite(processed, original, ones, opacity=0.0), original)


@pytest.mark.parametrize("mode", ["multiply", "screen"])
def test_blend_modes_match_their_formulas(mode):
    processed, original = frames()
    p, o = processed.astype(np.float64) / 255, original.astype(np.float64) / 255
    formula = p * o if mode == "multiply" else 1 - (1 - p) * (1 - o)
    ones = np.full(original.shape[:2], 255, dtype=np.uint8)
    out = composite(processed, original, ones, mode=mode)
    assert np.abs(out - formula * 255).max() <= 1.0
    # and they really differ from plain "over"
    assert np.abs(out.astype(np.int16) - processed).mean() > 10
    zeros = np.zeros_like(ones)
    assert np.array_equal(composite(processed, original, zeros, mode=mode), original)


def test_smaller_mask_is_resized_to_the_frame():
    processed, original = frames()
    left_half = np.zeros((30, 40), dtype=np.uint8)  # a quarter-resolution matte
    left_half[:, :20] = 255
    out = composite(processed, original, left_half)
    assert np.array_equal(out[:, :70], processed[:, :70])
    assert np.array_equal(out[:, 90:], original[:, 90:])


def test_feather_softens_the_matte_edge():
    processed, original = frames()
    mask = np.zeros(original.shape[:2], dtype=np.uint8)
    mask[:, :80] = 255
    hard = alpha_from_mask(mask, *mask.shape)
    assert hard[0, 79] == 1.0 and hard[0, 80] == 0.0
    soft = composite(processed, original, mask, feather_px=6.0)
    sharp = composite(processed, original, mask)
    # near the edge the feathered result is a mix, the hard one is not
    column = 77
    assert np.array_equal(sharp[:, column], processed[:, column])
    assert np.abs(soft[:, column].astype(np.int16) - processed[:, column]).mean() > 3
    # far from the edge both agree
    assert np.array_equal(soft[:, :40], processed[:, :40])


def test_hxwx1_mask_is_accepted():
    processed, original = frames()
    mask = np.full((*original.shape[:2], 1), 255, dtype=np.uint8)
    assert np.array_equal(composite(processed, original, mask), processed)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"mode": "overlay"}, "over, multiply, screen"),
        ({"opacity": 1.5}, "opacity"),
        ({"feather_px": -1.0}, "feather_px"),
    ],
)
def test_bad_arguments_are_named(kwargs, fragment):
    processed, original = frames()
    mask = np.zeros(original.shape[:2], dtype=np.uint8)
    with pytest.raises(ValueError, match=fragment):
        composite(processed, original, mask, **kwargs)


def test_bad_shapes_and_masks_are_named():
    processed, original = frames()
    mask = np.zeros(original.shape[:2], dtype=np.uint8)
    with pytest.raises(ValueError, match="same shape"):
        composite(processed[:100], original, mask)
    with pytest.raises(ValueError, match="uint8 HxWx3"):
        composite(processed.astype(np.float32), original, mask)
    with pytest.raises(ValueError, match="HxW or HxWx1"):
        composite(processed, original, np.zeros((*original.shape[:2], 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="0..1"):
        composite(processed, original, mask.astype(np.float32) + 255.0)
    with pytest.raises(ValueError, match="dtype"):
        composite(processed, original, mask.astype(np.int32))


def test_blend_modes_constant():
    assert BLEND_MODES == ("over", "multiply", "screen")
