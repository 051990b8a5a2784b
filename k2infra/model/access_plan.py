"""The ACL half of a plan: what a change of topics.yaml's apps takes away, and the ACLs on the cluster that K2
did not declare (drift). Warnings, not refusals: beside the topic and subject plans of k2infra.model.plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from k2infra.contracts.naming import TOPIC_PREFIX
from k2infra.model.access import App, Binding


def access_changes(apps: Sequence[App], declared_before: Iterable[str],
                   on_cluster: Iterable[Binding] | None) -> list[str]:
    """Warnings for a preview: access an app loses, and ACLs on the cluster that K2 did not declare
    (`on_cluster`: None when the cluster cannot list them)."""
    wanted = {b.key: b for app in apps for b in app.bindings}
    out = [f"{key.split('/', 1)[0]} loses {_describe(key)}: no longer declared in topics.yaml, the ACL is removed"
           for key in sorted(set(declared_before) - set(wanted))]
    granted = {grant_key(b) for b in wanted.values()}
    principals = {app.principal for app in apps}
    for binding in sorted(on_cluster or []):
        ours = binding.principal in principals or binding.name.startswith(f"{TOPIC_PREFIX}.")
        if ours and grant_key(binding) not in granted:
            out.append(f"drift: an ACL K2 did not declare is on the cluster: {binding.principal} "
                       f"{binding.permission} {binding.operation} on {binding.resource_type} {binding.pattern} "
                       f"{binding.name} (added by hand? declare it in topics.yaml or remove it)")
    return out


def grant_key(binding: Binding) -> tuple[str, ...]:
    return (binding.principal, binding.resource_type, binding.pattern, binding.name, binding.operation,
            binding.permission)


def _describe(key: str) -> str:
    _app, resource_type, pattern, rest = key.split("/", 3)
    name, operation = rest.rsplit("/", 1)
    return f"{operation} on {resource_type} {pattern} {name}"
