"""A small harness that runs the pack's policies the way the engine does, without an engine.

pulumi_policy has no test harness for Python. This one sends the same protobuf requests the engine
sends (inputs as a protobuf Struct, so numbers arrive as floats, as they do from the engine) to
pulumi_policy's own analyzer servicer, and reads back the diagnostics it would return: policy name,
enforcement level, message and URN. So the tests cover the adapter, the enforcement levels and the
messages, not only the check functions. The servicer is private to pulumi_policy (pinned in
uv.lock); if an upgrade moves it, this file is the one place to change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi.runtime import proto
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer

from policy.context import Deployment
from policy.pack import k2_policies

LEVELS = {proto.ADVISORY: "advisory", proto.MANDATORY: "mandatory"}


@dataclass
class Resource:
    """One resource as the engine describes it to an analyzer."""

    type: str
    name: str
    props: dict[str, Any]
    parent: Resource | None = None
    provider: Resource | None = None
    secret_outputs: list[str] = field(default_factory=list)
    stack: str = "dev"

    @property
    def urn(self) -> str:
        qualified = f"{self.parent.type}${self.type}" if self.parent and self.parent.type != STACK else self.type
        return f"urn:pulumi:{self.stack}::k2::{qualified}::{self.name}"


@dataclass(frozen=True)
class Violation:
    policy: str
    level: str
    message: str
    urn: str


STACK = "pulumi:pulumi:Stack"


class Analyzer:
    """The pack's policies over one stack, with the state the pack keeps between engine calls."""

    def __init__(self, project_dir: Path, topics_file: Path | None = None):
        self.deployment = Deployment(project_dir, topics_file)
        self.servicer = _PolicyAnalyzerServicer("k2-market-data", "0.1.0", k2_policies(self.deployment),
                                                EnforcementLevel.ADVISORY)

    def analyze(self, resource: Resource) -> list[Violation]:
        request = proto.AnalyzeRequest(
            type=resource.type, properties=_struct(resource.props), urn=resource.urn, name=resource.name,
            options=_options(resource))
        if resource.provider is not None:
            request.provider.CopyFrom(_provider(resource.provider))
        return _violations(self.servicer.Analyze(request, None))

    def analyze_all(self, resources: list[Resource]) -> list[Violation]:
        """Resource by resource in registration order (parents first), then the whole stack."""
        found = [v for r in resources for v in self.analyze(r)]
        return found + self.analyze_stack(resources)

    def analyze_stack(self, resources: list[Resource]) -> list[Violation]:
        request = proto.AnalyzeStackRequest()
        for r in resources:
            item = request.resources.add(type=r.type, properties=_struct(r.props), urn=r.urn, name=r.name,
                                         parent=r.parent.urn if r.parent else "")
            item.options.CopyFrom(_options(r))
            if r.provider is not None:
                item.provider.CopyFrom(_provider(r.provider))
        return _violations(self.servicer.AnalyzeStack(request, None))


def _struct(props: dict[str, Any]) -> struct_pb2.Struct:
    return json_format.ParseDict(props, struct_pb2.Struct())


def _options(resource: Resource) -> proto.AnalyzerResourceOptions:
    return proto.AnalyzerResourceOptions(parent=resource.parent.urn if resource.parent else "",
                                         additionalSecretOutputs=resource.secret_outputs)


def _provider(provider: Resource) -> proto.AnalyzerProviderResource:
    return proto.AnalyzerProviderResource(type=provider.type, properties=_struct(provider.props),
                                          urn=provider.urn, name=provider.name)


def _violations(response: Any) -> list[Violation]:
    return [Violation(d.policyName, LEVELS[d.enforcementLevel], d.message, d.urn) for d in response.diagnostics]
