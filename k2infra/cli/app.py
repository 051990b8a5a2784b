"""The `k2` command: inspect and check the topology without a cluster, run a local platform, monitor, migrate, and
the team and engine chores the scripts need. One module per command group; this one wires them."""

from __future__ import annotations

import typer

from k2infra.cli import engine, local, migrate, monitor, regions, team_backend, users
from k2infra.cli.topology import acl, plan, topology, validate
from k2infra.cli.unlock import unlock

app = typer.Typer(help="K2 market-data Kafka topology as code.", no_args_is_help=True, add_completion=False)
for command in (topology, validate, plan, unlock, acl):
    app.command()(command)
app.add_typer(local.group, name="local")
app.add_typer(monitor.group, name="monitor")
app.add_typer(migrate.group, name="migrate")
app.add_typer(team_backend.group, name="team-backend")
app.add_typer(engine.group, name="engine")
app.add_typer(users.group, name="users")
app.add_typer(regions.group, name="regions")


def main() -> None:
    app(prog_name="k2")
