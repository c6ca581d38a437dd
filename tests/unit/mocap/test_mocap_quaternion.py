from __future__ import annotations

import numpy as np
import pytest

from mocap import quaternion as quat

ORDERS = ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"]


def _random_unit(rng: np.random.Generator, count: int) -> np.ndarray:
    values = rng.normal(size=(count, 4))
    return values / np.linalg.norm(values, axis=1, keepdims=True)


def test_multiply_matches_matrix_product_and_conjugate_inverts():
    rng = np.random.default_rng(1)
    a, b = _random_unit(rng, 2)
    product = quat.multiply(a, b)
    np.testing.assert_allclose(quat.to_matrix(product), quat.to_matrix(a) @ quat.to_matrix(b), atol=1e-12)
    np.testing.assert_allclose(quat.canonical(quat.multiply(a, quat.conjugate(a))), quat.IDENTITY, atol=1e-12)
    np.testing.assert_allclose(quat.multiply(a * 2.0, quat.inverse(a * 2.0)), quat.IDENTITY, atol=1e-12)


def test_multiply_broadcasts_over_leading_axes():
    rng = np.random.default_rng(2)
    many = _random_unit(rng, 5)
    one = _random_unit(rng, 1)[0]
    batch = quat.multiply(many, one)
    for row in range(5):
        np.testing.assert_allclose(batch[row], quat.multiply(many[row], one), atol=1e-12)


def test_rotate_vector_agrees_with_matrix_and_known_rotation():
    rng = np.random.default_rng(3)
    q = _random_unit(rng, 1)[0]
    v = rng.normal(size=3)
    np.testing.assert_allclose(quat.rotate_vector(q, v), quat.to_matrix(q) @ v, atol=1e-12)
    about_z = quat.from_axis_angle([0, 0, 1], np.pi / 2)
    np.testing.assert_allclose(quat.rotate_vector(about_z, [1.0, 0.0, 0.0]), [0.0, 1.0, 0.0], atol=1e-12)


def test_matrix_round_trip_including_half_turns():
    rng = np.random.default_rng(4)
    samples = list(_random_unit(rng, 50))
    samples += [np.array([1.0, 0, 0, 0]), np.array([0, 1.0, 0, 0]), np.array([0, 0, 1.0, 0])]  # 180 degrees
    for q in samples:
        back = quat.from_matrix(quat.to_matrix(q))
        assert quat.angle_between_deg(q, back) < 1e-6
        assert back[3] >= 0.0


@pytest.mark.parametrize("order", ORDERS)
def test_euler_round_trip_every_order(order):
    rng = np.random.default_rng(5)
    for _ in range(100):
        angles = np.array([rng.uniform(-179, 179), rng.uniform(-89, 89), rng.uniform(-179, 179)])
        back = quat.to_euler_deg(quat.from_euler_deg(angles, order), order)
        np.testing.assert_allclose(back, angles, atol=1e-7)


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("middle", [90.0, -90.0])
def test_euler_gimbal_lock_gives_the_same_rotation(order, middle):
    q = quat.from_euler_deg(np.array([30.0, middle, 20.0]), order)
    back = quat.to_euler_deg(q, order)
    assert back[0] == 0.0
    assert quat.angle_between_deg(q, quat.from_euler_deg(back, order)) < 1e-6


def test_euler_order_composes_in_listed_order():
    zxy = quat.from_euler_deg(np.array([10.0, 20.0, 30.0]), "ZXY")
    rz = quat.from_axis_angle([0, 0, 1], np.radians(10))
    rx = quat.from_axis_angle([1, 0, 0], np.radians(20))
    ry = quat.from_axis_angle([0, 1, 0], np.radians(30))
    expected = quat.to_matrix(rz) @ quat.to_matrix(rx) @ quat.to_matrix(ry)
    np.testing.assert_allclose(quat.to_matrix(zxy), expected, atol=1e-12)


def test_bad_orders_and_zero_quaternions_are_rejected():
    with pytest.raises(ValueError, match="permutation"):
        quat.from_euler_deg(np.zeros(3), "XXY")
    with pytest.raises(ValueError, match="norm"):
        quat.normalise(np.zeros(4))
    with pytest.raises(ValueError, match="3x3"):
        quat.from_matrix(np.eye(4))


def test_slerp_endpoints_midpoint_and_shorter_arc():
    a = quat.identity()
    b = quat.from_axis_angle([0, 1, 0], np.radians(90))
    np.testing.assert_allclose(quat.slerp(a, b, 0.0), a, atol=1e-12)
    np.testing.assert_allclose(quat.slerp(a, b, 1.0), b, atol=1e-12)
    mid = quat.slerp(a, b, 0.5)
    assert quat.angle_between_deg(mid, quat.from_axis_angle([0, 1, 0], np.radians(45))) < 1e-9
    # -b is the same rotation: slerp must take the short way and still land at 45 degrees
    assert quat.angle_between_deg(quat.slerp(a, -b, 0.5), mid) < 1e-9
