"""Shared material for the face tests: the two public-domain portraits and tiny contract-exact ONNX models.

Portraits: scikit-image's ``astronaut`` (Eileen Collins, the performer) and
matplotlib's ``grace_hopper.jpg`` (the identity).  The ONNX models are built
here with the ``onnx`` package so that each honours its contract exactly
(names, shapes, layouts, value ranges) while computing something a test can
predict.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import onnx
import pytest
from matplotlib import cbook
from onnx import TensorProto, helper, numpy_helper
from skimage import data

from realtime_models.face.landmarker import PhotoLandmarker

FRAME_W, FRAME_H = 640, 480
OPSET = [helper.make_opsetid("", 17)]


@pytest.fixture(scope="session")
def astronaut_rgb() -> np.ndarray:
    return np.ascontiguousarray(data.astronaut())


@pytest.fixture(scope="session")
def grace_rgb() -> np.ndarray:
    path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def performer_frame(portrait: np.ndarray) -> np.ndarray:
    """A 640x480 frame with the portrait scaled to the frame height, centred on black."""
    frame = np.zeros((FRAME_H, FRAME_W, 3), np.uint8)
    side = FRAME_H
    scaled = cv2.resize(portrait, (side * portrait.shape[1] // portrait.shape[0], side), interpolation=cv2.INTER_AREA)
    x0 = (FRAME_W - scaled.shape[1]) // 2
    frame[:, x0: x0 + scaled.shape[1]] = scaled
    return frame


@pytest.fixture(scope="session")
def astronaut_frame(astronaut_rgb) -> np.ndarray:
    return performer_frame(astronaut_rgb)


@pytest.fixture(scope="session")
def photo_landmarker():
    landmarker = PhotoLandmarker(max_faces=4, refine_landmarks=True)
    yield landmarker
    landmarker.close()


def _save(model: onnx.ModelProto, path: Path) -> Path:
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _float_input(name: str, shape: list) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


@pytest.fixture
def make_arcface(tmp_path) -> Callable[..., Path]:
    """ArcFace-contract recogniser: [1,3,S,S] -> [1,512]; embedding = W . (per-channel mean) + b."""

    def make(size_px: int = 112, name: str = "arcface.onnx", embedding: int = 512) -> Path:
        rng = np.random.default_rng(0)
        w = numpy_helper.from_array(rng.normal(size=(3, embedding)).astype(np.float32), "w")
        b = numpy_helper.from_array(rng.normal(size=(embedding,)).astype(np.float32) * 0.1, "b")
        nodes = [
            helper.make_node("GlobalAveragePool", ["input.1"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["flat"]),
            helper.make_node("MatMul", ["flat", "w"], ["mm"]),
            helper.make_node("Add", ["mm", "b"], ["embedding"]),
        ]
        graph = helper.make_graph(nodes, "tiny_arcface", [_float_input("input.1", [1, 3, size_px, size_px])],
                                  [_float_input("embedding", [1, embedding])], [w, b])
        return _save(helper.make_model(graph, opset_imports=OPSET), tmp_path / name)

    return make


INSWAPPER_GAIN = (1.0, 0.5, 0.0)  # per RGB channel: R kept, G halved, B replaced by the source term
INSWAPPER_SOURCE_TO_BLUE = 0.5  # blue = 0.5 x |source| (1 when the source is normalised)


@pytest.fixture
def make_inswapper(tmp_path) -> Callable[..., Path]:
    """inswapper-contract model: output = target * (1, .5, 0) + (0, 0, .5 * |source|), emap last initializer."""

    def make(name: str = "inswapper.onnx", target_name: str = "target", target_shape: list | None = None,
             with_emap: bool = True, res: int = 128) -> Path:
        target_shape = target_shape or [1, 3, res, res]
        channel_shape = (1, 3, 1, 1) if target_shape[1] == 3 else (1, 1, 1, 3)  # a wrong layout stays a valid graph
        gain = numpy_helper.from_array(np.array(INSWAPPER_GAIN, np.float32).reshape(channel_shape), "gain")
        blue = numpy_helper.from_array(np.array([0, 0, INSWAPPER_SOURCE_TO_BLUE], np.float32).reshape(channel_shape),
                                       "blue")
        shape4 = numpy_helper.from_array(np.array([1, 1, 1, 1], np.int64), "shape4")
        inits = [gain, blue, shape4]
        if with_emap:
            emap = np.random.default_rng(1).normal(size=(512, 512)).astype(np.float32)
            inits.append(numpy_helper.from_array(emap, "emap"))  # the last initializer, as in inswapper_128
        nodes = [
            helper.make_node("Mul", [target_name, "gain"], ["kept"]),
            helper.make_node("ReduceL2", ["source"], ["norm"], axes=[1], keepdims=1),
            helper.make_node("Reshape", ["norm", "shape4"], ["norm4"]),
            helper.make_node("Mul", ["norm4", "blue"], ["tint"]),
            helper.make_node("Add", ["kept", "tint"], ["output"]),
        ]
        out_shape = [1, 3, res, res] if target_shape[1] == 3 else target_shape
        graph = helper.make_graph(
            nodes, "tiny_inswapper",
            [_float_input(target_name, target_shape), _float_input("source", [1, 512])],
            [_float_input("output", out_shape)], inits,
        )
        return _save(helper.make_model(graph, opset_imports=OPSET), tmp_path / name)

    return make


DFM_CELEB_BGR = (0.0, 0.0, 1.0)  # the "trained identity" is pure red


@pytest.fixture
def make_dfm(tmp_path) -> Callable[..., Path]:
    """DFM-contract model: celeb = face * (1 - morph) + red * morph; face mask 1; celeb mask a centred disc."""

    def make(name: str = "tiny.dfm", res: int = 96, layout: str = "NHWC", with_morph: bool = True,
             outputs: int = 3) -> Path:
        nhwc = layout == "NHWC"  # NCHW builds a valid model with the wrong layout
        face_shape = [1, res, res, 3] if nhwc else [1, 3, res, res]
        mask_shape = [1, res, res, 1] if nhwc else [1, 1, res, res]
        yy, xx = np.mgrid[:res, :res]
        disc = (((yy - res / 2 + 0.5) ** 2 + (xx - res / 2 + 0.5) ** 2) < (0.42 * res) ** 2).astype(np.float32)
        inits = [
            numpy_helper.from_array(np.array(DFM_CELEB_BGR, np.float32).reshape((1, 1, 1, 3) if nhwc else (1, 3, 1, 1)),
                                    "celeb_bgr"),
            numpy_helper.from_array(disc.reshape(mask_shape), "disc"),
            numpy_helper.from_array(np.array([1, 1, 1, 1], np.int64), "shape4"),
            numpy_helper.from_array(np.array([1.0], np.float32), "one"),
            numpy_helper.from_array(np.array([0.0], np.float32), "zero"),
        ]
        inputs = [_float_input("in_face:0", face_shape)]
        nodes = []
        if with_morph:
            inputs.append(_float_input("morph_value:0", [1]))
            morph = "morph_value:0"
        else:
            inits.append(numpy_helper.from_array(np.array([0.75], np.float32), "fixed_morph"))
            morph = "fixed_morph"
        nodes += [
            helper.make_node("Reshape", [morph, "shape4"], ["m4"]),
            helper.make_node("Sub", ["one", "m4"], ["keep"]),
            helper.make_node("Mul", ["in_face:0", "keep"], ["kept"]),
            helper.make_node("Mul", ["celeb_bgr", "m4"], ["tint"]),
            helper.make_node("Add", ["kept", "tint"], ["out_celeb_face:0"]),
            helper.make_node("ReduceMean", ["in_face:0"], ["lum"], axes=[3 if nhwc else 1], keepdims=1),
            helper.make_node("Mul", ["lum", "zero"], ["zeros"]),
            helper.make_node("Add", ["zeros", "one"], ["out_face_mask:0"]),
            helper.make_node("Add", ["disc", "zeros"], ["out_celeb_face_mask:0"]),
        ]
        all_outputs = [
            _float_input("out_face_mask:0", mask_shape),
            _float_input("out_celeb_face:0", face_shape),
            _float_input("out_celeb_face_mask:0", mask_shape),
        ][:outputs]
        graph = helper.make_graph(nodes, "tiny_dfm", inputs, all_outputs, inits)
        return _save(helper.make_model(graph, opset_imports=OPSET), tmp_path / name)

    return make


def pytest_configure(config) -> None:
    # mediapipe 0.10.14 calls a protobuf API that protobuf 4.x flags on every graph run
    config.addinivalue_line("filterwarnings", "ignore:SymbolDatabase.GetPrototype:UserWarning")
