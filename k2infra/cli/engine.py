"""`k2 engine`: docker mode's container engine (k2infra.local.container_engine), for scripts/dev-up."""

from __future__ import annotations

import typer

from k2infra.cli.common import StackRequired, fail

group = typer.Typer(help="Docker mode's container engine (podman or Docker, through its Docker API).",
                    no_args_is_help=True)


@group.command("start-stopped")
def start_stopped(stack: StackRequired) -> None:
    """Start the stack's containers that exist but are stopped (their volumes keep the data); wait until healthy."""
    from k2infra.local.container_engine import SET_UP, EngineError
    from k2infra.local.container_engine import start_stopped as start

    try:
        for container in start(stack):
            typer.echo(f"    started the stopped container {container} (its data is kept in its volume)")
    except EngineError as error:
        fail(f"!!! {error}: {SET_UP}")
