"""``cambist serve`` and ``cambist loadtest``: the exchange server and its load generator."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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
        workers: Annotated[int | None, Opt(help="HTTP worker processes [1]")] = None,
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

    @app.command()
    def loadtest(
        data_dir: Annotated[Path, Opt(help="The server's data dir (admin key, URL)")] = Path(
            "data"
        ),
        url: Annotated[str | None, Opt(help="Server URL [from <data-dir>/serve.json]")] = None,
        rate: Annotated[float, Opt(help="Orders/s, open loop; 0 = closed loop")] = 10_000.0,
        duration: Annotated[float, Opt(help="Seconds of order entry (max 300)")] = 10.0,
        accounts: Annotated[int, Opt(help="Trading accounts to create")] = 50,
        connections: Annotated[int, Opt(help="Keep-alive connections")] = 64,
        ceiling: Annotated[float, Opt(help="Seconds of GET /api/v1/time first")] = 3.0,
        as_json: Annotated[bool, Opt("--json", help="Print only the JSON result")] = False,
    ) -> None:
        """Drive order entry at a fixed rate and report throughput, latency and the ratio to the
        HTTP stack's ceiling (only against 127.0.0.1 / localhost)."""
        import json

        from cambist.server.loadtest import LoadConfig, report, run_loadtest
        from cambist.server.runner import ADMIN_KEY_FILE, SERVE_FILE

        if not 0 < duration <= 300 or not 0 <= rate <= 200_000 or not 0 < ceiling <= 60:
            raise typer.BadParameter(
                "duration in (0, 300], rate in [0, 200000], ceiling in (0, 60]"
            )
        if not 1 <= accounts <= 10_000 or not 1 <= connections <= 4_096:
            raise typer.BadParameter("accounts in [1, 10000], connections in [1, 4096]")

        def read(name: str, what: str) -> dict[str, Any]:
            path = data_dir / name
            try:
                found = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise typer.BadParameter(
                    f"cannot read {path} ({what}): {exc}; start `cambist serve --data-dir "
                    f"{data_dir}` first, or pass --url and --data-dir of a running server"
                ) from None
            if not isinstance(found, dict):
                raise typer.BadParameter(f"{path} ({what}) is not a JSON object")
            return found

        served = read(SERVE_FILE, "the running server's URL") if url is None else {}
        target = url or str(served.get("url", ""))
        if not target.startswith(("http://127.", "http://localhost")):
            raise typer.BadParameter("the load generator only targets this machine (127.0.0.0/8)")
        key = read(ADMIN_KEY_FILE, "the admin key")
        if not isinstance(key.get("api_key"), str) or not isinstance(key.get("api_secret"), str):
            raise typer.BadParameter(f"{data_dir / ADMIN_KEY_FILE} has no api_key/api_secret")
        cfg = LoadConfig(
            url=target, admin_key=key["api_key"], admin_secret=key["api_secret"], rate=rate,
            duration_s=duration, accounts=accounts, connections=connections, ceiling_s=ceiling,
            server_pid=pid if isinstance(pid := served.get("pid"), int) else 0,
        )  # fmt: skip
        import httpx

        from cambist.client import ApiError

        try:
            result = run_loadtest(cfg)
        except (httpx.TransportError, OSError) as exc:
            typer.echo(f"error: no server answering at {target}: {exc}", err=True)
            raise typer.Exit(1) from None
        except ApiError as exc:  # e.g. an admin key this server does not know
            typer.echo(f"error: setting up the load test at {target} failed: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(json.dumps(result) if as_json else report(result))
