"""How an operator command logs in to a stack's cluster and registry (`k2 plan`, `k2 monitor`, the exporter,
`k2 migrate`): the stack's own settings, with the K2_* environment variables as an override, key by key.

The plain values (k2:saslUsername, k2:schemaRegistryUsername) come from the stack's files, the secrets
(k2:saslPassword, k2:schemaRegistryPassword, k2:caCert) from `pulumi config --show-secrets`, read through a pipe
and only when a secret the command needs is stored in the stack and not given by the environment. A stack that
cannot be decrypted here (no passphrase, no access to its KMS key) is said with what to set.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from k2infra.backend.stack_state import StackStateError, read_secret_config
from k2infra.contracts.settings import NAMESPACE, StackConfigFiles, StackSettings

# Each login value, its environment override and the stack key that holds it.
OVERRIDES = {"kafka_username": "K2_KAFKA_USERNAME", "kafka_password": "K2_KAFKA_PASSWORD",
             "ca_location": "K2_KAFKA_CA_LOCATION", "registry_username": "K2_SCHEMA_REGISTRY_USERNAME",
             "registry_password": "K2_SCHEMA_REGISTRY_PASSWORD"}
SECRETS = {"kafka_password": "saslPassword", "ca_pem": "caCert", "registry_password": "schemaRegistryPassword"}

SecretReader = Callable[[str, Path], Mapping[str, str]]


class LoginError(RuntimeError):
    """The stack's secrets cannot be read here; the message says what to set instead."""


@dataclass(frozen=True, repr=False)
class StackLogin:
    kafka_username: str | None = None
    kafka_password: str | None = None
    ca_pem: str | None = None  # the stack's k2:caCert
    ca_location: str | None = None  # a CA file (K2_KAFKA_CA_LOCATION), which wins over ca_pem
    registry_username: str | None = None
    registry_password: str | None = None

    def registry_basic_auth(self) -> str | None:
        if self.registry_username and self.registry_password:
            return f"{self.registry_username}:{self.registry_password}"
        return None

    def __repr__(self) -> str:  # the passwords never reach a log or a traceback
        return f"StackLogin(kafka_username={self.kafka_username!r}, registry_username={self.registry_username!r})"


def stack_login(settings: StackSettings, project_dir: Path, env: Mapping[str, str] | None = None,
                read: SecretReader | None = None) -> StackLogin:
    """The login for `settings`' stack: each K2_* variable that is set, else the stack's own value."""
    env = os.environ if env is None else env
    given = {field: env[name] for field, name in OVERRIDES.items() if env.get(name)}
    stored = StackConfigFiles.read(project_dir, settings.stack).secure_keys()
    wanted = [field for field, key in SECRETS.items() if key in stored and _needed(field, settings, given)]
    secrets = _secrets(settings.stack, project_dir, wanted, read or _read_secrets) if wanted else {}
    return StackLogin(
        kafka_username=given.get("kafka_username") or settings.security.sasl_username,
        kafka_password=given.get("kafka_password") or secrets.get("kafka_password"),
        ca_pem=secrets.get("ca_pem"),
        ca_location=given.get("ca_location"),
        registry_username=given.get("registry_username") or settings.registry_username,
        registry_password=given.get("registry_password") or secrets.get("registry_password"),
    )


def _needed(field: str, settings: StackSettings, given: Mapping[str, str]) -> bool:
    """Whether the command needs the stack's secret for `field`: the environment does not give it, and the stack's
    cluster or registry uses it."""
    if field == "ca_pem":
        return "ca_location" not in given and (settings.security.tls or
                                                settings.schema_registry_url.lower().startswith("https://"))
    if field == "kafka_password":
        return field not in given and settings.security.sasl_mechanism is not None
    return field not in given and settings.registry_username is not None


def _secrets(stack: str, project_dir: Path, wanted: list[str], read: SecretReader) -> dict[str, str]:
    try:
        values = read(stack, project_dir)
    except StackStateError as err:
        keys = ", ".join(f"{NAMESPACE}:{SECRETS[f]}" for f in wanted)
        overrides = ", ".join(OVERRIDES.get(f, "K2_KAFKA_CA_LOCATION") for f in wanted)
        detail = " ".join((err.stderr or str(err)).strip().splitlines())[:300]
        raise LoginError(f"stack {stack}'s secrets ({keys}) cannot be decrypted here: {detail}. Give the stack's "
                         "secrets provider what it needs (PULUMI_CONFIG_PASSPHRASE for a passphrase stack, AWS "
                         f"credentials for a KMS key), or set {overrides}") from None
    return {f: values[f"{NAMESPACE}:{SECRETS[f]}"] for f in wanted if f"{NAMESPACE}:{SECRETS[f]}" in values}


def _read_secrets(stack: str, project_dir: Path) -> Mapping[str, str]:
    return read_secret_config(stack, cwd=project_dir)
