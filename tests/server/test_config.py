"""Settings: defaults < TOML file < CAMBIST_* environment < flags; bad input is an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from cambist.server.config import ConfigError, load_config


def test_config_layers_later_sources_win(tmp_path: Path) -> None:
    file = tmp_path / "serve.toml"
    file.write_text('[serve]\nport = 9001\nhost = "127.0.0.2"\nskew_ms = 1000\n')
    cfg = load_config(
        file,
        env={"CAMBIST_PORT": "9002", "CAMBIST_PROJECTORS": "0"},
        overrides={"port": 9003, "host": None},
    )
    assert (cfg.port, cfg.host, cfg.skew_ms, cfg.projectors) == (9003, "127.0.0.2", 1000, False)


def test_config_defaults_without_sources() -> None:
    cfg = load_config(env={})
    assert (cfg.host, cfg.port, cfg.data_dir, cfg.fsync) == (
        "127.0.0.1",
        8000,
        Path("data"),
        "always",
    )


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("prot = 1\n", {}, "unknown keys"),
        ("port = 'x'\n", {}, "port"),
        ("", {"CAMBIST_PORT": "70000"}, "out of range"),
        ("", {"CAMBIST_VIEW_REPLAY": "maybe"}, "view_replay"),
        ("", {"CAMBIST_WORKERS": "0"}, "workers"),
        ("", {"CAMBIST_WORKERS": "65"}, "workers"),
        ("", {"CAMBIST_WORKERS": "2", "CAMBIST_HTTP": "uvicorn"}, "workers"),
        ("", {"CAMBIST_HTTP": "h2o"}, "http"),
        ("port = [", {}, "config file"),
    ],
)
def test_config_bad_values_raise(
    tmp_path: Path, text: str, env: dict[str, str], message: str
) -> None:
    file = tmp_path / "serve.toml"
    file.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(file, env=env)
