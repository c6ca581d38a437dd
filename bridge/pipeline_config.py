"""Pipelines described in TOML: stages in order with their parameters.

A pipeline file looks like::

    name = "uncanny"
    description = "stylized actor in an untouched set, held on threes"

    [[stage]]
    type = "cadence"
    [stage.params]
    hold_frames = 3

    [[stage]]
    type = "stylize"
    [stage.params]
    style = 7
    strength = 0.85

Stage ``name`` defaults to its ``type`` and must be unique in the pipeline
(CONTROL messages and OSC addresses name stages by it).  Built-in pipelines
live in ``bridge/configs/`` and are named ``builtin:NAME``.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from bridge.stage import STAGE_TYPES, StageBase, StageSetupError, create_stage
from bridge.stage_params import ParamError


log = logging.getLogger(__name__)


class PipelineConfigError(Exception):
    """A pipeline file is missing, not TOML, or describes stages wrongly; the message names the file."""


@dataclass
class StageConfig:
    type: str
    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class PipelineConfig:
    name: str
    stages: list[StageConfig]
    description: str = ""
    source: str = "<memory>"

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "<memory>", default_name: str = "pipeline") -> PipelineConfig:
        where = source
        raw_stages = data.get("stage", [])
        if not isinstance(raw_stages, list) or not raw_stages:
            raise PipelineConfigError(f"{where}: a pipeline needs at least one [[stage]] table")
        stages: list[StageConfig] = []
        for i, raw in enumerate(raw_stages):
            if not isinstance(raw, dict):
                raise PipelineConfigError(f"{where}: stage {i} must be a table")
            unknown = set(raw) - {"type", "name", "params"}
            if unknown:
                raise PipelineConfigError(f"{where}: stage {i} has unknown keys {sorted(unknown)} (allowed: type, name, params)")
            type_name = raw.get("type")
            if type_name not in STAGE_TYPES:
                raise PipelineConfigError(
                    f"{where}: stage {i} has type {type_name!r}; known types: {', '.join(sorted(STAGE_TYPES))}"
                )
            name = raw.get("name", type_name)
            if not isinstance(name, str) or not name or "/" in name:
                raise PipelineConfigError(f"{where}: stage {i} name {name!r} must be a non-empty string without '/'")
            if any(s.name == name for s in stages):
                raise PipelineConfigError(f"{where}: two stages are named {name!r}; give one a different 'name'")
            params = raw.get("params", {})
            if not isinstance(params, dict):
                raise PipelineConfigError(f"{where}: stage {name!r} params must be a table")
            stages.append(StageConfig(type_name, name, dict(params)))
        name = data.get("name", default_name)
        if not isinstance(name, str) or not name:
            raise PipelineConfigError(f"{where}: 'name' must be a non-empty string")
        config = cls(name=name, stages=stages, description=str(data.get("description", "")), source=source)
        config.build_stages()  # validates every parameter now, not when an engine connects
        return config

    @classmethod
    def load(cls, path: str | Path) -> PipelineConfig:
        path = Path(path)
        if str(path).startswith("builtin:"):
            return load_builtin(str(path)[len("builtin:"):])
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise PipelineConfigError(f"pipeline file not found: {path}") from None
        except OSError as exc:
            raise PipelineConfigError(f"cannot read pipeline file {path}: {exc}") from None
        return cls.parse(text, str(path), default_name=path.stem)

    @classmethod
    def parse(cls, text: str, source: str = "<memory>", default_name: str = "pipeline") -> PipelineConfig:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise PipelineConfigError(f"{source} is not valid TOML: {exc}") from None
        return cls.from_mapping(data, source, default_name)

    def build_stages(self) -> list[StageBase]:
        """Fresh stage instances (not yet set up) with the configured parameters."""
        stages = []
        for sc in self.stages:
            try:
                stages.append(create_stage(sc.type, sc.name, sc.params))
            except ParamError as exc:
                raise PipelineConfigError(f"{self.source}: {exc.message}") from None
            except (StageSetupError, ValueError) as exc:
                raise PipelineConfigError(f"{self.source}: stage {sc.name!r}: {exc}") from None
        return stages

    @property
    def stage_names(self) -> list[str]:
        return [s.name for s in self.stages]


def builtin_names() -> list[str]:
    folder = resources.files("bridge") / "configs"
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_builtin(name: str) -> PipelineConfig:
    ref = resources.files("bridge") / "configs" / f"{name}.toml"
    if not ref.is_file():
        raise PipelineConfigError(f"no built-in pipeline {name!r} (built-in: {', '.join(builtin_names())})")
    return PipelineConfig.parse(ref.read_text(encoding="utf-8"), f"builtin:{name}", default_name=name)


class PipelineCatalog:
    """Named pipelines an engine may ask for in HELLO; ``default`` is used when it names none."""

    def __init__(self, pipelines: Mapping[str, PipelineConfig], default: str = "default") -> None:
        if default not in pipelines:
            raise PipelineConfigError(f"default pipeline {default!r} is not in the catalog ({', '.join(pipelines)})")
        self.pipelines = dict(pipelines)
        self.default = default

    @classmethod
    def with_builtins(cls, extra: Mapping[str, str | Path] | None = None, default: str = "default") -> PipelineCatalog:
        pipelines = {name: load_builtin(name) for name in builtin_names()}
        for name, path in (extra or {}).items():
            if name in pipelines:
                log.info("pipeline %r from %s replaces the built-in of that name", name, path)
            pipelines[name] = PipelineConfig.load(path)
        return cls(pipelines, default)

    def get(self, name: str | None) -> PipelineConfig:
        key = self.default if name is None else name
        if key not in self.pipelines:
            raise KeyError(f"no pipeline named {key!r} (available: {', '.join(sorted(self.pipelines))})")
        return self.pipelines[key]
