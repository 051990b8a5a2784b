"""What every `k2` command group shares: the consoles, one option vocabulary, one error path, and the stack's
settings and topology as the commands read them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console

from k2infra.contracts.kafka_client import kafka_client_settings
from k2infra.contracts.settings import SettingsError, StackSettings
from k2infra.model import Topology, TopologyError, load_topologies, load_topology

if TYPE_CHECKING:
    from k2infra.backend.stack_login import StackLogin
    from k2infra.clients.profiles import Credentials

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
    """A stack's settings from the config files beside topics.yaml (read as YAML: no Pulumi needed); a credential
    written there in plain text is refused, located."""
    from k2infra.contracts.settings import StackConfigFiles

    try:
        files = StackConfigFiles.read(config.parent, stack)
        plain = files.plain_credentials()
        if plain:
            fail("\n".join(plain))
        return StackSettings.from_config_files(files, fallback=LOCAL_CLUSTER)
    except SettingsError as error:
        fail(f"k2: {error}")


def _settings(stack: str | None, config: Path) -> StackSettings:
    return stack_settings(stack, config) if stack is not None else StackSettings.from_values("", LOCAL_CLUSTER.get)


def environment_of(stack: str | None, config: Path) -> str | None:
    """A stack's k2:environment (Pulumi.<stack>.yaml beside topics.yaml), else the stack name."""
    return stack_settings(stack, config).environment if stack is not None else None


def check_stack(stack: str | None, config: Path, topology: Topology) -> None:
    """What the program refuses in a stack's files before anything else, refused here too (located)."""
    from k2infra.contracts.settings import StackConfigFiles, plain_registry

    if stack is None or not topology.protected:
        return
    try:
        files = StackConfigFiles.read(config.parent, stack)
    except SettingsError as error:
        fail(f"k2: {error}")
    # Only a URL the files set: without one the command falls back to the local platform's, which is no stack's.
    problem = plain_registry(stack_settings(stack, config), files) if files.entry("schemaRegistryUrl") else None
    if problem:
        fail(problem)


def load(config: Path, environment: str | None, region: str | None = None) -> Topology:
    try:
        return load_topology(config, environment, region=region)
    except TopologyError as error:
        fail(str(error))


def load_stack(config: Path, stack: str | None) -> Topology:
    """The topology `stack` holds: its environment's, in its region (k2:region) when it has one."""
    if stack is None:
        return load(config, None)
    settings = stack_settings(stack, config)
    return load(config, settings.environment, settings.region)


def load_each(config: Path, environment: str | None, region: str | None = None) -> Iterator[Topology]:
    """`environment`'s topology, or every environment's when None: the file is parsed once whatever their number."""
    try:
        yield from load_topologies(config, [environment] if environment else None, region=region)
    except TopologyError as error:
        fail(str(error))


def login(stack: str | None, config: Path, settings: StackSettings | None = None) -> StackLogin:
    """How the command logs in to the stack's cluster and registry: the K2_* variables, else the stack's own
    settings and secrets (k2infra/backend/stack_login.py); without a stack, the variables alone."""
    from k2infra.backend.stack_login import LoginError, stack_login

    try:
        return stack_login(settings or _settings(stack, config), config.parent,
                           read=None if stack is not None else _no_stack)
    except LoginError as error:
        fail(f"k2: {error}")


def _no_stack(stack: str, project_dir: Path) -> dict[str, str]:
    return {}


def credentials(stack: str | None, config: Path) -> Credentials:
    """The login as the app helpers' Credentials (the exporter's and the migration's clients take those)."""
    from k2infra.clients.profiles import Credentials
    from k2infra.contracts.registry_client import ca_file

    found = login(stack, config)
    return Credentials(found.kafka_username, found.kafka_password,
                       found.ca_location or (ca_file(found.ca_pem) if found.ca_pem else None),
                       found.registry_username, found.registry_password)


def cluster_conf(stack: str | None, config: Path, bootstrap_servers: str | None) -> dict[str, Any]:
    """Client settings for the stack's cluster, logged in as the stack's settings say (login())."""
    settings = _settings(stack, config)
    found = login(stack, config, settings)
    return kafka_client_settings(settings, username=found.kafka_username, password=found.kafka_password,
                                 ca_pem=found.ca_pem, ca_location=found.ca_location,
                                 bootstrap_servers=bootstrap_servers)


def cannot_use_cluster(command: str, error: Exception) -> NoReturn:
    from k2infra.observed.failures import AuthenticationFailed

    message = f"{command}: {error}"
    if isinstance(error, AuthenticationFailed):
        err.print(message, highlight=False)
        message = (f"{command} logs in with the stack's k2:saslMechanism, k2:saslUsername and secret k2:saslPassword; "
                   "K2_KAFKA_USERNAME and K2_KAFKA_PASSWORD, when set, override them")
    fail(message)


