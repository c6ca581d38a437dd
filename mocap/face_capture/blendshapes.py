"""The 52 ARKit blendshapes from a MediaPipe face mesh: measurements, neutral calibration, formulas.

Step 1 — measurements (`measure_face`). Every measurement is taken on the head-local mesh
(`mocap.face_capture.head_pose.to_head_local`: x = performer's right, y = up, z = forward,
unit = the distance between the outer eye corners, "E", about 9 cm), so turning the head or
moving closer to the camera does not change it. ``p[i]`` is mesh point ``i``; ``.x/.y/.z`` its
coordinates; ``|a - b|`` a 3D distance. R/L are the performer's right/left.

========================  ===============================================================
eye_open_R / _L           eye aspect ratio: mean lid gap over the three lid pairs
                          (160-144, 159-145, 158-153 / 385-380, 386-374, 387-373) divided by
                          the eye width (33-133 / 263-362)
lower_lid_R / _L          p[145].y (p[374].y) minus the mean height of the eye's corners
iris_h_R / _L             iris centre (468 / 473) along inner corner -> outer corner, 0..1
iris_v_R / _L             iris centre height over the corners' mean, in eye widths
brow_inner_R / _L         mean height of 107, 66 (336, 296) over the eye corners
brow_outer_R / _L         mean height of 70, 63 (300, 293) over the eye corners
lip_gap                   |p[13] - p[14]| (inner lips)
jaw_drop                  p[2].y - p[152].y (subnasale to chin)
chin_x / chin_z           p[152].x - p[2].x / p[152].z - p[2].z
mouth_width               |p[61] - p[291]| (lip corners)
mouth_half_R / _L         p[61].x - p[2].x / p[2].x - p[291].x
corner_R / _L             p[61].y (p[291].y) minus the mean height of 13 and 14
mouth_shift               mean x of 0, 17, 61, 291 minus p[2].x
upper_lip_thickness       p[0].y - p[13].y; lower_lip_thickness p[14].y - p[17].y
upper_lip_R / _L          p[2].y - p[39].y (p[269].y): subnasale to the upper lip's side
lower_lip_R / _L          p[84].y - p[152].y (p[314].y): lower lip side above the chin
side_thickness_R / _L     (p[39].y - p[181].y) - (p[82].y - p[87].y) (outer minus inner span)
lips_forward              mean z of 0 and 17 minus p[2].z
upper_lip_forward         p[0].z - p[2].z; lower_lip_forward p[17].z - p[2].z
corner_back_R / _L        p[0].z - p[61].z (p[291].z)
cheek_width               |p[205] - p[425]|
cheek_R / _L              p[118].y (p[347].y) over the eye corners
nose_wing_R / _L          p[129].y (p[358].y) over the eye corners
========================  ===============================================================

Step 2 — neutral calibration. `FaceCalibration` holds each measurement's value on the
performer's neutral face (relaxed, mouth closed, eyes open, looking into the camera);
`FaceCalibration.from_neutral_meshes` takes the median over a few frames. The default is that
of a neutral frontal portrait (MediaPipe on matplotlib's public-domain ``grace_hopper.jpg``);
calibrate each performer for accurate values. ``d(m) = m - neutral[m]``.

Step 3 — coefficients (`blendshapes_from_measurements`), each clamped to 0..1, ``c(v) =
min(1, max(0, v))``; the divisors are the change (in E, or relative) that reads as 1.0:

==========================  =========================================================
eyeBlink_R                  c(-d(eye_open_R) / (eye_open_neutral - 0.06))
eyeWide_R                   c(d(eye_open_R) / 0.12)
eyeSquint_R                 c(d(lower_lid_R) / 0.05)
eyeLookOut_R / In_R         c(+-d(iris_h_R) / 0.18)  (out = towards the ear)
eyeLookUp_R / Down_R        c(+-d(iris_v_R) / 0.12)
browInnerUp                 c(mean(d(brow_inner_R), d(brow_inner_L)) / 0.07)
browDown_R                  c(-d(brow_inner_R) / 0.05)
browOuterUp_R               c(d(brow_outer_R) / 0.07)
jawOpen                     c(d(jaw_drop) / 0.35)
mouthClose                  c(jawOpen - d(lip_gap) / 0.30)  (jaw open, lips together)
jawLeft / jawRight          c(-+d(chin_x) / 0.10);   jawForward c(d(chin_z) / 0.10)
mouthSmile_R                c(d(corner_R) / 0.08 + 0.5 * d(mouth_half_R) / 0.10)
mouthFrown_R                c(-d(corner_R) / 0.06)
mouthStretch_R              c(d(mouth_half_R) / 0.10 - mouthSmile_R)
mouthDimple_R               c(d(corner_back_R) / 0.12)
mouthPucker                 c(narrow * (1 - open)) with narrow = c(-d(mouth_width) / (0.30 *
                            neutral width)), open = c(d(lip_gap) / 0.20)
mouthFunnel                 c(sqrt(narrow * open))
mouthLeft / mouthRight      c(-+d(mouth_shift) / 0.08)
mouthRollUpper / Lower      c(-d(upper/lower_lip_thickness) / (0.6 * neutral thickness))
mouthShrugUpper / Lower     c(d(upper/lower_lip_forward) / 0.06 - mouthPucker)
mouthPress_R                c(-d(side_thickness_R) / (0.4 * neutral)) when open < 0.2
mouthLowerDown_R            c(-d(lower_lip_R) / 0.08)
mouthUpperUp_R              c(-d(upper_lip_R) / 0.06)
cheekPuff                   c(d(cheek_width) / 0.08)
cheekSquint_R               c(d(cheek_R) / 0.08)
noseSneer_R                 c(d(nose_wing_R) / 0.10)
tongueOut                   0: the face mesh has no tongue points
==========================  =========================================================

The left-side coefficients use the left-side measurements the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from mocap.face_capture.head_pose import head_pose_from_mesh, to_head_local

ARKIT_BLENDSHAPE_NAMES: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft", "eyeSquintLeft",
    "eyeWideLeft", "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
    "eyeSquintRight", "eyeWideRight", "jawForward", "jawLeft", "jawRight", "jawOpen", "mouthClose", "mouthFunnel",
    "mouthPucker", "mouthLeft", "mouthRight", "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft",
    "mouthFrownRight", "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthPressLeft", "mouthPressRight",
    "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft", "mouthUpperUpRight", "browDownLeft",
    "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight", "cheekPuff", "cheekSquintLeft",
    "cheekSquintRight", "noseSneerLeft", "noseSneerRight", "tongueOut",
)  # fmt: skip
"""The 52 ARKit blendshapes in ARKit order (the same list as `mocap.live_link_face.ARKIT_BLENDSHAPES`)."""

# mesh indices (performer's right, performer's left)
_EYE = {
    "R": {"outer": 33, "inner": 133, "lids": ((160, 144), (159, 145), (158, 153)), "lower": 145, "iris": 468,
          "brow_inner": (107, 66), "brow_outer": (70, 63), "cheek": 118, "nose_wing": 129},
    "L": {"outer": 263, "inner": 362, "lids": ((385, 380), (386, 374), (387, 373)), "lower": 374, "iris": 473,
          "brow_inner": (336, 296), "brow_outer": (300, 293), "cheek": 347, "nose_wing": 358},
}  # fmt: skip
_MOUTH = {
    "R": {"corner": 61, "upper_side": 39, "lower_side": 84, "outer_lower_side": 181, "inner_upper": 82, "inner_lower": 87},
    "L": {"corner": 291, "upper_side": 269, "lower_side": 314, "outer_lower_side": 405, "inner_upper": 312, "inner_lower": 317},
}  # fmt: skip
SUBNASALE, CHIN, UPPER_LIP_OUTER, LOWER_LIP_OUTER, UPPER_LIP_INNER, LOWER_LIP_INNER = 2, 152, 0, 17, 13, 14
CHEEK_R, CHEEK_L = 205, 425

EYE_CLOSED_OPEN_RATIO = 0.06
"""Eye aspect ratio MediaPipe's mesh reports for a closed eye (the lids rarely meet exactly)."""

