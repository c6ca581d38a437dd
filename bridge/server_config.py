"""Server configuration (``machinima-bridge serve --config FILE``).

::

    [server]
    endpoints = ["tcp://127.0.0.1:5555"]   # loopback by default; ipc:///tmp/bridge.sock works too
    heartbeat_ms = 1000                     # how often an idle engine should send HEARTBEAT
    timeout_ms = 5000                       # silence after which an engine's streams are freed
    max_frame_bytes = 67108864              # FRAMEs above this are refused with FRAME_TOO_LARGE
    send_hwm = 8                            # results queued per engine before new ones are dropped
    default_pipeline = "default"
    takes_dir = "takes"                     # where recorded takes go
    take_compaction = "idle"                # re-encode raw take segments: "idle" (no frames flowing), "always", "manual"

    [osc]
    enabled = true
    host = "127.0.0.1"
    port = 9010

    [pipelines]                             # name -> file; built-ins are always available
    aged = "looks/aged.toml"

    [limits]                                # per session / per engine (LIMIT_EXCEEDED when broken)
    max_engines_per_session = 16
    max_streams_per_engine = 16
    max_width_px = 7680
    max_height_px = 4320
    max_fps = 240.0
    max_state_keys = 1024

    [security]                              # required to listen on anything but loopback
    curve = true
    server_secret_file = "keys/server.key_secret"
    allowed_clients_dir = "keys/allowed"    # the engines' public NAME.key files

Relative pipeline paths are resolved against the config file's folder.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.mocap_hub import MocapConfig, MocapConfigError
from bridge.security import CurveSettings
from bridge.session_directory import SessionLimits

DEFAULT_ENDPOINT = "tcp://127.0.0.1:5555"


class ServerConfigError(Exception):
    """The server config is missing, not TOML, or has a bad value; the message names the file and key."""


@dataclass
class ServerConfig:
    endpoints: list[str] = field(default_factory=lambda: [DEFAULT_ENDPOINT])
    heartbeat_ms: int = 1000
    timeout_ms: int = 5000
    max_frame_bytes: int = 64 * 1024 * 1024
    send_hwm: int = 8
    default_pipeline: str = "default"
    takes_dir: str = "takes"
    take_compaction: str = "idle"
    osc_enabled: bool = False
    osc_host: str = "127.0.0.1"
    osc_port: int = 9010
    pipelines: dict[str, str] = field(default_factory=dict)
    mocap: MocapConfig = field(default_factory=MocapConfig)
    limits: SessionLimits = field(default_factory=SessionLimits)
    curve: bool = False
    server_secret_file: str | None = None
    allowed_clients_dir: str | None = None

    def curve_settings(self) -> CurveSettings | None:
        if not self.curve:
            return None
        if not self.server_secret_file or not self.allowed_clients_dir:
            raise ServerConfigError("security.curve needs security.server_secret_file and security.allowed_clients_dir")
        return CurveSettings(Path(self.server_secret_file), Path(self.allowed_clients_dir))

    def validate(self, where: str = "config") -> None:
        if not self.endpoints or not all(isinstance(e, str) and "://" in e for e in self.endpoints):
            raise ServerConfigError(f"{where}: server.endpoints must list ZeroMQ endpoints like {DEFAULT_ENDPOINT!r}")
        checks = [
            ("server.heartbeat_ms", self.heartbeat_ms, 10, 600_000),
            ("server.timeout_ms", self.timeout_ms, 100, 3_600_000),
            ("server.max_frame_bytes", self.max_frame_bytes, 1024, 2**31),
            ("server.send_hwm", self.send_hwm, 1, 100_000),
            ("osc.port", self.osc_port, 0, 65535),
        ]
        for name, value, lo, hi in checks:
            if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
                raise ServerConfigError(f"{where}: {name} = {value!r} must be an integer in {lo}..{hi}")
        if not isinstance(self.osc_enabled, bool):
            raise ServerConfigError(f"{where}: osc.enabled = {self.osc_enabled!r} must be true or false")
        if not isinstance(self.osc_host, str) or not self.osc_host:
            raise ServerConfigError(f"{where}: osc.host must be a host name or address string")
        if self.take_compaction not in ("idle", "always", "manual"):
            raise ServerConfigError(f"{where}: server.take_compaction = {self.take_compaction!r} must be "
                                    "\"idle\", \"always\" or \"manual\"")
        if self.timeout_ms <= self.heartbeat_ms:
            raise ServerConfigError(f"{where}: server.timeout_ms must be larger than server.heartbeat_ms")

    @classmethod
    def load(cls, path: str | Path) -> ServerConfig:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ServerConfigError(f"server config not found: {path}") from None
        except OSError as exc:
            raise ServerConfigError(f"cannot read server config {path}: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ServerConfigError(f"{path} is not valid TOML: {exc}") from None
        return cls.from_mapping(data, str(path), base_dir=path.parent)

    @classmethod
    def from_mapping(cls, data: dict[str, Any], where: str = "config", base_dir: Path | None = None) -> ServerConfig:
        unknown = set(data) - {"server", "osc", "pipelines", "security", "mocap", "limits"}
        if unknown:
            raise ServerConfigError(
                f"{where}: unknown sections {sorted(unknown)} (allowed: server, osc, pipelines, security, mocap, limits)")
        server = dict(data.get("server", {}))
        osc = dict(data.get("osc", {}))
        cfg = cls()
        keymap = {
            "endpoints": "endpoints", "heartbeat_ms": "heartbeat_ms", "timeout_ms": "timeout_ms",
            "max_frame_bytes": "max_frame_bytes", "send_hwm": "send_hwm", "default_pipeline": "default_pipeline",
            "takes_dir": "takes_dir", "take_compaction": "take_compaction",
        }
        for key, value in server.items():
            if key not in keymap:
                raise ServerConfigError(f"{where}: unknown key server.{key} (allowed: {', '.join(keymap)})")
            setattr(cfg, keymap[key], value)
        for key, value in osc.items():
            if key not in ("enabled", "host", "port"):
                raise ServerConfigError(f"{where}: unknown key osc.{key} (allowed: enabled, host, port)")
            setattr(cfg, f"osc_{key}", value)
        for key, value in dict(data.get("limits", {})).items():
            if key not in SessionLimits.__dataclass_fields__:
                raise ServerConfigError(
                    f"{where}: unknown key limits.{key} (allowed: {', '.join(SessionLimits.__dataclass_fields__)})")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ServerConfigError(f"{where}: limits.{key} = {value!r} must be a positive number")
            setattr(cfg.limits, key, value)
        try:
            cfg.mocap = MocapConfig.from_mapping(dict(data.get("mocap", {})), where)
        except MocapConfigError as exc:
            raise ServerConfigError(str(exc)) from None
        for key, value in dict(data.get("security", {})).items():
            if key == "curve":
                if not isinstance(value, bool):
                    raise ServerConfigError(f"{where}: security.curve must be true or false")
                cfg.curve = value
            elif key in ("server_secret_file", "allowed_clients_dir"):
                if not isinstance(value, str):
                    raise ServerConfigError(f"{where}: security.{key} must be a path string")
                setattr(cfg, key, str(base_dir / value) if base_dir is not None and not Path(value).is_absolute() else value)
            else:
                raise ServerConfigError(
                    f"{where}: unknown key security.{key} (allowed: curve, server_secret_file, allowed_clients_dir)")
        for name, file in dict(data.get("pipelines", {})).items():
            if not isinstance(file, str):
                raise ServerConfigError(f"{where}: pipelines.{name} must be a file path string")
            if not file.startswith("builtin:") and base_dir is not None and not Path(file).is_absolute():
                file = str(base_dir / file)
            cfg.pipelines[name] = file
        cfg.validate(where)
        return cfg
