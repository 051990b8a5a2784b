"""A stack's settings (config namespace `k2`), read one way by the program, the `k2` CLI and the policy pack.

The program feeds it Pulumi's config; the CLI and the policy pack feed it the project's config files
(Pulumi.yaml, then Pulumi.<stack>.yaml), read as YAML, so neither needs Pulumi. Secret values are
never read here: the program takes them from Pulumi as secret Outputs, and the file reader only
reports whether a value is stored encrypted (`secure:`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from k2infra.contracts.containers import KAFKA_IMAGE, REGISTRY_IMAGE
from k2infra.contracts.input_files import MB, InputFileError, MissingFile, read_text
from k2infra.contracts.yaml_source import parse_yaml

NAMESPACE = "k2"
ClusterMode = Literal["local", "docker", "existing"]
CLUSTER_MODES: tuple[str, ...] = get_args(ClusterMode)
# Credentials: only ever set with `pulumi config set --secret`.
SECRET_KEYS = ("saslPassword", "schemaRegistryPassword", "caCert")
DEFAULT_TOPICS_FILE = "topics.yaml"
# What names a credential, wherever a key is written (Pulumi config, Kafka's dotted keys, resource inputs, outputs):
# saslPassword, ssl.key.password, sasl.jaas.config, clientKeyPassphrase, adminPwd, apiKey, basic_auth, caCert...
# `auth` only as a word of its own (proxyAuth, sasl.auth), never inside author, authority or authorizer.
CREDENTIAL_KEY = re.compile(
    r"passw(?:or)?d|passphrase|pwd|secret|token|credential|jaas|keystore|api_?key|private_?key|access_?key"
    r"|client_?key|basic_?auth|ca_?cert|"
    r"(?-i:(?<![A-Za-z])[aA]uth(?![a-z])|(?<=[a-z])Auth(?![a-z])|(?<![A-Za-z])AUTH(?![A-Za-z]))", re.I)


def is_credential_key(key: str) -> bool:
    """Whether a config key, property or output names a credential (the namespace, e.g. `k2:`, aside)."""
    return CREDENTIAL_KEY.search(key.split(":", 1)[-1]) is not None


LOOPBACK = ("127.0.0.1", "localhost", "::1")
# Generous: a stack file holds a few settings and an encrypted key, a few KB.
CONFIG_FILE_LIMIT = 1 * MB


class SettingsError(ValueError):
    """A stack setting is missing or malformed; the message names the key and how to set it."""


@dataclass(frozen=True)
class KafkaSecurity:
    tls: bool = False
    sasl_mechanism: str | None = None  # plain, scram-sha256, scram-sha512 (the kafka provider's spelling)
    sasl_username: str | None = None

    @property
    def protocol(self) -> str:
        """PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."""
        return security_protocol(self.tls, self.sasl_mechanism)


# Stack config spells mechanisms as the kafka provider does; librdkafka wants Kafka's names.
SASL_MECHANISMS = {"plain": "PLAIN", "scram-sha256": "SCRAM-SHA-256", "scram-sha512": "SCRAM-SHA-512"}


def security_protocol(tls: bool, sasl_mechanism: str | None) -> str:
    return ("SASL_" if sasl_mechanism else "") + ("SSL" if tls else "PLAINTEXT")


def librdkafka_mechanism(sasl_mechanism: str) -> str:
    return SASL_MECHANISMS.get(sasl_mechanism.lower(), sasl_mechanism.upper())


@dataclass(frozen=True)
class DockerSettings:
    kafka_image: str = KAFKA_IMAGE  # K2's own images, built locally by scripts/container-engine
    registry_image: str = REGISTRY_IMAGE
    kafka_port: int = 9092
    registry_port: int = 8081


@dataclass(frozen=True)
class StackSettings:
    stack: str
    environment: str
    topics_file: str
    cluster: ClusterMode
    bootstrap_servers: tuple[str, ...]
    schema_registry_url: str
    security: KafkaSecurity
    registry_username: str | None
    docker: DockerSettings
    # Dev convenience: topics that leave topics.yaml are deleted instead of retained.
    allow_topic_deletion: bool = False
    # Where each `pulumi up` writes the stack outputs for apps (s3://bucket/key?region=...), and whether
    # destroying the stack deletes that object (by default nothing is deleted).
    publish_outputs: str | None = None
    unpublish_on_destroy: bool = False
    # With topics.yaml's regions: the region this stack's cluster serves (its home and mirrored topics).
    region: str | None = None
    # Where the flows into this region run in prod: an existing Kafka Connect cluster's REST API (k2:connectUrl).
    connect_url: str | None = None

    @classmethod
    def from_values(cls, stack: str, get: Callable[[str], Any]) -> StackSettings:
        """Settings from `get(key)` (key without the k2: namespace; None when unset)."""
        values = _Values(stack, get)
        cluster = values.text("cluster") or "local"
        if cluster not in CLUSTER_MODES:
            raise SettingsError(f"k2:cluster is {cluster!r}; use one of {', '.join(CLUSTER_MODES)}")
        docker = DockerSettings(
            kafka_image=values.text("dockerKafkaImage") or DockerSettings.kafka_image,
            registry_image=values.text("dockerRegistryImage") or DockerSettings.registry_image,
            kafka_port=values.number("dockerKafkaPort") or DockerSettings.kafka_port,
            registry_port=values.number("dockerRegistryPort") or DockerSettings.registry_port,
        )
        if cluster == "docker":
            servers: tuple[str, ...] = (f"127.0.0.1:{docker.kafka_port}",)
            registry_url = f"http://127.0.0.1:{docker.registry_port}/apis/ccompat/v7"
        else:
            servers = tuple(s.strip() for s in values.required("bootstrapServers").split(",") if s.strip())
            registry_url = values.required("schemaRegistryUrl")
        return cls(
            stack=stack,
            environment=values.text("environment") or stack,
            topics_file=values.text("topicsFile") or DEFAULT_TOPICS_FILE,
            cluster=cluster,  # type: ignore[arg-type]
            bootstrap_servers=servers,
            schema_registry_url=registry_url,
            security=KafkaSecurity(tls=values.flag("tls"), sasl_mechanism=values.text("saslMechanism"),
                                   sasl_username=values.text("saslUsername")),
            registry_username=values.text("schemaRegistryUsername"),
            docker=docker,
            allow_topic_deletion=values.flag("allowTopicDeletion"),
            publish_outputs=values.location("publishOutputs"),
            unpublish_on_destroy=values.flag("unpublishOnDestroy"),
            region=values.text("region"),
            connect_url=values.text("connectUrl"),
        )

    @classmethod
    def from_files(cls, project_dir: Path, stack: str, fallback: Mapping[str, str] | None = None) -> StackSettings:
        """Settings from the project's config files; `fallback` fills keys the files leave unset."""
        return cls.from_config_files(StackConfigFiles.read(project_dir, stack), fallback)

    @classmethod
    def from_config_files(cls, files: StackConfigFiles, fallback: Mapping[str, str] | None = None) -> StackSettings:
        """Settings from config files already read (their stack's); `fallback` fills keys they leave unset."""
        return cls.from_values(files.stack, lambda key: files.value(key, (fallback or {}).get(key)))


