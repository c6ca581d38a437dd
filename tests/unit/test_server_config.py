from __future__ import annotations

from pathlib import Path

import pytest

from bridge.server_config import ServerConfig, ServerConfigError


def test_defaults_bind_loopback_only():
    cfg = ServerConfig()
    cfg.validate()
    assert cfg.endpoints == ["tcp://127.0.0.1:5555"]


def test_load_resolves_relative_pipeline_paths(tmp_path: Path):
    (tmp_path / "looks").mkdir()
    path = tmp_path / "server.toml"
    path.write_text(
        '[server]\nendpoints = ["ipc:///tmp/x.sock"]\nheartbeat_ms = 500\ntimeout_ms = 2000\n'
        '[osc]\nenabled = true\nport = 9100\n[pipelines]\naged = "looks/aged.toml"\nbase = "builtin:default"\n'
    )
    cfg = ServerConfig.load(path)
    assert cfg.endpoints == ["ipc:///tmp/x.sock"] and cfg.heartbeat_ms == 500
    assert cfg.osc_enabled and cfg.osc_port == 9100
    assert cfg.pipelines["aged"] == str(tmp_path / "looks" / "aged.toml")
    assert cfg.pipelines["base"] == "builtin:default"


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("[server]\nheartbeat_ms = 5", "server.heartbeat_ms = 5 must be an integer in 10..600000"),
        ("[server]\nheartbeat_ms = 1000\ntimeout_ms = 900", "timeout_ms must be larger"),
        ("[server]\nendpoints = ['localhost:5555']", "ZeroMQ endpoints"),
        ("[server]\nport = 1", "unknown key server.port"),
        ("[gpu]\nx = 1", "unknown sections ['gpu']"),
        ("[osc]\nport = 'x'", "osc.port"),
        ("[server", "not valid TOML"),
    ],
)
def test_bad_configs_are_explained(tmp_path: Path, text, fragment):
    path = tmp_path / "s.toml"
    path.write_text(text)
    with pytest.raises(ServerConfigError) as info:
        ServerConfig.load(path)
    assert fragment in str(info.value)


def test_missing_config_names_path(tmp_path: Path):
    with pytest.raises(ServerConfigError, match="server config not found: .*none.toml"):
        ServerConfig.load(tmp_path / "none.toml")


def test_limits_and_mocap_sections(tmp_path: Path):
    path = tmp_path / "s.toml"
    path.write_text('[limits]\nmax_engines_per_session = 4\nmax_fps = 60.0\n'
                    '[mocap]\nsession = "forum"\nvmc_port = 39539\nvmc_out = ["127.0.0.1:39540"]\n')
    cfg = ServerConfig.load(path)
    assert cfg.limits.max_engines_per_session == 4 and cfg.limits.max_fps == 60.0
    assert cfg.mocap.session == "forum" and cfg.mocap.vmc_port == 39539 and cfg.mocap.active
    path.write_text('[limits]\nmax_wheels = 4\n')
    with pytest.raises(ServerConfigError, match="unknown key limits.max_wheels"):
        ServerConfig.load(path)
    path.write_text('[mocap]\nvmc_out = ["nowhere"]\n')
    with pytest.raises(ServerConfigError, match="is not .host:port."):
        ServerConfig.load(path)