DEFAULT_NEUTRAL: dict[str, float] = {
    "eye_open_R": 0.28, "eye_open_L": 0.28, "lower_lid_R": -0.03, "lower_lid_L": -0.03,
    "iris_h_R": 0.51, "iris_h_L": 0.51, "iris_v_R": 0.055, "iris_v_L": 0.055,
    "brow_inner_R": 0.21, "brow_inner_L": 0.21, "brow_outer_R": 0.17, "brow_outer_L": 0.17,
    "lip_gap": 0.01, "jaw_drop": 0.68, "chin_x": 0.0, "chin_z": -0.29,
    "mouth_width": 0.59, "mouth_half_R": 0.295, "mouth_half_L": 0.295, "corner_R": 0.0, "corner_L": 0.0,
    "mouth_shift": 0.0, "upper_lip_thickness": 0.055, "lower_lip_thickness": 0.11,
    "upper_lip_R": 0.16, "upper_lip_L": 0.16, "lower_lip_R": 0.35, "lower_lip_L": 0.35,
    "side_thickness_R": 0.14, "side_thickness_L": 0.14, "lips_forward": -0.04, "upper_lip_forward": -0.015,
    "lower_lip_forward": -0.065, "corner_back_R": 0.21, "corner_back_L": 0.21, "cheek_width": 0.89,
    "cheek_R": -0.21, "cheek_L": -0.21, "nose_wing_R": -0.415, "nose_wing_L": -0.415,
}  # fmt: skip
"""Neutral measurements used until a performer is calibrated (see module doc, step 2)."""

