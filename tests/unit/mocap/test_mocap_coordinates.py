from __future__ import annotations

import numpy as np
import pytest

from mocap import coordinates as coords
from mocap import quaternion as quat
from mocap.skeleton import forward_kinematics, t_pose

CONVENTIONS = [coords.UNITY, coords.UNREAL, coords.XSENS, coords.XSENS_YUP, coords.BVH_CM, coords.GLTF,
               coords.bvh_convention(1.0)]  # fmt: skip


def _unit(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


@pytest.mark.parametrize("convention", CONVENTIONS, ids=lambda c: f"{c.name}{c.units_per_m:g}")
def test_round_trips_are_identities(convention):
    rng = np.random.default_rng(7)
    positions = rng.normal(size=(20, 3))
    rotations = rng.normal(size=(20, 4))
    rotations /= np.linalg.norm(rotations, axis=1, keepdims=True)
    back = coords.position_to_unity(coords.position_from_unity(positions, convention), convention)
    np.testing.assert_allclose(back, positions, atol=1e-12)
    back_rotations = coords.rotation_to_unity(coords.rotation_from_unity(rotations, convention), convention)
    np.testing.assert_allclose(back_rotations, rotations, atol=1e-12)
    for other in CONVENTIONS:
        there = coords.convert_rotation(coords.convert_rotation(rotations, convention, other), other, convention)
        np.testing.assert_allclose(there, rotations, atol=1e-12)


@pytest.mark.parametrize("convention", CONVENTIONS, ids=lambda c: f"{c.name}{c.units_per_m:g}")
def test_rotations_convert_consistently_with_vectors(convention):
    """R' (P v) == P (R v): the converted rotation turns converted vectors the same way."""
    rng = np.random.default_rng(8)
    for _ in range(10):
        q = quat.normalise(rng.normal(size=4))
        v = rng.normal(size=3)
        rotated_then_converted = coords.position_from_unity(quat.rotate_vector(q, v), convention)
        converted_then_rotated = quat.rotate_vector(
            coords.rotation_from_unity(q, convention), coords.position_from_unity(v, convention)
        )
        np.testing.assert_allclose(converted_then_rotated, rotated_then_converted, atol=1e-9)


def test_handedness_and_units_of_each_convention():
    assert not coords.UNITY.right_handed and coords.UNITY.determinant == 1
    assert not coords.UNREAL.right_handed and coords.UNREAL.determinant == 1
    assert coords.XSENS.right_handed and coords.XSENS.determinant == -1
    assert coords.BVH_CM.right_handed and coords.BVH_CM.determinant == -1
    # one metre up is 100 Unreal units along +Z, one metre along Xsens +Z, 100 BVH units along +Y
    np.testing.assert_allclose(coords.position_from_unity([0, 1, 0], coords.UNREAL), [0, 0, 100])
    np.testing.assert_allclose(coords.position_from_unity([0, 1, 0], coords.XSENS), [0, 0, 1])
    np.testing.assert_allclose(coords.position_from_unity([0, 1, 0], coords.BVH_CM), [0, 100, 0])
    with pytest.raises(ValueError):
        coords.bvh_convention(0.0)


# Expected directions of the character's left arm (T-pose) and of "up", per convention.
LEFT = {"unity": [-1, 0, 0], "unreal": [0, -1, 0], "xsens": [0, 1, 0], "bvh": [1, 0, 0]}
UP = {"unity": [0, 1, 0], "unreal": [0, 0, 1], "xsens": [0, 0, 1], "bvh": [0, 1, 0]}
FORWARD = {"unity": [0, 0, 1], "unreal": [1, 0, 0], "xsens": [1, 0, 0], "bvh": [0, 0, 1]}
NAMED = {"unity": coords.UNITY, "unreal": coords.UNREAL, "xsens": coords.XSENS, "bvh": coords.BVH_CM}


def _arm_direction(pose):
    world = forward_kinematics(pose)
    return _unit(world["LeftLowerArm"][0] - world["LeftUpperArm"][0])


@pytest.mark.parametrize("name", list(NAMED))
def test_t_pose_left_arm_and_facing_in_each_convention(name):
    convention = NAMED[name]
    direction = coords.position_from_unity(_arm_direction(t_pose("p")), convention)
    np.testing.assert_allclose(_unit(direction), LEFT[name], atol=1e-12)
    world = forward_kinematics(t_pose("p"))
    toes = coords.position_from_unity(world["LeftToes"][0] - world["LeftFoot"][0], convention)
    # the toes point forward (and down a little): forward is the dominant horizontal component
    assert float(np.dot(_unit(toes), FORWARD[name])) > 0.8


@pytest.mark.parametrize("name", list(NAMED))
def test_raised_left_arm_points_up_in_each_convention(name):
    convention = NAMED[name]
    pose = t_pose("p")
    # Unity: turning -X into +Y is -90 degrees about +Z (the formula is handedness-free)
    raise_arm = quat.from_axis_angle([0, 0, 1], -np.pi / 2)
    pose.bone_rotations["LeftUpperArm"] = raise_arm
    np.testing.assert_allclose(_arm_direction(pose), [0, 1, 0], atol=1e-12)
    direction = coords.position_from_unity(_arm_direction(pose), convention)
    np.testing.assert_allclose(_unit(direction), UP[name], atol=1e-12)
    # the same rotation expressed in that convention turns that convention's "left" into its "up"
    converted = coords.rotation_from_unity(raise_arm, convention)
    np.testing.assert_allclose(quat.rotate_vector(converted, LEFT[name]), UP[name], atol=1e-12)


def test_xsens_to_unreal_matches_the_vendor_plugin_formula():
    rng = np.random.default_rng(9)
    position = rng.normal(size=3)
    re, i, j, k = quat.normalise(rng.normal(size=4))
    unreal_position = coords.convert_position(position, coords.XSENS, coords.UNREAL)
    np.testing.assert_allclose(unreal_position, [position[0] * 100, -position[1] * 100, position[2] * 100], atol=1e-9)
    xyzw = coords.xsens_quaternion_to_xyzw(np.array([re, i, j, k]))
    unreal_rotation = coords.convert_rotation(xyzw, coords.XSENS, coords.UNREAL)
    np.testing.assert_allclose(unreal_rotation, [-i, j, -k, re], atol=1e-12)


def test_unity_to_unreal_axes():
    np.testing.assert_allclose(coords.position_from_unity([1.0, 2.0, 3.0], coords.UNREAL), [300, 100, 200])
    np.testing.assert_allclose(coords.rotation_from_unity([0.1, 0.2, 0.3, 0.9], coords.UNREAL), [0.3, 0.1, 0.2, 0.9])
