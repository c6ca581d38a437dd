"""``onnx_oneshot`` and ``dfm`` through the real loaders and the full stage, with tiny contract-exact models.

The models (see conftest.py) compute something predictable: the inswapper
keeps red, halves green and writes 0.5 x |source| into blue (so blue is 50 %
exactly when the source vector is normalised), and the DFM model blends the
face towards pure red by ``morph_value`` inside a disc mask.  A wrong channel
order, layout, value range or a missing normalisation shows up as wrong
colours in the output frame.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bridge.stage import StageFrame, StageSetupError, StreamSpec, rgb_to_format
from bridge.stages.face_swap import FaceSwapStage
from realtime_models.face.alignment import arcface_transform, warp_crop
from realtime_models.face.dfm_swapper import DfmSwapper
from realtime_models.face.identity import Identity, reference_from_photo
from realtime_models.face.mesh_topology import five_points
from realtime_models.face.onnx_oneshot import ArcFaceRecognizer, OneShotSwapper, read_emap
from realtime_models.onnx_runtime_session import ModelFileError

SPEC = StreamSpec("e", 0, "main", 640, 480, "RGBA8", None, False, 30.0)


def _frame(rgb: np.ndarray, index: int = 0) -> StageFrame:
    return StageFrame(index=index, t_capture_ns=index * 33_000_000, t_received_ns=0,
                      input_color=rgb_to_format(rgb, "RGBA8"), input_format="RGBA8")


def _run_stage(stage: FaceSwapStage, rgb: np.ndarray, frames: int = 2) -> StageFrame:
    for i in range(frames):
        frame = _frame(rgb, i)
        stage.process(frame)
    return frame


def _core(stage: FaceSwapStage, shape) -> np.ndarray:
    """Pixels where the swapped face fully replaced the performer's."""
    alpha = np.zeros(shape[:2], np.float32)
    for merged in stage.last_result.merged.values():
        h, w = merged.alpha.shape
        alpha[merged.y0: merged.y0 + h, merged.x0: merged.x0 + w] = merged.alpha
    return alpha > 0.97


def _tiny_arcface_embedding(crop_rgb: np.ndarray, model_path) -> np.ndarray:
    """What the tiny recogniser must return for a correctly prepared crop (numpy, not onnxruntime)."""
    import onnx
    from onnx import numpy_helper

    weights = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(model_path)).graph.initializer}
    blob = (crop_rgb.astype(np.float64) - 127.5) / 127.5  # RGB, HWC
    e = blob.reshape(-1, 3).mean(axis=0) @ weights["w"] + weights["b"]
    return e / np.linalg.norm(e)


def test_arcface_embeddings_follow_the_contract_and_average_over_the_micro_dataset(
        make_arcface, grace_rgb, astronaut_rgb, photo_landmarker):
    path = make_arcface()
    recogniser = ArcFaceRecognizer(path, "cpu")
    refs = [reference_from_photo(p, photo_landmarker.meshes(p)[0], n)
            for n, p in (("grace", grace_rgb), ("astronaut", astronaut_rgb))]
    singles = []
    for ref in refs:
        crop = warp_crop(ref.image, arcface_transform(five_points(ref.landmarks_px), 112), 112)
        got = recogniser.embed_crop(crop)
        assert np.allclose(got, _tiny_arcface_embedding(crop, path), atol=1e-4), "RGB, NCHW, (x-127.5)/127.5"
        singles.append(got)
    averaged = recogniser.identity_embedding(Identity("both", refs))
    expected = np.mean(singles, axis=0)
    assert np.allclose(averaged, expected / np.linalg.norm(expected), atol=1e-5)
    assert np.linalg.norm(averaged) == pytest.approx(1.0, abs=1e-5)


def test_oneshot_source_is_embedding_times_emap_normalised(make_arcface, make_inswapper, grace_rgb, photo_landmarker):
    swap_path = make_inswapper()
    swapper = OneShotSwapper(swap_path, make_arcface(), "cpu")
    identity = Identity("grace", [reference_from_photo(grace_rgb, photo_landmarker.meshes(grace_rgb)[0], "g")])
    latent = swapper.source_vector(identity)
    emap = read_emap(swap_path)
    expected = swapper.recognizer.identity_embedding(identity) @ emap
    assert latent.shape == (1, 512) and latent.dtype == np.float32
    assert np.allclose(latent[0], expected / np.linalg.norm(expected), atol=1e-5)
    assert swapper.source_vector(identity) is latent, "computed once per identity"


def test_oneshot_stage_swaps_through_the_contract(make_arcface, make_inswapper, astronaut_frame):
    stage = FaceSwapStage(params={
        "swapper": "onnx_oneshot", "swap_model_path": str(make_inswapper()),
        "arcface_model_path": str(make_arcface()), "identities": "sample:grace_hopper",
        "color_transfer": "none", "providers": "cpu",
    })
    stage.setup(SPEC)
    try:
        frame = _run_stage(stage, astronaut_frame)
        out = frame.image
        assert out is not None
        core = _core(stage, astronaut_frame.shape)
        assert core.sum() > 2000
        src = astronaut_frame[core].astype(np.float64)
        got = out[core].astype(np.float64)
        assert np.abs(got[:, 0] - src[:, 0]).mean() < 6, "red kept: target is RGB, NCHW, x/255 and back"
        assert np.abs(got[:, 1] - src[:, 1] * 0.5).mean() < 6, "green halved"
        assert np.abs(got[:, 2] - 127.5).mean() < 3, "blue = 0.5 x |source| = 0.5: the source is normalised"
        outside = ~(cv2.dilate(_core(stage, astronaut_frame.shape).astype(np.uint8), np.ones((61, 61))) > 0)
        assert np.array_equal(out[outside], astronaut_frame[outside])
    finally:
        stage.close()


