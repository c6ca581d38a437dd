from __future__ import annotations

import pytest

from bridge.protocol.errors import ErrorCode
from bridge.stage_params import ParamError, ParamSpec, StageParams

SPECS = (
    ParamSpec("strength", "float", 1.0, lo=0.0, hi=1.0),
    ParamSpec("steps", "int", 2, lo=1, hi=8),
    ParamSpec("enabled", "bool", True),
    ParamSpec("mode", "choice", "over", choices=("over", "screen")),
    ParamSpec("weights", "floats", [1.0, 0.0], lo=0.0, length=2),
    ParamSpec("threads", "int", 0, lo=0, hi=64, live=False),
    ParamSpec("path", "str", None, optional=True),
)


def make(initial=None) -> StageParams:
    return StageParams.build(SPECS, initial, stage="test")


def test_defaults_and_config_overrides():
    p = make({"strength": 0.5, "threads": 4})
    snap = p.snapshot()
    assert snap["strength"] == 0.5 and snap["threads"] == 4 and snap["mode"] == "over" and snap["path"] is None


def test_config_names_stage_and_parameter_on_error():
    with pytest.raises(ParamError) as info:
        make({"bogus": 1})
    assert info.value.code == ErrorCode.UNKNOWN_PARAM and "'test'" in info.value.message and "bogus" in info.value.message


@pytest.mark.parametrize(
    "updates, fragment",
    [
        ({"strength": 1.5}, "outside 0.0..1.0"),
        ({"strength": "high"}, "finite number"),
        ({"strength": float("nan")}, "finite number"),
        ({"steps": 2.5}, "whole number"),
        ({"enabled": "yes"}, "true or false"),
        ({"mode": "add"}, "one of over, screen"),
        ({"weights": [1.0]}, "needs 2 numbers"),
        ({"weights": [-1.0, 2.0]}, "outside"),
        ({"path": 3}, "a string"),
    ],
)
def test_bad_values_are_rejected_with_reasons(updates, fragment):
    p = make()
    with pytest.raises(ParamError) as info:
        p.update(updates)
    assert info.value.code == ErrorCode.BAD_PARAM_VALUE
    assert fragment in info.value.message


def test_update_is_all_or_nothing():
    p = make()
    with pytest.raises(ParamError):
        p.update({"strength": 0.2, "steps": 99})
    assert p.get("strength") == 1.0 and p.get("steps") == 2


def test_setup_only_parameters_are_rejected_live():
    p = make()
    with pytest.raises(ParamError) as info:
        p.update({"threads": 2})
    assert "fixed when the pipeline starts" in info.value.message
    assert p.get("threads") == 0


def test_bool_accepts_osc_style_zero_one():
    p = make()
    p.update({"enabled": 0})
    assert p.get("enabled") is False
    with pytest.raises(ParamError):
        p.update({"enabled": 2})


def test_glide_interpolates_with_smoothstep_and_lands_exactly():
    p = make({"strength": 0.0})
    t0 = 1_000_000_000
    p.update({"strength": 1.0}, glide_ms=1000, now_ns=t0)
    assert p.get("strength", t0) == pytest.approx(0.0)
    assert p.get("strength", t0 + 500_000_000) == pytest.approx(0.5)
    quarter = p.get("strength", t0 + 250_000_000)
    assert 0.1 < quarter < 0.25  # smoothstep starts slowly
    assert p.get("strength", t0 + 2_000_000_000) == 1.0
    assert not p.gliding


def test_vector_glide_and_version_bumps():
    p = make()
    v0 = p.version
    t0 = 5_000_000_000
    p.update({"weights": [0.0, 1.0]}, glide_ms=100, now_ns=t0)
    assert p.version == v0 + 1
    mid = p.get("weights", t0 + 50_000_000)
    assert mid == pytest.approx([0.5, 0.5])
    assert p.get("weights", t0 + 200_000_000) == [0.0, 1.0]


def test_non_gliding_kinds_change_at_once_even_with_glide():
    p = make()
    p.update({"mode": "screen", "steps": 5}, glide_ms=1000)
    assert p.get("mode") == "screen" and p.get("steps") == 5


def test_check_hook_normalises_and_rejects():
    spec = ParamSpec("w", "floats", [1.0, 1.0], length=2, check=lambda v: [x / sum(v) for x in v])
    p = StageParams.build([spec], {"w": [1.0, 3.0]})
    assert p.get("w") == [0.25, 0.75]
    with pytest.raises(ParamError):
        p.update({"w": [0.0, 0.0]})  # the hook divides by zero: reported as a bad value, not a crash
    assert p.get("w") == [0.25, 0.75]


def test_unknown_param_kind_is_a_programming_error():
    with pytest.raises(ValueError):
        ParamSpec("x", "complex", 0)