MEASUREMENT_NAMES: tuple[str, ...] = tuple(DEFAULT_NEUTRAL)


def _clamp(value: float) -> float:
    if not math.isfinite(value):
        return 0.0
    return min(1.0, max(0.0, value))


def measure_face(mesh_px: np.ndarray) -> dict[str, float]:
    """The measurements of the module doc (step 1) of one (478, 3) MediaPipe face mesh."""
    head = head_pose_from_mesh(mesh_px)
    return measure_head_local(to_head_local(mesh_px, head))


def measure_head_local(p: np.ndarray) -> dict[str, float]:
    """Measurements of a head-local mesh (see `mocap.face_capture.head_pose.to_head_local`)."""
    m: dict[str, float] = {}
    for side, eye in _EYE.items():
        outer, inner = p[eye["outer"]], p[eye["inner"]]
        width = float(np.linalg.norm(outer - inner))
        corner_y = 0.5 * float(outer[1] + inner[1])
        lids = [float(np.linalg.norm(p[a] - p[b])) for a, b in eye["lids"]]
        m[f"eye_open_{side}"] = float(np.mean(lids)) / width
        m[f"lower_lid_{side}"] = float(p[eye["lower"]][1]) - corner_y
        axis = outer - inner
        m[f"iris_h_{side}"] = float((p[eye["iris"]] - inner) @ axis) / float(axis @ axis)
        m[f"iris_v_{side}"] = (float(p[eye["iris"]][1]) - corner_y) / width
        m[f"brow_inner_{side}"] = float(np.mean([p[i][1] for i in eye["brow_inner"]])) - corner_y
        m[f"brow_outer_{side}"] = float(np.mean([p[i][1] for i in eye["brow_outer"]])) - corner_y
        m[f"cheek_{side}"] = float(p[eye["cheek"]][1]) - corner_y
        m[f"nose_wing_{side}"] = float(p[eye["nose_wing"]][1]) - corner_y
    nose = p[SUBNASALE]
    lip_centre_y = 0.5 * float(p[UPPER_LIP_INNER][1] + p[LOWER_LIP_INNER][1])
    m["lip_gap"] = float(np.linalg.norm(p[UPPER_LIP_INNER] - p[LOWER_LIP_INNER]))
    m["jaw_drop"] = float(nose[1] - p[CHIN][1])
    m["chin_x"] = float(p[CHIN][0] - nose[0])
    m["chin_z"] = float(p[CHIN][2] - nose[2])
    m["mouth_width"] = float(np.linalg.norm(p[_MOUTH["R"]["corner"]] - p[_MOUTH["L"]["corner"]]))
    m["mouth_half_R"] = float(p[_MOUTH["R"]["corner"]][0] - nose[0])
    m["mouth_half_L"] = float(nose[0] - p[_MOUTH["L"]["corner"]][0])
    for side, mouth in _MOUTH.items():
        m[f"corner_{side}"] = float(p[mouth["corner"]][1]) - lip_centre_y
        m[f"upper_lip_{side}"] = float(nose[1] - p[mouth["upper_side"]][1])
        m[f"lower_lip_{side}"] = float(p[mouth["lower_side"]][1] - p[CHIN][1])
        outer_span = float(p[mouth["upper_side"]][1] - p[mouth["outer_lower_side"]][1])
        inner_span = float(p[mouth["inner_upper"]][1] - p[mouth["inner_lower"]][1])
        m[f"side_thickness_{side}"] = outer_span - inner_span
        m[f"corner_back_{side}"] = float(p[UPPER_LIP_OUTER][2] - p[mouth["corner"]][2])
    m["mouth_shift"] = float(
        np.mean([p[i][0] for i in (UPPER_LIP_OUTER, LOWER_LIP_OUTER, _MOUTH["R"]["corner"], _MOUTH["L"]["corner"])])
        - nose[0]
    )
    m["upper_lip_thickness"] = float(p[UPPER_LIP_OUTER][1] - p[UPPER_LIP_INNER][1])
    m["lower_lip_thickness"] = float(p[LOWER_LIP_INNER][1] - p[LOWER_LIP_OUTER][1])
    m["upper_lip_forward"] = float(p[UPPER_LIP_OUTER][2] - nose[2])
    m["lower_lip_forward"] = float(p[LOWER_LIP_OUTER][2] - nose[2])
    m["lips_forward"] = 0.5 * (m["upper_lip_forward"] + m["lower_lip_forward"])
    m["cheek_width"] = float(np.linalg.norm(p[CHEEK_R] - p[CHEEK_L]))
    return m


