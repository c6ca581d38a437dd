"""Every coordinate-convention conversion of `mocap/`, in one place.

The canonical space is Unity's (see `mocap.skeleton`). Each other convention is described by
a signed permutation matrix ``basis`` that maps a Unity vector to that convention's axes, plus
a length unit. For a character standing in the T-pose and facing forward:

================  ==========  =========================  =======  ==========  =======
convention        handedness  X                          Y        Z           unit
================  ==========  =========================  =======  ==========  =======
Unity (canonical) left        character's right          up       forward     metre
Unreal            left        forward                    right    up          cm
Xsens MVN         right       forward                    left     up          metre
Xsens MVN Y-up    right       character's left           up       forward     metre
BVH               right       character's left           up       forward     file's
glTF              right       character's left           up       forward     metre
================  ==========  =========================  =======  ==========  =======

* Unity -> Unreal: ``(X, Y, Z) = (z, x, y) * 100``; quaternion ``(qz, qx, qy, qw)`` — forward
  maps to forward and right to right, so a character facing +Z in Unity faces +X in Unreal.
  (VMC4UE uses ``(-x, z, y) * 100``, i.e. a character facing +Y; that differs only by a yaw of
  90 degrees, apply it on the actor if an asset expects it.)
* Xsens -> Unity: ``(x, y, z)_unity = (-Y, Z, X)``; Xsens -> Unreal then gives exactly the
  vendor plugin's ``(x, -y, z) * 100`` and quaternion ``(-i, j, -k, re)``.
* Xsens Y-up (type 01): MVN's MotionBuilder-style Y-up frame, the Z-up frame with its axes
  cycled (forward -> Z, left -> X, up -> Y).
* BVH: right-handed, Y up (the format's usual convention, e.g. CMU, Rokoko, MotionBuilder
  exports); the character faces +Z so its left is +X. BVH files carry no unit: the reader and
  writer take ``units_per_m`` (default 100, centimetres; pass 1.0 for metres, 39.37 for inches).

Rotations are conjugated by the basis change: for a signed permutation ``P``, a rotation matrix
``R`` becomes ``P R P^T``, i.e. the quaternion's vector part maps as an axial vector,
``v' = det(P) * P v``, and ``w`` is unchanged. Local rotations relative to the T-pose bind keep
their meaning because every convention's bind pose is the same physical T-pose.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Convention:
    """A coordinate convention: axes as a signed permutation of Unity's, and a length unit."""

    name: str
    basis: tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int, int]]  # unity -> this
    units_per_m: float
    right_handed: bool

    @property
    def matrix(self) -> np.ndarray:
        return _basis_matrix(self.basis)

    @property
    def determinant(self) -> float:
        return _basis_determinant(self.basis)


@functools.lru_cache(maxsize=64)
def _basis_matrix(basis: tuple[tuple[int, int, int], ...]) -> np.ndarray:
    matrix = np.array(basis, dtype=np.float64)
    matrix.setflags(write=False)
    return matrix


@functools.lru_cache(maxsize=64)
def _basis_determinant(basis: tuple[tuple[int, int, int], ...]) -> float:
    return float(round(np.linalg.det(np.array(basis, dtype=np.float64))))


UNITY = Convention("unity", ((1, 0, 0), (0, 1, 0), (0, 0, 1)), 1.0, right_handed=False)
UNREAL = Convention("unreal", ((0, 0, 1), (1, 0, 0), (0, 1, 0)), 100.0, right_handed=False)
XSENS = Convention("xsens", ((0, 0, 1), (-1, 0, 0), (0, 1, 0)), 1.0, right_handed=True)
BVH_CM = Convention("bvh", ((-1, 0, 0), (0, 1, 0), (0, 0, 1)), 100.0, right_handed=True)


GLTF = Convention("gltf", ((-1, 0, 0), (0, 1, 0), (0, 0, 1)), 1.0, right_handed=True)
"""glTF / most right-handed Y-up tools: +Y up, +Z forward (the character's facing), +X left, metres."""


def bvh_convention(units_per_m: float = 100.0) -> Convention:
    """The BVH convention (right-handed, Y up, +X = character's left) in the file's length unit."""
    if not units_per_m > 0.0:
        raise ValueError(f"units_per_m must be positive, got {units_per_m}")
    return Convention("bvh", BVH_CM.basis, float(units_per_m), right_handed=True)


def _check_convention(convention: Convention) -> None:
    det = np.linalg.det(convention.matrix)
    if abs(abs(det) - 1.0) > 1e-9:
        raise ValueError(f"convention {convention.name!r} basis is not a signed permutation")
    if (det < 0) != convention.right_handed:
        raise ValueError(f"convention {convention.name!r}: handedness flag disagrees with its basis")


for _convention in (UNITY, UNREAL, XSENS, BVH_CM, GLTF):
    _check_convention(_convention)


def position_from_unity(position_m: np.ndarray, convention: Convention) -> np.ndarray:
    """Unity position(s) (..., 3) in metres -> ``convention`` axes and units."""
    position = np.asarray(position_m, dtype=np.float64)
    return (position @ convention.matrix.T) * convention.units_per_m


def position_to_unity(position: np.ndarray, convention: Convention) -> np.ndarray:
    """Position(s) (..., 3) in ``convention`` axes and units -> Unity metres."""
    position = np.asarray(position, dtype=np.float64)
    return (position @ convention.matrix) / convention.units_per_m


def rotation_from_unity(rotation: np.ndarray, convention: Convention) -> np.ndarray:
    """Unity quaternion(s) (..., 4) xyzw -> the same physical rotation in ``convention``."""
    rotation = np.asarray(rotation, dtype=np.float64)
    out = np.empty_like(rotation)
    out[..., :3] = (rotation[..., :3] @ convention.matrix.T) * convention.determinant
    out[..., 3] = rotation[..., 3]
    return out


def rotation_to_unity(rotation: np.ndarray, convention: Convention) -> np.ndarray:
    """Quaternion(s) (..., 4) xyzw in ``convention`` -> the same physical rotation in Unity."""
    rotation = np.asarray(rotation, dtype=np.float64)
    out = np.empty_like(rotation)
    out[..., :3] = (rotation[..., :3] @ convention.matrix) * convention.determinant
    out[..., 3] = rotation[..., 3]
    return out


def convert_position(position: np.ndarray, source: Convention, target: Convention) -> np.ndarray:
    """Position(s) from ``source`` to ``target`` convention (through Unity)."""
    return position_from_unity(position_to_unity(position, source), target)


def convert_rotation(rotation: np.ndarray, source: Convention, target: Convention) -> np.ndarray:
    """Quaternion(s) from ``source`` to ``target`` convention (through Unity)."""
    return rotation_from_unity(rotation_to_unity(rotation, source), target)


def xsens_quaternion_to_xyzw(quaternion_wxyz: np.ndarray) -> np.ndarray:
    """Xsens sends quaternions as (re, i, j, k); reorder to the project's (x, y, z, w)."""
    quaternion_wxyz = np.asarray(quaternion_wxyz, dtype=np.float64)
    return np.concatenate([quaternion_wxyz[..., 1:4], quaternion_wxyz[..., 0:1]], axis=-1)


XSENS_YUP = Convention("xsens_yup", ((-1, 0, 0), (0, 1, 0), (0, 0, 1)), 1.0, right_handed=True)
"""MVN's Y-up right-handed output (type 01): X = left, Y = up, Z = forward (metres)."""
_check_convention(XSENS_YUP)
