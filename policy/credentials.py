"""Production credentials stay secret: never in plain text in the config files, the stack outputs or the state,
and never under a passphrase: a protected environment's secrets need a key service (KMS).

The Python policy SDK hands a policy every secret already decrypted, so whether a value was stored as a
secret cannot be seen on the value itself. It can be seen where it is written down: the config files
(`secure:` or not) and a resource's additional_secret_outputs. The decrypted values have one use here:
they can be looked for in the stack's outputs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pulumi_policy import PolicyResource
from pulumi_policy.proxy import UnknownValueError

from k2infra.contracts.settings import SettingsError, StackConfigFiles, is_credential_key, protected_passphrase
from policy.context import Deployment
from policy.production import StackViolation, protected_stack
from policy.resources import STACK, violation

URL_WITH_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.I)
MIN_CREDENTIAL_LENGTH = 6  # shorter values would match ordinary text in outputs


def passphrase_provider(resources: Sequence[PolicyResource],
                        deployment: Deployment) -> Iterator[StackViolation]:
    environment, stack = protected_stack(resources, deployment)
    if environment is None:
        return
    try:
        reason = StackConfigFiles.read(deployment.project_dir, stack).passphrase()
    except SettingsError as err:
        yield _unreadable(stack, err), None
        return
    if reason:
        yield violation(f"stack {stack}", *protected_passphrase(stack, environment, reason)), None


def plaintext_secrets(resources: Sequence[PolicyResource],
                      deployment: Deployment) -> Iterator[StackViolation]:
    environment, stack = protected_stack(resources, deployment)
    if environment is None:
        return
    try:
        plain = list(config_in_plain_text(deployment.project_dir, stack))
    except SettingsError as err:
        yield _unreadable(stack, err), None
        plain = []
    for where, key in plain:
        yield violation(f"stack config {key}",
                        f"stored in plain text in {where}, readable by anyone with the repository",
                        f"pulumi config set --secret {key} <value> --stack {stack}"), None
    known = credential_values(resources)
    for resource in resources:
        if resource.resource_type == STACK:
            yield from _stack_outputs(resource, known)
        elif not resource.resource_type.startswith("pulumi:providers:"):  # their schemas mark their secrets
            yield from _resource_secrets(resource)


def _unreadable(stack: str, err: SettingsError) -> str:
    return violation(f"stack {stack}", f"its config files cannot be read: {err}",
                     f"correct Pulumi.yaml and Pulumi.{stack}.yaml")


def _stack_outputs(stack: PolicyResource, known: set[str]) -> Iterator[StackViolation]:
    for name in outputs_with_credentials(stack.props, known):
        yield violation(f"stack output {name}", "carries a credential; apps read outputs as plain JSON",
                        "export only endpoints and names (bootstrap_servers, security_protocol, "
                        "sasl_mechanism); apps take credentials from their own secret store"), stack.urn


def _resource_secrets(resource: PolicyResource) -> Iterator[StackViolation]:
    for prop in undeclared_secret_outputs(resource):
        yield violation(resource.name, f"property {prop} holds a credential but is not listed in "
                        "additional_secret_outputs, so the state may keep it in plain text",
                        "pass it as pulumi.Output.secret(...) and add "
                        f"additional_secret_outputs=['{prop}'] to the resource options"), resource.urn


def config_in_plain_text(project_dir: Path, stack: str) -> Iterator[tuple[str, str]]:
    """(file:line, key) of each credential key with a plain value in the project's or the stack's config file."""
    for entry, key in StackConfigFiles.read(project_dir, stack).plain_credential_entries():
        yield entry.where, key


def credential_values(resources: Sequence[PolicyResource]) -> set[str]:
    """The credentials the stack's resources are given (config reaches the dynamic provider's inputs)."""
    found: set[str] = set()
    for resource in resources:
        for key, value in _known_items(resource.props):
            if is_credential_key(key) and isinstance(value, str) and len(value) >= MIN_CREDENTIAL_LENGTH:
                found.add(value)
                user, _, password = value.partition(":")  # basic auth is user:password
                if user and len(password) >= MIN_CREDENTIAL_LENGTH:
                    found.add(password)
    return found


def outputs_with_credentials(outputs: Mapping[str, Any], known: set[str]) -> Iterator[str]:
    for path, key, value in _leaves(outputs):
        text = str(value)
        if (is_credential_key(key) and _filled(value)) or URL_WITH_PASSWORD.search(text) \
                or any(secret in text for secret in known):
            yield path


def undeclared_secret_outputs(resource: PolicyResource) -> Iterator[str]:
    declared = set(resource.opts.additional_secret_outputs or ())
    for key, value in _known_items(resource.props):
        if is_credential_key(key) and _filled(value) and key not in declared:
            yield key


def _leaves(value: Any, path: str = "", key: str = "") -> Iterator[tuple[str, str, Any]]:
    if isinstance(value, Mapping):
        for k, v in _known_items(value):
            yield from _leaves(v, f"{path}.{k}" if path else k, k)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        for index in range(len(value)):
            try:
                item = value[index]
            except UnknownValueError:
                continue  # not known during preview: checked again by `pulumi up`
            yield from _leaves(item, f"{path}[{index}]", key)
    else:
        yield path, key, value


def _known_items(props: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for key in list(props):
        try:
            yield str(key), props[key]
        except UnknownValueError:
            continue


def _filled(value: Any) -> bool:
    return value is not None and not isinstance(value, Mapping | list) and str(value) != ""
