"""Quaternion helpers for the mocap skeleton.

Convention everywhere in `mocap/`: a quaternion is a numpy array ``(..., 4)`` ordered
``x, y, z, w`` (Unity's and VMC's order). Products are Hamilton products; ``multiply(a, b)``
is the rotation that applies ``b`` first, then ``a`` (the same as matrix ``A @ B``).

The algebra does not depend on handedness: a rotation matrix built from a quaternion acts on
coordinate vectors in whatever basis the quaternion was expressed in. Handedness only matters
when a quaternion moves between conventions, which is `mocap.coordinates`'s job.

Euler angles take an explicit ``order`` string such as ``"ZXY"``: the rotation matrix is the
product of the elementary rotations in the listed order, ``R = Rz @ Rx @ Ry`` for ``"ZXY"``,
and the angle array lists the angles in the same order as the letters. This is the BVH
reading of a ``CHANNELS ... Zrotation Xrotation Yrotation`` line. (Unity's
``Quaternion.Euler(x, y, z)`` is ``R = Ry @ Rx @ Rz``, i.e. order ``"YXZ"`` with angles
``(y, x, z)``.)
"""

from __future__ import annotations

import numpy as np

IDENTITY = np.array([0.0, 0.0, 0.0, 1.0])

_AXIS_INDEX = {"X": 0, "Y": 1, "Z": 2}


def identity() -> np.ndarray:
    """A fresh identity quaternion (x, y, z, w)."""
    return IDENTITY.copy()


def multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a * b`` (apply ``b`` then ``a``); broadcasts over leading axes."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ax, ay, az, aw = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    bx, by, bz, bw = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    return np.stack(
        [
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz,
        ],
        axis=-1,
    )


def conjugate(q: np.ndarray) -> np.ndarray:
    """Conjugate (the inverse of a unit quaternion)."""
    q = np.asarray(q, dtype=np.float64)
    return q * np.array([-1.0, -1.0, -1.0, 1.0])


def inverse(q: np.ndarray) -> np.ndarray:
    """Inverse of any non-zero quaternion."""
    q = np.asarray(q, dtype=np.float64)
    return conjugate(q) / np.sum(q * q, axis=-1, keepdims=True)


def normalise(q: np.ndarray) -> np.ndarray:
    """Unit quaternion; raises ValueError on a zero or non-finite quaternion."""
    q = np.asarray(q, dtype=np.float64)
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    if not np.all(np.isfinite(norm)) or np.any(norm < 1e-12):
        raise ValueError(f"cannot normalise quaternion with norm {norm.ravel().tolist()}")
    return q / norm


def canonical(q: np.ndarray) -> np.ndarray:
    """The same rotation with ``w >= 0`` (q and -q are one rotation), for comparisons."""
    q = np.asarray(q, dtype=np.float64)
    sign = np.where(q[..., 3:4] < 0.0, -1.0, 1.0)
    return q * sign