@dataclass
class FaceCalibration:
    """Neutral-face values of every measurement (see module doc, step 2)."""

    neutral: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_NEUTRAL))

    def __post_init__(self) -> None:
        missing = [name for name in MEASUREMENT_NAMES if name not in self.neutral]
        if missing:
            raise ValueError(f"face calibration lacks neutral values for {missing}")
        bad = [name for name, value in self.neutral.items() if not math.isfinite(value)]
        if bad:
            raise ValueError(f"face calibration has non-finite neutral values for {bad}")

    @classmethod
    def from_measurements(cls, measurements: list[dict[str, float]]) -> FaceCalibration:
        """The median of each measurement over frames of a neutral face."""
        if not measurements:
            raise ValueError("calibration needs at least one neutral face frame")
        neutral = {name: float(np.median([m[name] for m in measurements])) for name in MEASUREMENT_NAMES}
        # the neutral lip gap is "closed" by definition: keep any small gap of this performer's rest
        return cls(neutral)

    @classmethod
    def from_neutral_meshes(cls, meshes: list[np.ndarray]) -> FaceCalibration:
        return cls.from_measurements([measure_face(mesh) for mesh in meshes])


def blendshapes_from_measurements(m: dict[str, float], calibration: FaceCalibration | None = None) -> dict[str, float]:
    """All 52 ARKit coefficients (0..1) from measurements (see module doc, step 3)."""
    n = (calibration or FaceCalibration()).neutral

    def d(name: str) -> float:
        return m[name] - n[name]

    out = dict.fromkeys(ARKIT_BLENDSHAPE_NAMES, 0.0)
    for side, word in (("R", "Right"), ("L", "Left")):
        closed_span = max(n[f"eye_open_{side}"] - EYE_CLOSED_OPEN_RATIO, 1e-3)
        out[f"eyeBlink{word}"] = _clamp(-d(f"eye_open_{side}") / closed_span)
        out[f"eyeWide{word}"] = _clamp(d(f"eye_open_{side}") / 0.12)
        out[f"eyeSquint{word}"] = _clamp(d(f"lower_lid_{side}") / 0.05)
        out[f"eyeLookOut{word}"] = _clamp(d(f"iris_h_{side}") / 0.18)
        out[f"eyeLookIn{word}"] = _clamp(-d(f"iris_h_{side}") / 0.18)
        out[f"eyeLookUp{word}"] = _clamp(d(f"iris_v_{side}") / 0.12)
        out[f"eyeLookDown{word}"] = _clamp(-d(f"iris_v_{side}") / 0.12)
        out[f"browDown{word}"] = _clamp(-d(f"brow_inner_{side}") / 0.05)
        out[f"browOuterUp{word}"] = _clamp(d(f"brow_outer_{side}") / 0.07)
        out[f"cheekSquint{word}"] = _clamp(d(f"cheek_{side}") / 0.08)
        out[f"noseSneer{word}"] = _clamp(d(f"nose_wing_{side}") / 0.10)
    out["browInnerUp"] = _clamp(0.5 * (d("brow_inner_R") + d("brow_inner_L")) / 0.07)

    jaw_open = _clamp(d("jaw_drop") / 0.35)
    lips_open = _clamp(d("lip_gap") / 0.20)
    out["jawOpen"] = jaw_open
    out["mouthClose"] = _clamp(jaw_open - d("lip_gap") / 0.30)
    out["jawLeft"] = _clamp(-d("chin_x") / 0.10)
    out["jawRight"] = _clamp(d("chin_x") / 0.10)
    out["jawForward"] = _clamp(d("chin_z") / 0.10)
    narrow = _clamp(-d("mouth_width") / (0.30 * max(n["mouth_width"], 1e-3)))
    out["mouthPucker"] = _clamp(narrow * (1.0 - lips_open))
    out["mouthFunnel"] = _clamp(math.sqrt(narrow * lips_open))
    out["mouthLeft"] = _clamp(-d("mouth_shift") / 0.08)
    out["mouthRight"] = _clamp(d("mouth_shift") / 0.08)
    out["mouthRollUpper"] = _clamp(-d("upper_lip_thickness") / (0.6 * max(n["upper_lip_thickness"], 1e-3)))
    out["mouthRollLower"] = _clamp(-d("lower_lip_thickness") / (0.6 * max(n["lower_lip_thickness"], 1e-3)))
    out["mouthShrugUpper"] = _clamp(d("upper_lip_forward") / 0.06 - out["mouthPucker"])
    out["mouthShrugLower"] = _clamp(d("lower_lip_forward") / 0.06 - out["mouthPucker"])
    out["cheekPuff"] = _clamp(d("cheek_width") / 0.08)
    for side, word in (("R", "Right"), ("L", "Left")):
        smile = _clamp(d(f"corner_{side}") / 0.08 + 0.5 * d(f"mouth_half_{side}") / 0.10)
        out[f"mouthSmile{word}"] = smile
        out[f"mouthFrown{word}"] = _clamp(-d(f"corner_{side}") / 0.06)
        out[f"mouthStretch{word}"] = _clamp(d(f"mouth_half_{side}") / 0.10 - smile)
        out[f"mouthDimple{word}"] = _clamp(d(f"corner_back_{side}") / 0.12)
        press = _clamp(-d(f"side_thickness_{side}") / (0.4 * max(n[f"side_thickness_{side}"], 1e-3)))
        out[f"mouthPress{word}"] = press if lips_open < 0.2 else 0.0
        out[f"mouthLowerDown{word}"] = _clamp(-d(f"lower_lip_{side}") / 0.08)
        out[f"mouthUpperUp{word}"] = _clamp(-d(f"upper_lip_{side}") / 0.06)
    out["tongueOut"] = 0.0
    return out


