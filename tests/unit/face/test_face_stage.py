"""The ``face_swap`` stage adapter: parameters, live changes, failures that keep the stream going."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bridge.protocol.errors import ErrorCode
from bridge.stage import StageFrame, StageSetupError, StreamSpec, rgb_to_format
from bridge.stage_params import ParamError
from bridge.stages.face_swap import FaceSwapStage

SPEC = StreamSpec("e", 0, "main", 640, 480, "BGRA8", None, False, 30.0)


def _frame(rgb: np.ndarray, index: int, fmt: str = "BGRA8", mask: np.ndarray | None = None) -> StageFrame:
    return StageFrame(index=index, t_capture_ns=index * 33_333_333, t_received_ns=0,
                      input_color=rgb_to_format(rgb, fmt), input_format=fmt, mask=mask)


@pytest.fixture
def stage():
    s = FaceSwapStage()
    s.setup(SPEC)
    yield s
    s.close()


def test_default_stage_swaps_the_face_and_passes_faceless_frames_through(stage, astronaut_frame):
    frame = _frame(astronaut_frame, 0)
    stage.process(frame)
    assert frame.image is not None and frame.image.shape == astronaut_frame.shape
    changed = np.abs(frame.image.astype(int) - astronaut_frame).sum(axis=2) > 30
    assert 2000 < changed.sum() < 0.1 * changed.size, "the face changed, the rest did not"
    empty = _frame(np.full_like(astronaut_frame, 40), 1)
    stage.process(empty)
    assert empty.image is None, "no face: the engine's frame goes back untouched (and uncopied)"


def test_every_parameter_is_live_except_the_runtime_ones():
    fixed = {s.name for s in FaceSwapStage.PARAMS if not s.live}
    assert fixed == {"providers", "threads"}
    names = {s.name for s in FaceSwapStage.PARAMS}
    for required in ("swapper", "identities", "identity_map", "detect_interval", "smooth_beta", "color_transfer",
                     "mask_erode_frac", "mask_blur_frac", "mouth_mask", "occlusion", "blend", "opacity",
                     "morph_value", "max_faces", "face_order"):
        assert required in names


def test_live_changes_apply_on_the_next_frame(stage, astronaut_frame, grace_rgb):
    first = _frame(astronaut_frame, 0)
    stage.process(first)
    stage.params.update(stage.translate_updates({"opacity": 0.0}))
    faded = _frame(astronaut_frame, 1)
    stage.process(faded)
    assert np.array_equal(faded.image, astronaut_frame)
    stage.params.update(stage.translate_updates({"opacity": 1.0, "identity": "sample:astronaut",
                                                 "color_transfer": "lct", "blend": "seamless", "detect_interval": 2}))
    other = _frame(astronaut_frame, 2)
    stage.process(other)
    assert np.abs(other.image.astype(int) - first.image).mean() > 0.2, "a different identity, a different face"
    assert stage.params.get("identities") == "sample:astronaut"


def test_model_swappers_need_their_model_paths():
    with pytest.raises(ParamError, match="needs swap_model_path and arcface_model_path"):
        FaceSwapStage(params={"swapper": "onnx_oneshot"})
    s = FaceSwapStage()
    with pytest.raises(ParamError, match="needs dfm_model_path") as info:
        s.translate_updates({"swapper": "dfm"})
    assert info.value.code == ErrorCode.BAD_PARAM_VALUE
    with pytest.raises(ParamError, match="model file not found: /nowhere/model.dfm"):
        s.params.update({"dfm_model_path": "/nowhere/model.dfm"})
    with pytest.raises(ParamError, match="identity source not found: /nowhere/face.jpg"):
        s.params.update({"identities": "/nowhere/face.jpg"})
    dfm_stage = FaceSwapStage(params={"swapper": "dfm", "dfm_model_path": __file__})
    with pytest.raises(ParamError, match="needs dfm_model_path"):
        dfm_stage.translate_updates({"dfm_model_path": None})
    with pytest.raises(ParamError, match="fixed when the pipeline starts"):
        s.params.update({"providers": "cpu"})


def test_a_live_change_that_cannot_load_reports_once_and_keeps_swapping(stage, astronaut_frame, tmp_path):
    faceless = tmp_path / "faceless"
    faceless.mkdir()
    cv2.imwrite(str(faceless / "wall.png"), np.full((100, 100, 3), 200, np.uint8))
    stage.params.update(stage.translate_updates({"identities": str(faceless)}))
    with pytest.raises(RuntimeError, match=r"no face found in any photo.*wall.png"):
        stage.process(_frame(astronaut_frame, 0))
    frame = _frame(astronaut_frame, 1)
    stage.process(frame)  # no second error: the previous identity stays in use
    assert frame.image is not None and np.abs(frame.image.astype(int) - astronaut_frame).mean() > 0.5
    broken = tmp_path / "broken.dfm"
    broken.write_bytes(b"\x00not onnx")
    stage.params.update(stage.translate_updates({"swapper": "dfm", "dfm_model_path": str(broken)}))
    with pytest.raises(RuntimeError, match=r"swapper 'dfm' could not load; keeping 'landmark'.*broken.dfm"):
        stage.process(_frame(astronaut_frame, 2))
    frame = _frame(astronaut_frame, 3)
    stage.process(frame)
    assert frame.image is not None


def test_actor_mask_occlusion_needs_a_stream_with_a_mask(astronaut_frame):
    s = FaceSwapStage(params={"occlusion": "actor_mask"})
    with pytest.raises(StageSetupError, match="declared without one"):
        s.setup(SPEC)
    s = FaceSwapStage(params={"occlusion": "actor_mask"})
    s.setup(StreamSpec("e", 0, "main", 640, 480, "RGBA8", None, True, 30.0))
    try:
        mask = np.zeros(astronaut_frame.shape[:2], np.uint8)  # nothing is the actor: nothing may change
        frame = _frame(astronaut_frame, 0, "RGBA8", mask)
        s.process(frame)
        assert frame.image is None or np.array_equal(frame.image, astronaut_frame)
    finally:
        s.close()


def test_unknown_identity_folder_fails_setup_with_its_path(tmp_path):
    empty = tmp_path / "nobody"
    empty.mkdir()
    cv2.imwrite(str(empty / "blank.png"), np.zeros((50, 50, 3), np.uint8))
    s = FaceSwapStage(params={"identities": str(empty)})
    with pytest.raises(StageSetupError, match=r"face_swap \(landmark\): identity .*nobody: no face found"):
        s.setup(SPEC)
