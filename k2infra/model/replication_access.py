"""Who may write a mirror: the replication principal of each aggregating region, as an app K2 derives.

An aggregating region T has one principal MirrorMaker 2 logs in as, in T and in every region it copies from
(default `User:k2-mirror-<T>`, `regions.<T>.replication_principal` to choose another). It is an app like the
others, so the stacks declare its ACLs (AppAccess) and, where the environment manages users, its SCRAM user and
credential source, with no machinery of its own. Its grants, as MirrorMaker 4.1.1 in dedicated mode was seen to
need them (tests/e2e/test_secure_regions.py; docs/regions.md "Who may write a mirror"):

- in T: write the flow's mirrors (exactly its topics) and commit the checkpointed groups' offsets there; its own
  topics (heartbeats, checkpoints, offset syncs) and its dedicated workers' (configs, offsets, status, their
  group and transactional ids) created, read and written;
- in each home region: read the flow's topics and describe the checkpointed groups. Nothing it could write.

No Create or Alter on a mirror or the cluster: a mirror K2 has not created fails loudly instead of appearing with
MirrorMaker's settings (it would create a missing listed topic itself).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

from k2infra.contracts.kafka_names import principal_problem
from k2infra.contracts.replication import dedicated_worker, mirror_topic_names
from k2infra.model.access import App, Binding
from k2infra.model.entities import Topic
from k2infra.model.errors import Problem
from k2infra.model.quotas import Quota
from k2infra.model.regions import RegionMap, ReplicationFlow
from k2infra.model.source import KeyPath, SourceDoc
from k2infra.model.spec import RegionSpec

APP_PREFIX = "k2-mirror-"
MIRROR_OPERATIONS = ("Write", "Describe", "Read")  # Read: the checkpointed groups' offsets committed on them
OWN_TOPIC_OPERATIONS = ("Create", "Describe", "Read", "Write")
SOURCE_OPERATIONS = ("Read", "Describe")
TARGET_GROUP_OPERATIONS = ("Read", "Describe")  # its offsets written (sync.group.offsets), described first
SOURCE_GROUP_OPERATIONS = ("Describe",)  # listed and their offsets fetched: nothing written at home
WORKER_GROUP_OPERATIONS = ("Read", "Describe")
TRANSACTION_OPERATIONS = ("Write", "Describe")


def replication_app_name(target: str) -> str:
    return f"{APP_PREFIX}{target}"


def default_principal(target: str) -> str:
    return f"User:{replication_app_name(target)}"


def replication_principals(regions: Mapping[str, RegionSpec], apps: Iterable[App], app_names: Iterable[str],
                           doc: SourceDoc, problems: list[Problem]) -> dict[str, str]:
    """Aggregating region -> its replication principal, checked like an app's and never an app's own."""
    owners = {a.principal: a.name for a in apps}
    taken = set(app_names)
    out: dict[str, str] = {}
    for name, spec in regions.items():
        path: KeyPath = ("regions", name, "replication_principal")
        if not spec.aggregates:
            if spec.replication_principal is not None:
                problems.append(doc.problem(path, f"region {name} aggregates no region: MirrorMaker writes nothing "
                                            "here, so it has no replication principal; remove the key"))
            continue
        principal = spec.replication_principal or default_principal(name)
        if replication_app_name(name) in taken:
            problems.append(doc.problem(("apps", replication_app_name(name)), f"the app name "
                                        f"{replication_app_name(name)} is K2's for region {name}'s replication "
                                        "principal: name the app otherwise"))
        if wrong := principal_problem(principal):
            problems.append(doc.problem(path, f"{principal!r} {wrong}: write a principal such as "
                                        f"{default_principal(name)} (the name MirrorMaker logs in as)"))
        elif principal in owners:
            problems.append(doc.problem(path, f"{principal} is the principal of app {owners[principal]!r}: "
                                        "MirrorMaker needs one of its own, or that app could write the mirrors"))
        elif principal in out.values():
            other = next(r for r, p in out.items() if p == principal)
            problems.append(doc.problem(path, f"{principal} is already region {other}'s replication principal: "
                                        "each aggregating region needs its own"))
        out[name] = principal
    return out


def checkpointed_groups(apps: Iterable[App], topics: Iterable[str]) -> tuple[str, ...]:
    """The consumer groups of the apps that read any of `topics`: their offsets follow them (failover)."""
    copied = set(topics)
    return tuple(sorted({a.group for a in apps if a.group and copied & set(a.consumes)}))


def replication_apps(region: str, flows: Sequence[ReplicationFlow], principals: Mapping[str, str],
                     apps: Sequence[App], quota: Quota | None = None) -> tuple[App, ...]:
    """The replication principals with grants in `region`'s cluster: its own as a target (the flows into it),
    and each aggregating region's that copies from it. `apps`: every app (its groups are checkpointed)."""
    out = []
    into = [f for f in flows if f.target == region]
    if into:
        out.append(_app(region, principals[region], list(_target_grants(into, apps)), quota, produces=into))
    for target in sorted({f.target for f in flows if f.source == region}):
        out_flows = [f for f in flows if f.source == region and f.target == target]
        out.append(_app(target, principals[target], list(_source_grants(out_flows, apps)), quota, consumes=out_flows))
    return tuple(out)


def flows_from(regions: RegionMap, region: str, held: Iterable[Topic]) -> tuple[ReplicationFlow, ...]:
    """The flows out of `region`: its home topics into each region that aggregates it."""
    home = tuple(sorted(t.name for t in held if t.home_region == region and not t.mirrored))
    return tuple(ReplicationFlow(region, target.name, home) for target in regions.regions.values()
                 if region in target.aggregates)


def _app(target: str, principal: str, grants: list[tuple[str, str, str]], quota: Quota | None,
         produces: Sequence[ReplicationFlow] = (), consumes: Sequence[ReplicationFlow] = ()) -> App:
    name = replication_app_name(target)
    bindings = tuple(sorted({Binding(name, principal, kind, "Literal", resource, op) for kind, resource, op in grants}))
    return App(name, principal, tuple(sorted({t for f in produces for t in f.topics})),
               tuple(sorted({t for f in consumes for t in f.topics})), None, bindings, quota)


def _target_grants(flows: Sequence[ReplicationFlow], apps: Sequence[App]) -> Iterator[tuple[str, str, str]]:
    for flow in flows:
        yield from (("Topic", t, op) for t in flow.topics for op in MIRROR_OPERATIONS)
        yield from (("Topic", t, op) for t in mirror_topic_names(flow.source) for op in OWN_TOPIC_OPERATIONS)
        yield from (("Group", g, op) for g in checkpointed_groups(apps, flow.topics) for op in TARGET_GROUP_OPERATIONS)
        worker = dedicated_worker(flow.source)
        yield from (("Topic", t, op) for t in worker.topics for op in OWN_TOPIC_OPERATIONS)
        yield from (("Group", worker.group, op) for op in WORKER_GROUP_OPERATIONS)
        yield from (("TransactionalID", i, op) for i in worker.transactional_ids for op in TRANSACTION_OPERATIONS)


def _source_grants(flows: Sequence[ReplicationFlow], apps: Sequence[App]) -> Iterator[tuple[str, str, str]]:
    for flow in flows:
        yield from (("Topic", t, op) for t in flow.topics for op in SOURCE_OPERATIONS)
        yield from (("Group", g, op) for g in checkpointed_groups(apps, flow.topics) for op in SOURCE_GROUP_OPERATIONS)
