"""The ``cambist`` command line: one typer app; each layer adds its own sub-commands here."""

from __future__ import annotations

import typer

from cambist import __version__
from cambist.feeds.cli import register as register_feeds
from cambist.log.cli import register as register_log
from cambist.projector_cli import register as register_projectors
from cambist.serve_cli import register as register_serve

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Cambist exchange platform.")


@app.command()
def version() -> None:
    """Print the installed Cambist version."""
    typer.echo(__version__)


register_log(app)
register_feeds(app)
register_serve(app)
register_projectors(app)


def main() -> None:
    """Console-script entry point."""
    app()