def rotate_vector(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vector(s) ``v`` (..., 3) by unit quaternion(s) ``q`` (..., 4)."""
    q = np.asarray(q, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    u = q[..., :3]
    w = q[..., 3:4]
    t = 2.0 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


def to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrix (..., 3, 3) of unit quaternion(s)."""
    q = normalise(q)
    x, y, z, w = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    m = np.empty(q.shape[:-1] + (3, 3))
    m[..., 0, 0] = 1 - 2 * (y * y + z * z)
    m[..., 0, 1] = 2 * (x * y - z * w)
    m[..., 0, 2] = 2 * (x * z + y * w)
    m[..., 1, 0] = 2 * (x * y + z * w)
    m[..., 1, 1] = 1 - 2 * (x * x + z * z)
    m[..., 1, 2] = 2 * (y * z - x * w)
    m[..., 2, 0] = 2 * (x * z - y * w)
    m[..., 2, 1] = 2 * (y * z + x * w)
    m[..., 2, 2] = 1 - 2 * (x * x + y * y)
    return m


def from_matrix(m: np.ndarray) -> np.ndarray:
    """Unit quaternion (w >= 0) of a 3x3 rotation matrix (Shepperd's method, numerically stable)."""
    m = np.asarray(m, dtype=np.float64)
    if m.shape != (3, 3):
        raise ValueError(f"from_matrix expects a 3x3 matrix, got shape {m.shape}")
    trace = m[0, 0] + m[1, 1] + m[2, 2]
    if trace > 0.0:
        s = 2.0 * np.sqrt(trace + 1.0)
        q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = [0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s]
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = [(m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s]
    else:
        s = 2.0 * np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = [(m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s, (m[1, 0] - m[0, 1]) / s]
    return canonical(normalise(np.array(q)))


def from_axis_angle(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    """Rotation of ``angle_rad`` about ``axis`` (right-hand rule in a right-handed basis)."""
    axis = np.asarray(axis, dtype=np.float64)
    norm = np.linalg.norm(axis)
    if norm < 1e-12:
        raise ValueError("rotation axis has zero length")
    half = 0.5 * angle_rad
    return np.concatenate([axis / norm * np.sin(half), [np.cos(half)]])


def _check_order(order: str) -> str:
    order = order.upper()
    if len(order) != 3 or set(order) != {"X", "Y", "Z"}:
        raise ValueError(f"Euler order must be a permutation of 'XYZ', got {order!r}")
    return order


def from_euler_deg(angles_deg: np.ndarray, order: str) -> np.ndarray:
    """Quaternion of ``R = R[order[0]](a0) @ R[order[1]](a1) @ R[order[2]](a2)`` (degrees)."""
    order = _check_order(order)
    angles = np.radians(np.asarray(angles_deg, dtype=np.float64))
    if angles.shape != (3,):
        raise ValueError(f"expected 3 Euler angles, got shape {angles.shape}")
    q = IDENTITY.copy()
    for letter, angle in zip(order, angles):
        axis = np.zeros(3)
        axis[_AXIS_INDEX[letter]] = 1.0
        q = multiply(q, from_axis_angle(axis, float(angle)))
    return q


def to_euler_deg(q: np.ndarray, order: str) -> np.ndarray:
    """Inverse of `from_euler_deg` for the same ``order``: angles in degrees, listed in that order.

    The middle angle lies in [-90, 90]; at exactly +-90 (gimbal lock) the first angle is set to 0.
    """
    order = _check_order(order)
    m = to_matrix(q)
    i, j, k = (_AXIS_INDEX[c] for c in order)
    # Sign of the permutation (i, j, k): +1 for cyclic XYZ/YZX/ZXY, -1 otherwise.
    parity = 1.0 if (j - i) % 3 == 1 else -1.0
    # For R = Ri(a) Rj(b) Rk(c): R[i, k] = parity * sin(b).
    sin_b = float(np.clip(parity * m[i, k], -1.0, 1.0))
    b = np.arcsin(sin_b)
    if abs(sin_b) < 1.0 - 1e-9:
        a = np.arctan2(-parity * m[j, k], m[k, k])
        c = np.arctan2(-parity * m[i, j], m[i, i])
    else:
        a = 0.0
        c = np.arctan2(parity * m[j, i], m[j, j])
    return np.degrees(np.array([a, b, c]))


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical linear interpolation from ``a`` (t=0) to ``b`` (t=1) along the shorter arc."""
    a = normalise(a)
    b = normalise(b)
    dot = float(np.dot(a, b))
    if dot < 0.0:
        b = -b
        dot = -dot
    if dot > 0.9995:
        return normalise(a + t * (b - a))
    theta = np.arccos(dot)
    sin_theta = np.sin(theta)
    return (np.sin((1.0 - t) * theta) * a + np.sin(t * theta) * b) / sin_theta


def angle_between_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Rotation angle (degrees, 0..180) between two unit quaternions (accurate near zero)."""
    relative = multiply(conjugate(normalise(a)), normalise(b))
    return float(np.degrees(2.0 * np.arctan2(np.linalg.norm(relative[:3]), abs(relative[3]))))
