"""Least-privilege access as code: the apps of topics.yaml -> the Kafka ACLs each one gets, nothing else.

Consumers get READ and DESCRIBE on exactly their topics and READ on their own consumer group; producers
get WRITE and DESCRIBE on their topics (Kafka 3+ idempotent producers need nothing more, KIP-679), plus
WRITE and DESCRIBE on their transactional id if they have one. An asset-class or data-type subscription
is granted with a PREFIXED pattern where that is exact (market.{asset_class}. or
market.{asset_class}.{data_type}.), so an exchange added later is covered on the next `up` without
widening anything else, and the number of bindings stays small.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from k2infra.contracts.kafka_names import client_id_problem, principal_problem
from k2infra.contracts.naming import TOPIC_PREFIX
from k2infra.model.entities import Topic
from k2infra.model.errors import Problem
from k2infra.model.kafka_configs import suggest
from k2infra.model.quotas import Quota, effective_quota
from k2infra.model.source import KeyPath, SourceDoc
from k2infra.model.spec import AppSpec, QuotaSpec, SubscriptionSpec

CONSUME = ("Read", "Describe")
PRODUCE = ("Write", "Describe")


@dataclass(frozen=True, order=True)
class Binding:
    """One Kafka ACL, in the kafka provider's spelling (resource type Topic/Group/TransactionalID,
    pattern Literal/Prefixed, operation Read/Write/Describe)."""

    app: str
    principal: str
    resource_type: str
    pattern: str
    name: str
    operation: str
    permission: str = "Allow"

    @property
    def key(self) -> str:
        """A stable, readable resource name for the binding."""
        return f"{self.app}/{self.resource_type}/{self.pattern}/{self.name}/{self.operation}"

    def to_dict(self) -> dict[str, str]:
        return {"resource_type": self.resource_type, "pattern": self.pattern, "name": self.name,
                "operation": self.operation, "permission": self.permission}


@dataclass(frozen=True)
class App:
    name: str
    principal: str
    produces: tuple[str, ...]  # topics it may write today
    consumes: tuple[str, ...]  # topics it may read today
    group: str | None
    bindings: tuple[Binding, ...] = field(default=())
    quota: Quota | None = None

    def to_dict(self) -> dict[str, Any]:
        quota = {"quota": self.quota.to_dict()} if self.quota else {}
        return {**quota, "app": self.name, "principal": self.principal, "group": self.group,
                "produces": list(self.produces), "consumes": list(self.consumes),
                "bindings": [b.to_dict() for b in self.bindings]}


def derive_apps(apps: dict[str, AppSpec], topics: Sequence[Topic], doc: SourceDoc, problems: list[Problem],
                quotas: tuple[str, QuotaSpec | None] = ("", None)) -> tuple[App, ...]:
    """Every app's topics, bindings and quota (over `quotas`: the environment's name and default quotas); each
    problem names its line in topics.yaml."""
    out: list[App] = []
    principals: dict[str, str] = {}
    for name, spec in apps.items():
        path: KeyPath = ("apps", name)
        wrong = principal_problem(spec.principal)
        if wrong:
            problems.append(doc.problem((*path, "principal"), f"{spec.principal!r} {wrong}: write a principal such "
                                        f"as User:{name} (the name the brokers authenticate)"))
        elif spec.principal in principals:
            problems.append(doc.problem((*path, "principal"), f"{spec.principal} is already the principal of app "
                                        f"{principals[spec.principal]!r}: each app needs its own, or its grants "
                                        "would mix"))
        principals.setdefault(spec.principal, name)
        quota = effective_quota(spec.quota, quotas[1], doc, (*path, "quota"), ("environments", quotas[0], "quotas"),
                                problems)
        out.append(replace(_app(name, spec, topics, doc, path, problems), quota=quota))
    return tuple(out)


def _app(name: str, spec: AppSpec, topics: Sequence[Topic], doc: SourceDoc, path: KeyPath,
         problems: list[Problem]) -> App:
    bindings: list[Binding] = []
    reads: list[str] = []
    writes: list[str] = []
    known_types = {t.data_type for t in topics}
    for index, dt in enumerate(spec.data_types):
        if dt not in known_types:
            problems.append(doc.problem((*path, "data_types", index), f"unknown data type {dt!r}"
                                        f"{suggest(dt, known_types)}"))
    if spec.produces and not spec.data_types:
        problems.append(doc.problem((*path, "produces"), "a producer must say which data types it produces "
                                    "(data_types: [trades]): its grants may not go beyond them"))
    for kind, subscriptions, operations, names in (("consumes", spec.consumes, CONSUME, reads),
                                                   ("produces", spec.produces, PRODUCE, writes)):
        for index, sub in enumerate(subscriptions):
            where: KeyPath = (*path, kind, index)
            matched, grants = _resolve(sub, topics, doc, where, problems)
            if kind == "produces" and spec.data_types:
                for topic in matched:
                    if topic.data_type not in spec.data_types:
                        problems.append(doc.problem(where, f"grants WRITE on {topic.name}, a {topic.data_type} topic, "
                                                    f"but {name} produces only {', '.join(spec.data_types)}"))
                        break
            names += [t.name for t in matched]
            bindings += [Binding(name, spec.principal, "Topic", pattern, grant, op)
                         for pattern, grant in grants for op in operations]
    group = (spec.group or name) if spec.consumes else spec.group
    _check_ids(name, spec, group, doc, path, problems)
    if group:
        bindings.append(Binding(name, spec.principal, "Group", "Literal", group, "Read"))
    if spec.transactional_id:
        bindings += [Binding(name, spec.principal, "TransactionalID", "Literal", spec.transactional_id, op)
                     for op in PRODUCE]
    return App(name, spec.principal, tuple(sorted(set(writes))), tuple(sorted(set(reads))), group,
               tuple(sorted(set(bindings))))


def _check_ids(name: str, spec: AppSpec, group: str | None, doc: SourceDoc, path: KeyPath,
               problems: list[Problem]) -> None:
    """The group and transactional id are granted with literal ACLs: a wildcard there would grant them all."""
    for key, value, what in (("group", group, "consumer group"), ("transactional_id", spec.transactional_id,
                                                                   "transactional id")):
        wrong = client_id_problem(value) if value is not None else None
        if wrong is None:
            continue
        default = " (the app's name, its default group: set group)" if key == "group" and not spec.group else ""
        problems.append(doc.problem((*path, key), f"{what} {value!r}{default} {wrong}: give {name} one of its "
                                    "own"))


def _resolve(sub: SubscriptionSpec, topics: Sequence[Topic], doc: SourceDoc, where: KeyPath,
             problems: list[Problem]) -> tuple[list[Topic], list[tuple[str, str]]]:
    """The topics a subscription matches today, and the (pattern, name) grants that cover exactly them."""
    if sub.topics is not None:
        if any(v is not None for v in (sub.asset_class, sub.data_types, sub.exchanges)):
            problems.append(doc.problem(where, "an explicit topic list stands alone: drop asset_class, data_types "
                                        "and exchanges, or the list"))
        by_name = {t.name: t for t in topics}
        matched = []
        for index, name in enumerate(sub.topics):
            if name not in by_name:
                problems.append(doc.problem((*where, "topics", index), f"no topic {name!r} in topics.yaml"
                                            f"{suggest(name, by_name)}"))
            else:
                matched.append(by_name[name])
        return matched, [("Literal", t.name) for t in matched]
    if not _known(sub, topics, doc, where, problems):
        return [], []
    matched = [t for t in topics if (sub.asset_class is None or t.asset_class == sub.asset_class)
               and (sub.data_types is None or t.data_type in sub.data_types)
               and (sub.exchanges is None or t.exchange in sub.exchanges)]
    if not matched:
        problems.append(doc.problem(where, "matches no topic: the subscription would grant nothing"))
        return [], []
    return matched, _grants(sub, matched)


def _known(sub: SubscriptionSpec, topics: Sequence[Topic], doc: SourceDoc, where: KeyPath,
           problems: list[Problem]) -> bool:
    before = len(problems)
    if sub.asset_class is None and sub.data_types is None:
        problems.append(doc.problem(where, "name an asset_class, data_types, or an explicit list of topics "
                                    "(a grant on every market topic is refused)"))
        return False
    asset_classes = sorted({t.asset_class for t in topics})
    if sub.asset_class is not None and sub.asset_class not in asset_classes:
        problems.append(doc.problem((*where, "asset_class"), f"unknown asset class {sub.asset_class!r}"
                                    f"{suggest(sub.asset_class, asset_classes)}"))
    _check_all(sub.data_types, sorted({t.data_type for t in topics}), "data type", (*where, "data_types"), doc,
               problems)
    if sub.exchanges is not None and sub.asset_class is None:
        problems.append(doc.problem((*where, "exchanges"), "exchanges are named within an asset class: add "
                                    "asset_class"))
    elif sub.exchanges is not None:
        known = sorted({t.exchange for t in topics if t.asset_class == sub.asset_class})
        _check_all(sub.exchanges, known, f"exchange of {sub.asset_class}", (*where, "exchanges"), doc, problems)
    return len(problems) == before


def _check_all(values: Iterable[str] | None, known: list[str], what: str, path: KeyPath, doc: SourceDoc,
               problems: list[Problem]) -> None:
    for index, value in enumerate(values or []):
        if value not in known:
            problems.append(doc.problem((*path, index), f"unknown {what} {value!r}{suggest(value, known)}; "
                                        f"known: {', '.join(known)}"))


def _grants(sub: SubscriptionSpec, matched: list[Topic]) -> list[tuple[str, str]]:
    if sub.exchanges is not None:  # named exchanges: exactly their topics
        return [("Literal", t.name) for t in matched]
    if sub.data_types is None:  # a whole asset class, today's exchanges and tomorrow's
        return [("Prefixed", f"{TOPIC_PREFIX}.{sub.asset_class}.")]
    asset_classes = sorted({t.asset_class for t in matched})  # one data type across asset classes: one prefix each
    return [("Prefixed", f"{TOPIC_PREFIX}.{ac}.{dt}.") for ac in asset_classes for dt in sorted(sub.data_types)
            if any(t.asset_class == ac and t.data_type == dt for t in matched)]