class _Values:
    def __init__(self, stack: str, get: Callable[[str], Any]):
        self.stack, self.get = stack, get

    def text(self, key: str) -> str | None:
        value = self.get(key)
        return None if value is None or value == "" else str(value)

    def required(self, key: str) -> str:
        value = self.text(key)
        if value is None:
            raise SettingsError(f"{NAMESPACE}:{key} is not set for stack {self.stack}: "
                                f"pulumi config set {NAMESPACE}:{key} <value> --stack {self.stack}")
        return value

    def flag(self, key: str) -> bool:
        value = self.get(key)
        if value is None or isinstance(value, bool):
            return bool(value)
        if str(value).strip().lower() in ("true", "false"):
            return str(value).strip().lower() == "true"
        raise SettingsError(f"{NAMESPACE}:{key} is {value!r} for stack {self.stack}; use true or false")

    def location(self, key: str) -> str | None:
        """An S3 location (s3://bucket/key?region=...), checked for its form."""
        from k2infra.contracts.locations import S3Url

        value = self.text(key)
        if value is not None:
            try:
                S3Url.parse(value)
            except ValueError as err:
                raise SettingsError(f"{NAMESPACE}:{key} for stack {self.stack}: {err}") from None
        return value

    def number(self, key: str) -> int | None:
        value = self.get(key)
        if value is None or value == "":
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SettingsError(f"{NAMESPACE}:{key} is {value!r} for stack {self.stack}; use a whole number") \
                from None


