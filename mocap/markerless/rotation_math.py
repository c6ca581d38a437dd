"""Single-quaternion and 3-vector helpers on plain floats, for the per-frame solvers.

`mocap.quaternion` is vectorised numpy and is the reference; for one quaternion at a time its
array overhead dominates (a few microseconds per call, dozens of calls per bone). These helpers
compute the same formulas on Python floats (same conventions: x, y, z, w; ``mul(a, b)`` applies
``b`` first) and return numpy arrays; the unit tests check them against `mocap.quaternion`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Vector = Sequence[float] | np.ndarray


def _floats(v: Vector) -> list[float]:
    return v.tolist() if isinstance(v, np.ndarray) else [float(c) for c in v]


def mul(a: Vector, b: Vector) -> np.ndarray:
    """Hamilton product ``a * b``."""
    ax, ay, az, aw = _floats(a)
    bx, by, bz, bw = _floats(b)
    return np.array(
        [
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz,
        ]
    )


def conj(q: Vector) -> np.ndarray:
    x, y, z, w = _floats(q)
    return np.array([-x, -y, -z, w])


def normalise(q: Vector) -> np.ndarray:
    x, y, z, w = _floats(q)
    n = math.sqrt(x * x + y * y + z * z + w * w)
    if not n > 1e-12 or not math.isfinite(n):
        raise ValueError(f"cannot normalise quaternion with norm {n}")
    return np.array([x / n, y / n, z / n, w / n])


def cross(a: Vector, b: Vector) -> np.ndarray:
    ax, ay, az = _floats(a)
    bx, by, bz = _floats(b)
    return np.array([ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx])


def rotate(q: Vector, v: Vector) -> np.ndarray:
    """Rotate 3-vector ``v`` by unit quaternion ``q``."""
    x, y, z, w = _floats(q)
    vx, vy, vz = _floats(v)
    tx = 2.0 * (y * vz - z * vy)
    ty = 2.0 * (z * vx - x * vz)
    tz = 2.0 * (x * vy - y * vx)
    return np.array(
        [
            vx + w * tx + (y * tz - z * ty),
            vy + w * ty + (z * tx - x * tz),
            vz + w * tz + (x * ty - y * tx),
        ]
    )


def slerp(a: Vector, b: Vector, t: float) -> np.ndarray:
    """Spherical interpolation from ``a`` (t=0) to ``b`` (t=1) along the shorter arc."""
    a = normalise(a)
    b = normalise(b)
    dot = float(a @ b)
    if dot < 0.0:
        b = -b
        dot = -dot
    if dot > 0.9995:
        return normalise(a + t * (b - a))
    theta = math.acos(dot)
    sin_theta = math.sin(theta)
    return (math.sin((1.0 - t) * theta) * a + math.sin(t * theta) * b) / sin_theta


def axis_angle(axis: Vector, angle_rad: float) -> np.ndarray:
    ax, ay, az = _floats(axis)
    n = math.sqrt(ax * ax + ay * ay + az * az)
    if n < 1e-12:
        raise ValueError("rotation axis has zero length")
    s = math.sin(0.5 * angle_rad) / n
    return np.array([ax * s, ay * s, az * s, math.cos(0.5 * angle_rad)])


def norm3(v: Vector) -> float:
    x, y, z = _floats(v)
    return math.sqrt(x * x + y * y + z * z)


def angle_deg(a: Vector, b: Vector) -> float:
    """Angle between two 3-vectors in degrees (0 when either is zero)."""
    na, nb = norm3(a), norm3(b)
    if na < 1e-12 or nb < 1e-12:
        return 0.0
    dot = sum(float(x) * float(y) for x, y in zip(a, b)) / (na * nb)
    return math.degrees(math.acos(min(1.0, max(-1.0, dot))))
