from __future__ import annotations

from pathlib import Path

import pytest

from bridge.pipeline_config import PipelineCatalog, PipelineConfig, PipelineConfigError, builtin_names, load_builtin


def test_builtins_load_and_validate():
    names = builtin_names()
    assert {"default", "passthrough", "aged_archive", "uncanny"} <= set(names)
    uncanny = load_builtin("uncanny")
    assert uncanny.stage_names == ["cadence", "stylize", "composite"]
    stages = uncanny.build_stages()
    assert stages[1].params.get("process_long_side_px") == 320


def test_parse_names_stages_and_params():
    cfg = PipelineConfig.parse(
        """
        name = "look"
        [[stage]]
        type = "film_look"
        name = "age"
        [stage.params]
        codec = "jpeg"
        quality = 10
        [[stage]]
        type = "passthrough"
        """,
        "look.toml",
    )
    assert cfg.name == "look" and cfg.stage_names == ["age", "passthrough"]
    assert cfg.build_stages()[0].params.get("quality") == 10


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("name = 'x'", "at least one [[stage]]"),
        ("[[stage]]\ntype = 'warp'", "type 'warp'; known types"),
        ("[[stage]]\ntype = 'passthrough'\n[[stage]]\ntype = 'passthrough'", "two stages are named 'passthrough'"),
        ("[[stage]]\ntype = 'film_look'\n[stage.params]\nquality = 500", "outside 1..100"),
        ("[[stage]]\ntype = 'film_look'\n[stage.params]\nsharpness = 1", "no parameter 'sharpness'"),
        ("[[stage]]\ntype = 'passthrough'\ncolour = 1", "unknown keys ['colour']"),
        ("[[stage]\ntype=", "not valid TOML"),
        ("[[stage]]\ntype = 'stylize'\n[stage.params]\nmodel = 'arbitrary'", "needs a style_image"),
        ("[[stage]]\ntype = 'stylize'\n[stage.params]\nstyle = 40", "style index 0..25"),
    ],
)
def test_bad_configs_name_the_file_and_cause(text, fragment):
    with pytest.raises(PipelineConfigError) as info:
        PipelineConfig.parse(text, "bad.toml")
    assert "bad.toml" in str(info.value) or "style" in str(info.value)
    assert fragment in str(info.value)


def test_missing_file_names_the_path(tmp_path: Path):
    missing = tmp_path / "nope.toml"
    with pytest.raises(PipelineConfigError, match="pipeline file not found: .*nope.toml"):
        PipelineConfig.load(missing)


def test_catalog_with_extra_file_and_default(tmp_path: Path):
    extra = tmp_path / "mine.toml"
    extra.write_text("[[stage]]\ntype = 'cadence'\n[stage.params]\nmode = 'frames'\nhold_frames = 3\n")
    catalog = PipelineCatalog.with_builtins({"mine": str(extra)})
    assert catalog.get(None).name == "default"
    assert catalog.get("mine").stages[0].params == {"mode": "frames", "hold_frames": 3}
    with pytest.raises(KeyError, match="no pipeline named 'zzz'"):
        catalog.get("zzz")
    with pytest.raises(PipelineConfigError):
        PipelineCatalog({}, default="default")