@dataclass(frozen=True)
class ConfigEntry:
    """One config key as a file writes it: its value, or only the fact that it is encrypted."""

    file: Path
    key: str  # with its namespace, e.g. k2:saslPassword
    value: Any  # None when secure
    secure: bool
    line: int = 1

    @property
    def where(self) -> str:
        return f"{self.file.name}:{self.line}"


@dataclass(frozen=True)
class StackConfigFiles:
    """The config a stack gets from its files: Pulumi.yaml's `config`, then Pulumi.<stack>.yaml's; and the stack
    file's secrets provider and encrypted data key, as `pulumi stack init` wrote them."""

    entries: tuple[ConfigEntry, ...]
    secrets_provider: str | None = None  # secretsprovider: awskms://..., passphrase; None for the default
    encrypted_key: str | None = None  # encryptedkey: the data key, encrypted by that provider
    encryption_salt: str | None = None  # encryptionsalt: written for a passphrase provider only
    stack_file: str = ""  # Pulumi.<stack>.yaml, as it is named in messages
    stack: str = ""

    @classmethod
    def read(cls, project_dir: Path, stack: str) -> StackConfigFiles:
        project_file = project_dir / "Pulumi.yaml"
        project, project_lines = _yaml(project_file)
        stack_dir = project_dir / str(project.get("stackConfigDir") or ".")
        stack_file, stack_lines = _yaml(stack_dir / f"Pulumi.{stack}.yaml")
        entries = [*_entries(project_file, project, project_lines, project_style=True),
                   *_entries(stack_dir / f"Pulumi.{stack}.yaml", stack_file, stack_lines)]
        return cls(tuple(entries), _text(stack_file.get("secretsprovider")), _text(stack_file.get("encryptedkey")),
                   _text(stack_file.get("encryptionsalt")), f"Pulumi.{stack}.yaml", stack)

    def passphrase(self) -> str | None:
        """Why the stack's secrets hang on a passphrase, as its stack file shows; None when a key service (KMS,
        Vault, Pulumi Cloud) holds them. `pulumi stack init` writes only an encryptionsalt for a passphrase."""
        if self.secrets_provider == "passphrase":
            return f"{self.stack_file} names secretsprovider: passphrase"
        if self.secrets_provider:
            return None
        if self.encryption_salt:
            return f"{self.stack_file} holds a passphrase's encryptionsalt"
        return f"{self.stack_file} names no secretsprovider, and a file or S3 backend then uses a passphrase"

    def value(self, key: str, default: Any = None) -> Any:
        """The plain value of k2:`key` (the stack file wins); None for an encrypted one."""
        found = self.entry(key)
        return found.value if found else default

    def entry(self, key: str) -> ConfigEntry | None:
        """Where k2:`key` is set (the stack file wins over Pulumi.yaml); None when it is not."""
        full = key if ":" in key else f"{NAMESPACE}:{key}"
        found = [e for e in self.entries if e.key == full]
        return found[-1] if found else None

    def secure_keys(self) -> frozenset[str]:
        """The k2 keys (without the namespace) whose value the files hold encrypted."""
        prefix = f"{NAMESPACE}:"
        return frozenset(e.key.removeprefix(prefix) for e in self.entries if e.secure and e.key.startswith(prefix))

    def plain_credential_entries(self) -> list[tuple[ConfigEntry, str]]:
        """Each entry holding a credential in plain text, with the credential's whole key (k2:kafka.sasl.jaas.config
        inside structured config)."""
        return [(e, key) for e in self.entries if not e.secure for key in _credential_keys(e.key, e.value)]

    def plain_credentials(self) -> list[str]:
        """A located error (file:line: key) for each credential written in plain text: a committed file would hand
        it to anyone with the repository, and Pulumi would then keep it unencrypted in the state too."""
        return [f"{e.where}: {key}: a credential written in plain text; store it encrypted with "
                f"`pulumi config set --secret {key} <value> --stack {self.stack}`, delete this line, and "
                "change the password (the repository's history keeps it)" for e, key in self.plain_credential_entries()]


