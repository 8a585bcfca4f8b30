"""``cambist feeds ...`` and ``cambist emulate``: the market-data gates and the venue emulator."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach the market-data commands to the root command line."""
