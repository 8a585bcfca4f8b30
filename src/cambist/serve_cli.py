"""``cambist serve`` and ``cambist loadtest``: the exchange server and its load generator."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cambist.server.config import ConfigError, load_config

Opt = typer.Option


def register(app: typer.Typer) -> None:
    """Attach ``serve`` and ``loadtest`` to the root command line."""

    @app.command()
    def serve(
        data_dir: Annotated[Path | None, Opt(help="Journal, snapshots, keys [data]")] = None,
        host: Annotated[str | None, Opt(help="Address to bind [127.0.0.1]")] = None,
        port: Annotated[int | None, Opt(help="Port [8000]; 0 picks a free one")] = None,
        workers: Annotated[int | None, Opt(help="Gateway processes (only 1 for now)")] = None,
        config: Annotated[Path | None, Opt(help="TOML config file ([serve] table)")] = None,
        fsync: Annotated[str | None, Opt(help="Journal fsync policy [always]")] = None,
        log_level: Annotated[str | None, Opt(help="debug, info, warning, error")] = None,
    ) -> None:
        """Run the exchange: journal + engine + REST API on the embedded default."""
        from cambist.server.runner import serve as run

        try:
            cfg = load_config(config, overrides={
                "data_dir": data_dir, "host": host, "port": port, "workers": workers,
                "fsync": fsync, "log_level": log_level,
            })  # fmt: skip
        except ConfigError as exc:
            raise typer.BadParameter(str(exc)) from None
        run(cfg)
