"""`k2 local`: a local Kafka (KRaft) and schema registry for development (k2infra.local)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from k2infra.cli.common import TOPICS, ConfigOption, DirOption, fail, out

group = typer.Typer(help="A local Kafka (KRaft) and schema registry for development.", no_args_is_help=True)


def _platform(directory: Path | None):
    from k2infra.local import LocalPlatform

    home = Path(os.environ.get("K2_HOME", Path.home() / ".k2"))
    return LocalPlatform(directory or home / "local")


@group.command("up")
def local_up(nodes: Annotated[int, typer.Option(help="Kafka nodes: 1, or 3 for replication.")] = 1,
             kafka_port: Annotated[int, typer.Option(help="First broker port.")] = 9092,
             registry_port: Annotated[int, typer.Option(help="Schema registry port.")] = 8081,
             directory: DirOption = None,
             secure: Annotated[bool, typer.Option(help="SASL_SSL with SCRAM-SHA-512 users, a throwaway CA and an "
                                                  "authorizer that denies what no ACL allows; the registry on "
                                                  "HTTPS, writable only by K2's deployer (Keycloak).")] = False,
             config: ConfigOption = TOPICS) -> None:
    """Start Kafka and the schema registry on 127.0.0.1 and wait until both are healthy."""
    from k2infra.local import PlatformError

    try:
        state = _platform(directory).up(nodes=nodes, kafka_port=kafka_port, registry_port=registry_port,
                                        secure=secure, registry_apps=_apps(config) if secure else ())
    except PlatformError as error:
        fail(f"k2 local up failed: {error}")
    out.print(f"bootstrap servers:   {state.bootstrap_servers}\nschema registry URL: {state.schema_registry_url}"
              + _security_lines(state))


def _apps(config: Path) -> list[str]:
    """The apps of the topology file (each gets a read-only registry client); none without the file."""
    from k2infra.model.parse import read_spec

    return list(read_spec(config).apps) if config.exists() else []


def _security_lines(state) -> str:
    """Where a secure platform's CA and admin credentials are (never the password itself)."""
    if state.security is None:
        return ""
    s = state.security
    lines = (f"\nsecurity:            {s.protocol}, {s.sasl_mechanism}, ACLs enforced; super user {s.username}"
             f"\nCA certificate:      {s.ca_cert}\nadmin credentials:   {s.credentials} (mode 0600)")
    if s.registry_clients:
        lines += (f"\nregistry clients:    {s.registry_clients}/<client>.json (mode 0600; k2-deployer writes, "
                  f"each app reads)\nidentity provider:   {s.identity_url} (Keycloak)")
    return lines


@group.command("down")
def local_down(directory: DirOption = None,
               wipe: Annotated[bool, typer.Option(help="Also delete the platform's data (Kafka's logs and the "
                                                  "registry's schemas, together); only in a K2 platform "
                                                  "directory.")] = False) -> None:
    """Stop the local platform (its data is kept unless --wipe)."""
    from k2infra.local import PlatformError

    try:
        _platform(directory).down(wipe=wipe)
    except PlatformError as error:
        fail(f"k2 local down failed: {error}")


@group.command("status")
def local_status(directory: DirOption = None) -> None:
    """Say whether the local platform runs, and where."""
    platform = _platform(directory)
    state = platform.state()
    if not state or not platform.running():
        out.print("local platform: not running")
        raise typer.Exit(3)
    out.print(f"local platform: running, {state.nodes} Kafka node(s)\n"
              f"bootstrap servers:   {state.bootstrap_servers}\nschema registry URL: {state.schema_registry_url}"
              + _security_lines(state))