def blendshapes_from_mesh(mesh_px: np.ndarray, calibration: FaceCalibration | None = None) -> dict[str, float]:
    """Measure a (478, 3) MediaPipe mesh and map it to the 52 ARKit coefficients."""
    return blendshapes_from_measurements(measure_face(mesh_px), calibration)


VRM_VISEMES: tuple[str, ...] = ("aa", "ih", "ou", "ee", "oh")
"""VRM 1.0 mouth presets (VRM 0.x ``A``, ``I``, ``U``, ``E``, ``O``) that VSeeFace-style tools drive."""


def visemes_from_blendshapes(shapes: dict[str, float]) -> dict[str, float]:
    """VRM mouth presets from ARKit coefficients, for outputs that speak VRM (e.g. VMC).

    Each vowel is a mouth shape: ``aa`` wide open jaw; ``oh`` open and rounded (funnel); ``ou``
    rounded and nearly closed (pucker); ``ee`` spread lips (stretch or smile) with a little jaw;
    ``ih`` spread lips with a small opening. With ``jaw = jawOpen``, ``spread`` = the mean of the
    left/right stretch-or-smile, ``round = max(mouthFunnel, mouthPucker)``::

        aa = c(jaw * (1 - round) * (1 - 0.5 * spread))     oh = c(mouthFunnel * (0.3 + jaw))
        ou = c(mouthPucker * (1 - jaw))                    ee = c(spread * min(1, 3 * jaw) * (1 - round))
        ih = c(spread * (1 - min(1, 3 * jaw)) * 0.7 + 0.3 * jaw * (1 - round) * spread)
    """
    jaw = shapes.get("jawOpen", 0.0)
    spread = 0.5 * sum(
        max(shapes.get(f"mouthStretch{side}", 0.0), shapes.get(f"mouthSmile{side}", 0.0)) for side in ("Left", "Right")
    )
    rounded = max(shapes.get("mouthFunnel", 0.0), shapes.get("mouthPucker", 0.0))
    some_jaw = min(1.0, 3.0 * jaw)
    return {
        "aa": _clamp(jaw * (1.0 - rounded) * (1.0 - 0.5 * spread)),
        "ih": _clamp(spread * (1.0 - some_jaw) * 0.7 + 0.3 * jaw * (1.0 - rounded) * spread),
        "ou": _clamp(shapes.get("mouthPucker", 0.0) * (1.0 - jaw)),
        "ee": _clamp(spread * some_jaw * (1.0 - rounded)),
        "oh": _clamp(shapes.get("mouthFunnel", 0.0) * (0.3 + jaw)),
    }
