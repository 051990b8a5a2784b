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
             config: ConfigOption = TOPICS,
             regions: Annotated[bool, typer.Option("--regions", help="One platform per region of topics.yaml "
                                                   "(under --dir/<region>), and MirrorMaker 2 for the flows whose "
                                                   "mirrors the aggregating stacks created.")] = False,
             environment: Annotated[str, typer.Option(help="--regions: the environment whose topics flow.")] = "dev",
             ) -> None:
    """Start Kafka and the schema registry on 127.0.0.1 and wait until both are healthy."""
    from k2infra.local import PlatformError

    if regions:
        _regions_up(config, directory, environment)
        return
    try:
        state = _platform(directory).up(nodes=nodes, kafka_port=kafka_port, registry_port=registry_port,
                                        secure=secure, registry_apps=_apps(config) if secure else ())
    except PlatformError as error:
        fail(f"k2 local up failed: {error}")
    out.print(f"bootstrap servers:   {state.bootstrap_servers}\nschema registry URL: {state.schema_registry_url}"
              + _security_lines(state))


def _regional(directory: Path | None):
    from k2infra.local.regions import RegionalPlatforms

    home = Path(os.environ.get("K2_HOME", Path.home() / ".k2"))
    return RegionalPlatforms(directory or home / "regions")


def _region_names(config: Path) -> list[str]:
    from k2infra.model import TopologyError, load_topology

    try:
        topology = load_topology(config)
    except TopologyError as error:
        fail(str(error))
    names = list(dict.fromkeys(t.home_region for t in topology.topics if t.home_region))
    if not names:
        fail(f"{config}: declares no regions (regions:); `k2 local up` without --regions runs one cluster")
    return sorted(names)


def _regions_up(config: Path, directory: Path | None, environment: str) -> None:
    """Each region's platform, then MirrorMaker for the flows into each aggregating region (from topics.yaml)."""
    from k2infra.local import PlatformError
    from k2infra.local.mirror import Flow, Region
    from k2infra.model import TopologyError, load_topology

    names = _region_names(config)
    regional = _regional(directory)
    try:
        states = regional.up(names)
        flows = []
        for name in names:
            topology = load_topology(config, environment, region=name)
            here = Region(name, states[name].bootstrap_servers)
            flows += [Flow(Region(f.source, states[f.source].bootstrap_servers), here, f.topics)
                      for f in topology.replication]
        running = regional.mirror(flows, _missing_mirrors)
    except TopologyError as error:
        fail(str(error))
    except PlatformError as error:
        fail(f"k2 local up --regions failed: {error}")
    registry = next((states[f.target.name].schema_registry_url for f in flows), states[names[0]].schema_registry_url)
    for name in names:
        out.print(f"region {name}: bootstrap servers {states[name].bootstrap_servers}", highlight=False)
    out.print(f"schema registry URL for every region's stack: {registry}\n"
              f"MirrorMaker 2: {', '.join(f.name for f in running) or 'no flow yet'}", highlight=False)


def _missing_mirrors(flow) -> list[str]:
    from k2infra.observed.cluster import Unreachable, observe_topics

    try:
        present = observe_topics({"bootstrap.servers": flow.target.bootstrap_servers})
    except Unreachable:
        return list(flow.topics)
    return [t for t in flow.topics if t not in present]


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
                                                  "directory.")] = False,
               regions: Annotated[bool, typer.Option("--regions", help="The platforms of `k2 local up --regions` "
                                                     "and their MirrorMaker.")] = False,
               config: ConfigOption = TOPICS) -> None:
    """Stop the local platform (its data is kept unless --wipe)."""
    from k2infra.local import PlatformError

    try:
        if regions:
            _regional(directory).down(_region_names(config), wipe=wipe)
            return
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