def plain_registry(settings: StackSettings, files: StackConfigFiles) -> str | None:
    """A located error when a protected environment's registry is not https: its credentials and every schema
    would cross the network in clear, and anyone between could change what the producers register. A registry on
    this machine's loopback interface crosses no network (a local rehearsal of prod settings)."""
    from urllib.parse import urlsplit

    url = settings.schema_registry_url
    try:
        host = urlsplit(url).hostname
    except ValueError:  # not a URL at all: said below like any plain one
        host = None
    if url.lower().startswith("https://") or host in LOOPBACK:
        return None
    entry = files.entry("schemaRegistryUrl")
    where = entry.where if entry else files.stack_file or f"Pulumi.{settings.stack}.yaml"
    return (f"{where}: {NAMESPACE}:schemaRegistryUrl: {settings.schema_registry_url!r} is not https, and environment "
            f"{settings.environment} is protected: use the registry's https URL (its CA in the secret "
            f"{NAMESPACE}:caCert)")


def _credential_keys(key: str, value: Any) -> Iterator[str]:
    """`key` if it names a credential and holds a value; inside structured config, each such key."""
    if isinstance(value, Mapping):
        if "secure" not in value:  # an encrypted value inside structured config
            for child, child_value in value.items():
                yield from _credential_keys(f"{key}.{child}", child_value)
    elif is_credential_key(key) and value is not None and not isinstance(value, list) and str(value) != "":
        yield key


def protected_passphrase(stack: str, environment: str, reason: str) -> tuple[str, str]:
    """(what is wrong, how to fix it) for a protected environment's stack whose secrets hang on a passphrase: the
    policy pack and `k2 team-backend check` say it in the same words."""
    key = "'awskms://alias/<team-key>?region=<region>'"
    return (f"environment {environment} is protected, yet stack {stack}'s secrets are encrypted with a passphrase "
            f"({reason}): whoever has or guesses it decrypts them, and the dev stacks' passphrase is public",
            f"pulumi stack change-secrets-provider --stack {stack} {key} (a new stack: pulumi stack init {stack} "
            f"--secrets-provider {key}), then commit Pulumi.{stack}.yaml (docs/team-operations.md)")


def project_name(project_dir: Path) -> str:
    """The project's name, from its Pulumi.yaml (`name:`)."""
    name = _yaml(project_dir / "Pulumi.yaml")[0].get("name")
    if not name:
        raise SettingsError(f"{project_dir / 'Pulumi.yaml'}: no project name (name:); is this a Pulumi project?")
    return str(name)


def _entries(file: Path, document: Mapping[str, Any], lines: Mapping[tuple, int],
             project_style: bool = False) -> Iterator[ConfigEntry]:
    config = document.get("config") or {}
    if not isinstance(config, Mapping):
        return
    for key, value in config.items():
        line = lines.get(("config", key), 1)
        if isinstance(value, Mapping) and "secure" in value:
            yield ConfigEntry(file, str(key), None, True, line)
        elif project_style and isinstance(value, Mapping) and ({"value", "default"} & set(value)):
            # Pulumi.yaml's form: {value: ...} or {default: ...}, optionally with a type.
            yield ConfigEntry(file, str(key), value.get("value", value.get("default")), False, line)
        else:
            yield ConfigEntry(file, str(key), value, False, line)


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _yaml(file: Path) -> tuple[Mapping[str, Any], Mapping[tuple, int]]:
    """A config file's mapping ({} when the file does not exist or is empty) and the line of each key, read as every
    YAML file K2 reads is."""
    try:
        located = parse_yaml(file, read_text(file, CONFIG_FILE_LIMIT))
    except MissingFile:
        return {}, {}
    except InputFileError as err:
        raise SettingsError(str(err)) from None
    data = located.data
    if data is None:
        return {}, {}
    if not isinstance(data, Mapping):
        raise SettingsError(f"{file}:1: the file must be a mapping (config:, secretsprovider:, ...), "
                            f"not a {type(data).__name__}")
    if data.get("config") is not None and not isinstance(data["config"], Mapping):
        raise SettingsError(f"{file}:{located.lines.get(('config',), 1)}: config: must be a mapping of keys "
                            f"(k2:environment: ...), not a {type(data['config']).__name__}")
    return data, located.lines
