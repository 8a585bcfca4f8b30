"""``cambist journal ...``, ``cambist replay`` and ``cambist verify``: tools over the embedded journal."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach the log tools to the root command line."""