@pytest.mark.parametrize("morph", [0.0, 0.5, 1.0])
def test_dfm_stage_swaps_with_morph_value(make_dfm, astronaut_frame, morph):
    stage = FaceSwapStage(params={"swapper": "dfm", "dfm_model_path": str(make_dfm()), "color_transfer": "none",
                                  "morph_value": morph, "providers": "cpu"})
    stage.setup(SPEC)
    try:
        out = _run_stage(stage, astronaut_frame).image
        core = _core(stage, astronaut_frame.shape)
        assert core.sum() > 2000
        src = astronaut_frame[core].astype(np.float64)
        red = np.array([255.0, 0.0, 0.0])
        expected = src * (1 - morph) + red * morph  # BGR in, BGR out, 0..1: pure red stays red
        assert np.abs(out[core].astype(np.float64) - expected).mean() < 5
    finally:
        stage.close()


def test_dfm_morph_value_changes_live_and_masks_are_used(make_dfm, astronaut_frame):
    stage = FaceSwapStage(params={"swapper": "dfm", "dfm_model_path": str(make_dfm()), "color_transfer": "none",
                                  "morph_value": 1.0, "mask_erode_frac": 0.0, "mask_blur_frac": 0.0})
    stage.setup(SPEC)
    try:
        red_before = _run_stage(stage, astronaut_frame).image[..., 0].astype(int)
        stage.params.update(stage.translate_updates({"morph_value": 0.0}))
        after = _run_stage(stage, astronaut_frame).image
        error = np.abs(after.astype(int) - astronaut_frame)
        assert error.mean() < 0.5 and np.percentile(error, 99.9) < 25, "morph 0: the performer's own face (resampled)"
        swapped = red_before > astronaut_frame[..., 0].astype(int) + 40
        # the model's celeb mask is a disc inside its crop: the crop's corners never change
        assert 1000 < swapped.sum()
        face = stage.last_result.faces[0]
        x0, y0, x1, y1 = face.box_px
        ys, xs = np.nonzero(swapped)
        assert xs.min() >= x0 - 5 and xs.max() <= x1 + 5 and ys.min() >= y0 - 5 and ys.max() <= y1 + 5
    finally:
        stage.close()


def test_dfm_without_morph_input_still_runs(make_dfm, astronaut_frame):
    swapper = DfmSwapper(make_dfm(with_morph=False), "cpu")
    assert not swapper.has_morph and swapper.resolution_px == 96


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda m, a, d: m(target_name="img"), r"no input named 'target'"),
        (lambda m, a, d: m(target_shape=[1, 128, 128, 3]), r"'target' has shape \[1, 128, 128, 3\], expected \[1, 3, 128, 128\]"),
        (lambda m, a, d: m(with_emap=False), r"last initializer 'shape4' has shape \[4\], expected the 512x512 emap"),
        (lambda m, a, d: m(res=100), r"'target' size 100: ArcFace-template crops are a multiple of 112 or 128"),
    ],
)
def test_wrong_swapper_models_are_refused_naming_path_and_mismatch(make_inswapper, make_arcface, make_dfm, build, match):
    path = build(make_inswapper, make_arcface, make_dfm)
    with pytest.raises(ModelFileError, match=match) as info:
        OneShotSwapper(path, make_arcface(), "cpu")
    assert str(path) in str(info.value)


def test_wrong_recogniser_and_dfm_models_are_refused(make_inswapper, make_arcface, make_dfm, tmp_path):
    bad_arcface = make_arcface(size_px=96, name="arcface96.onnx")
    with pytest.raises(ModelFileError, match=r"arcface96.onnx.*input 'input.1' has shape \[1, 3, 96, 96\], expected \[N, 3, 112, 112\]"):
        OneShotSwapper(make_inswapper(), bad_arcface, "cpu")
    with pytest.raises(ModelFileError, match=r"'in_face:0' has shape \[1, 3, 96, 96\], expected \[1, 96, 96, 3\] \(NHWC"):
        DfmSwapper(make_dfm(layout="NCHW", name="nchw.dfm"), "cpu")
    with pytest.raises(ModelFileError, match=r"2 output\(s\), expected 3"):
        DfmSwapper(make_dfm(outputs=2, name="two.dfm"), "cpu")
    with pytest.raises(ModelFileError, match=r"no input named 'in_face:0'"):
        DfmSwapper(make_inswapper(), "cpu")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"this is not a model")
    with pytest.raises(ModelFileError, match=r"garbage.onnx: expected a valid ONNX model file"):
        DfmSwapper(garbage, "cpu")
    with pytest.raises(ModelFileError, match=r"missing.dfm: expected an ONNX model file \(no such file\)"):
        DfmSwapper(tmp_path / "missing.dfm", "cpu")


def test_stage_setup_reports_a_wrong_model_clearly(make_dfm):
    path = make_dfm(layout="NCHW", name="nchw.dfm")
    stage = FaceSwapStage(params={"swapper": "dfm", "dfm_model_path": str(path)})
    with pytest.raises(StageSetupError, match=r"face_swap \(dfm\): .*nchw.dfm.*in_face:0.*NHWC"):
        stage.setup(SPEC)
