"""What every `k2` command group shares: the consoles, one option vocabulary, one error path, and the stack's
settings and topology as the commands read them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from k2infra.contracts.kafka_client import kafka_client_settings
from k2infra.contracts.settings import SettingsError, StackSettings
from k2infra.model import Topology, TopologyError, load_topologies, load_topology

# Set once, for every print: markup off (names, paths and messages print as they are, brackets included) and
# soft_wrap (a line longer than the terminal, a path or a message, is never broken with newlines, so it can be copied).
# No markup and no emoji codes: a location such as topics.yaml:100: would print as topics.yaml💯.
out = Console(markup=False, emoji=False, soft_wrap=True)
err = Console(stderr=True, markup=False, emoji=False, soft_wrap=True)

# One vocabulary: the same flags mean the same thing in every group.
ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The topology file.")]
StackOption = Annotated[str | None, typer.Option("--stack", "-s", help="Pulumi stack (dev, prod): "
                                                 "picks its environment settings.")]
StackRequired = Annotated[str, typer.Option("--stack", "-s", help="Pulumi stack (dev, prod).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
BootstrapOption = Annotated[str | None, typer.Option(help="Default: the stack's k2:bootstrapServers.")]
OutOption = Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file (default: print).")]
DirOption = Annotated[Path | None, typer.Option("--dir", help="Where the platform keeps data, logs and state.")]
TOPICS = Path("topics.yaml")

# Where the CLI looks when a stack's files name no cluster: the local platform's defaults.
LOCAL_CLUSTER = {"bootstrapServers": "127.0.0.1:9092", "schemaRegistryUrl": "http://127.0.0.1:8081/apis/ccompat/v7"}


def fail(message: str, code: int = 1) -> NoReturn:
    """The one error path: say what went wrong on stderr, then end the command with `code`."""
    err.print(message, highlight=False)
    raise typer.Exit(code)


def print_lines(lines: list[str]) -> None:
    for line in lines:
        out.print(line, highlight=False)


def stack_settings(stack: str, config: Path) -> StackSettings:
    """A stack's settings from the config files beside topics.yaml (read as YAML: no Pulumi needed)."""
    try:
        return StackSettings.from_files(config.parent, stack, fallback=LOCAL_CLUSTER)
    except SettingsError as error:
        fail(f"k2: {error}")


def environment_of(stack: str | None, config: Path) -> str | None:
    """A stack's k2:environment (Pulumi.<stack>.yaml beside topics.yaml), else the stack name."""
    return stack_settings(stack, config).environment if stack is not None else None


def load(config: Path, environment: str | None) -> Topology:
    try:
        return load_topology(config, environment)
    except TopologyError as error:
        fail(str(error))


def load_each(config: Path, environment: str | None) -> Iterator[Topology]:
    """`environment`'s topology, or every environment's when None: the file is parsed once whatever their number."""
    try:
        yield from load_topologies(config, [environment] if environment else None)
    except TopologyError as error:
        fail(str(error))


def cluster_conf(stack: str | None, config: Path, bootstrap_servers: str | None) -> dict[str, Any]:
    """Client settings for the stack's cluster; SASL credentials from K2_KAFKA_USERNAME/PASSWORD."""
    settings = stack_settings(stack, config) if stack is not None else StackSettings.from_values("", LOCAL_CLUSTER.get)
    return kafka_client_settings(settings, username=os.environ.get("K2_KAFKA_USERNAME"),
                                 password=os.environ.get("K2_KAFKA_PASSWORD"), bootstrap_servers=bootstrap_servers)


def cannot_use_cluster(command: str, error: Exception) -> NoReturn:
    from k2infra.observed.failures import AuthenticationFailed

    message = f"{command}: {error}"
    if isinstance(error, AuthenticationFailed):
        err.print(message, highlight=False)
        message = (f"{command} takes the SASL mechanism from the stack's k2:saslMechanism, and the username and "
                   "password from K2_KAFKA_USERNAME and K2_KAFKA_PASSWORD (it cannot decrypt the stack's secrets)")
    fail(message)


