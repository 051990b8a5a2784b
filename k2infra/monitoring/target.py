"""What a monitor watches: a deployed stack's outputs (topics, subjects with their versions, addresses).

Read from a JSON file (`pulumi stack output --json > FILE`, or $K2_STACK_OUTPUTS), else from the
stack itself with `pulumi stack output --json` in the project directory (k2infra.backend.stack_state; no
secrets are needed: the outputs hold none).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from k2infra.backend.stack_state import StackStateError, read_outputs
from k2infra.clients.profiles import Credentials, kafka_config
from k2infra.clients.sources import load_stack_outputs
from k2infra.contracts.naming import parse_topic_name
from k2infra.contracts.outputs import StackOutputs, StackOutputsError, SubjectInfo


class TargetError(RuntimeError):
    """The stack's outputs cannot be read or are not a deployed stack's; the message says what to do."""


@dataclass(frozen=True)
class WatchedTopic:
    name: str
    asset_class: str
    data_type: str
    exchange: str
    retained: bool = False  # left topics.yaml, kept on the cluster


@dataclass(frozen=True)
class Target:
    outputs: StackOutputs

    @property
    def topics(self) -> list[WatchedTopic]:
        """The stack's topics, then those it retains (they should exist too; their consumers still lag)."""
        out = [WatchedTopic(t.name, t.asset_class, t.data_type, t.exchange) for t in self.outputs.topics]
        known = {t.name for t in out}
        for name in self.outputs.retained_topics:
            if name not in known:
                try:
                    ref = parse_topic_name(name)
                except ValueError:
                    continue
                out.append(WatchedTopic(name, ref.asset_class, ref.data_type, ref.exchange, retained=True))
        return out

    @property
    def subjects(self) -> tuple[SubjectInfo, ...]:
        return self.outputs.subjects

    def kafka_conf(self, credentials: Credentials | None = None) -> dict[str, Any]:
        try:
            return kafka_config(self.outputs, credentials)
        except StackOutputsError as err:
            raise TargetError(str(err)) from None

    def registry(self, credentials: Credentials | None = None) -> tuple[str, tuple[str, str] | None, str | bool]:
        """(URL, basic auth, TLS verification) for the stack's schema registry."""
        creds = credentials or Credentials.from_env()
        _, url = self.outputs.require_cluster()
        auth = (creds.registry_username, creds.registry_password) \
            if creds.registry_username and creds.registry_password else None
        verify: str | bool = creds.ca_location if creds.ca_location and url.startswith("https") else True
        return url, auth, verify


def load_target(stack: str | None, project_dir: Path, outputs_file: Path | None = None,
                timeout: float = 120) -> Target:
    """The stack's outputs: from `outputs_file` when given, else `pulumi stack output --json --stack <stack>`."""
    if outputs_file is not None:
        try:
            outputs = load_stack_outputs(outputs_file)
        except StackOutputsError as err:
            raise TargetError(str(err)) from None
        if not (outputs.bootstrap_servers and outputs.schema_registry_url):
            raise TargetError(f"{outputs_file}: not a deployed stack's outputs (no bootstrap_servers or "
                              "schema_registry_url); write it with `pulumi stack output --json --stack <stack>`")
        return Target(outputs)
    if stack is None:
        raise TargetError("which stack? pass --stack (e.g. dev), or --outputs FILE written by "
                          "`pulumi stack output --json --stack <stack> > FILE`")
    return Target(_from_pulumi(stack, project_dir, timeout))


def _from_pulumi(stack: str, project_dir: Path, timeout: float) -> StackOutputs:
    where = f"stack {stack} ({project_dir.resolve()})"
    try:
        data = read_outputs(stack, cwd=project_dir, timeout=timeout)
    except StackStateError as err:
        if err.kind == "no-cli":
            raise TargetError(f"{where}: the pulumi CLI is not on PATH (`. scripts/env.sh`); or pass --outputs FILE "
                              f"written by `pulumi stack output --json --stack {stack} > FILE` where Pulumi is") \
                from None
        if err.kind == "timeout":
            raise TargetError(f"{where}: `pulumi stack output` did not answer in {timeout:.0f}s") from None
        if err.kind == "not-json":
            raise TargetError(f"{where}: `pulumi stack output --json` printed something that is not JSON") from None
        detail = (err.stderr or err.stdout).strip().splitlines()
        raise TargetError(f"{where}: cannot read its outputs: {' '.join(detail)[:500]}") from None
    try:
        return StackOutputs.parse(data, where)
    except StackOutputsError as err:
        raise TargetError(str(err)) from None
