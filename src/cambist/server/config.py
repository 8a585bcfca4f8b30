"""``cambist serve`` settings: defaults, then a TOML file, then ``CAMBIST_*`` variables, then flags.

Later sources win, so an operator can keep a config file and still override one value from the
environment (e.g. ``CAMBIST_PORT=9000``) or the command line. Unknown keys in the file are an
error rather than silently ignored, for the same reason the API refuses unknown fields.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_PREFIX = "CAMBIST_"
MAX_WORKERS = 64


class ConfigError(ValueError):
    """A setting that cannot be used; the message names it."""


@dataclass(slots=True)
class ServeConfig:
    data_dir: Path = field(default_factory=lambda: Path("data"))
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    """HTTP processes: 1 serves HTTP in the engine's process; N > 1 starts N worker processes
    that parse HTTP and forward requests to it (:mod:`cambist.server.workers`)."""
    fsync: str = "always"
    snapshot_every: int = 100_000
    snapshot_interval_s: float = 60.0
    snapshots: str = "process"
    """Who writes the periodic engine snapshots: ``process``, a snapshotter process following
    the journal with its own engine (:mod:`cambist.server.snapshotter`; the server forks
    nothing); ``fork``, a child forked from the server (stalls it for the fork and its
    copy-on-write faults); ``loop``, the server's event loop (stalls it for the whole
    serialisation). The shutdown snapshot is always the server's own."""
    skew_ms: int = 5_000
    rate_per_key: float = 2_000.0
    burst_per_key: float = 4_000.0
    max_body: int = 64 * 1024
    keep_closed_orders: int = 200_000
    min_sequence_timeout_s: float = 5.0
    view_replay: bool = True
    """Rebuild the live view by replaying the whole journal (closed orders and trades included)
    rather than seeding it from the recovered engine state alone."""
    log_level: str = "info"
    projectors: bool = True
    """Run the read-model projectors (history endpoints) inside the server."""
    external_projectors: bool = False
    """The projectors run as separate ``cambist projector run`` processes (more cores for a
    high peak, docs/readmodels.md): the server runs none, and serves the history endpoints
    from their tables, following their marks. Overrides ``projectors``."""
    default_markets: bool = True
    http: str = "native"
    """The HTTP server: ``native`` (the gateway's own httptools protocol) or ``uvicorn`` (the
    ASGI app under uvicorn, kept to compare the two on the same machine)."""


SNAPSHOT_MODES = ("process", "fork", "loop")


def _coerce(name: str, value: Any, kind: Any) -> Any:
    kind_name = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    try:
        if "Path" in kind_name:
            return Path(value)
        if kind_name == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if kind_name == "int":
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        if kind_name == "float":
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: cannot use {value!r} as {kind_name}") from None


def load_config(
    file: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ServeConfig:
    """Build the config from the layers; ``overrides`` with value None are skipped."""
    cfg = ServeConfig()
    fields = {f.name: f.type for f in dataclasses.fields(cfg)}
    layers: list[tuple[str, Mapping[str, Any]]] = []
    if file is not None:
        try:
            data = tomllib.loads(Path(file).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"config file {file}: {exc}") from None
        section = data.get("serve", data)
        unknown = sorted(set(section) - set(fields))
        if unknown:
            raise ConfigError(f"config file {file}: unknown keys {unknown}")
        layers.append((str(file), section))
    env = os.environ if env is None else env
    layers.append(
        ("environment", {
            name: env[ENV_PREFIX + name.upper()]
            for name in fields if ENV_PREFIX + name.upper() in env
        })
    )  # fmt: skip
    if overrides:
        layers.append(("flags", {k: v for k, v in overrides.items() if v is not None}))
    for source, values in layers:
        for name, value in values.items():
            setattr(cfg, name, _coerce(f"{source}: {name}", value, fields[name]))
    if not 0 <= cfg.port <= 65535:
        raise ConfigError(f"port {cfg.port} is out of range")
    if cfg.snapshot_every < 1:
        raise ConfigError(f"snapshot_every: {cfg.snapshot_every} is not a positive count")
    if not cfg.snapshot_interval_s > 0:
        raise ConfigError(f"snapshot_interval_s: {cfg.snapshot_interval_s} is not positive")
    if cfg.snapshots not in SNAPSHOT_MODES:
        raise ConfigError(f"snapshots: {cfg.snapshots!r} is not one of {', '.join(SNAPSHOT_MODES)}")
    if cfg.http not in ("native", "uvicorn"):
        raise ConfigError(f"http: {cfg.http!r} is not native or uvicorn")
    if not 1 <= cfg.workers <= MAX_WORKERS:
        raise ConfigError(f"workers: {cfg.workers} is not between 1 and {MAX_WORKERS}")
    if cfg.workers > 1 and cfg.http != "native":
        raise ConfigError("workers: more than 1 needs http = native")
    return cfg
