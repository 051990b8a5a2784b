"""What K2 may touch is K2's: the names topics.yaml makes and lists are checked against Kafka's rules and
against K2's namespace (k2infra.contracts.naming.in_k2_namespace), each problem at its line.

- every topic the file derives, and every legacy topic it declares, is a name Kafka accepts (at most 249
  characters), no internal topic's, and no other's in Kafka's metric names ('.' and '_' alike);
- a decommission lists only exchange topics, their subjects and declared legacy topics: never an internal
  topic or another team's, in any environment, protected or not.
"""

from __future__ import annotations

from collections.abc import Iterable

from k2infra.contracts.kafka_names import INTERNAL_TOPIC, collisions, is_internal_topic, metric_name, topic_name_problem
from k2infra.contracts.naming import (
    LEGACY_SHAPES,
    TOPIC_NAME,
    TOPIC_PATTERN,
    is_k2_topic_name,
    is_legacy_topic_name,
    subject_regex,
)
from k2infra.model.entities import Topic
from k2infra.model.errors import Problem
from k2infra.model.source import KeyPath, SourceDoc
from k2infra.model.users import is_user_entry


def check_topic_names(topics: Iterable[Topic], legacy_names: Iterable[str], doc: SourceDoc,
                      problems: list[Problem]) -> None:
    """Derived topics at their exchange's line, legacy topics at theirs (whose own shape legacy.py checks)."""
    where: dict[str, KeyPath] = {}
    reported: set[KeyPath] = set()  # one problem per exchange, for its longest topic
    for topic in sorted(topics, key=lambda t: -len(t.name)):
        path: KeyPath = ("asset_classes", topic.asset_class, "exchanges", topic.exchange)
        if TOPIC_NAME.fullmatch(topic.name) is None:
            continue  # a code off the rule, reported by check_codes
        wrong = topic_name_problem(topic.name)
        if wrong is not None and path not in reported:
            problems.append(doc.problem(path, f"its topic {_short(topic.name)} {wrong}: shorten the codes"))
        elif is_internal_topic(topic.name) and path not in reported:
            problems.append(doc.problem(path, f"its topic {topic.name} is named as the internal topics of Kafka's "
                                        "tools are (MirrorMaker 2 takes any name ending in .internal or .heartbeats "
                                        "for its own): choose another exchange code"))
        elif wrong is None and not is_internal_topic(topic.name):
            where[topic.name] = path
            continue
        reported.add(path)
    order = [t.name for t in topics if t.name in where]  # the file's order: the second of two is reported
    for name in legacy_names:
        if is_legacy_topic_name(name):
            where.setdefault(name, ("legacy_topics", name))
            order.append(name)
    for name, first in collisions(order).items():
        problems.append(doc.problem(where[name], f"{name} and {first} (at {doc.where(where[first])}) collide: "
                                    f"they are one name in Kafka's metrics ({metric_name(name)}: '.' and '_' are the "
                                    "same there), so Kafka refuses to create the second: rename one of their codes"))


def check_decommission(environment: str, listed: Iterable[str], subject_pattern: str, legacy_names: Iterable[str],
                       doc: SourceDoc, problems: list[Problem]) -> None:
    """Each item of environments.<environment>.decommission names something K2 may delete."""
    legacy = frozenset(legacy_names)
    try:
        subjects = subject_regex(subject_pattern)
    except ValueError:
        subjects = None  # reported by check_subject_pattern
    for index, name in enumerate(listed):
        path: KeyPath = ("environments", environment, "decommission", index)
        if is_user_entry(name):
            continue  # an app's user, checked by k2infra.model.users
        if is_internal_topic(name):
            problems.append(doc.problem(path, f"{name!r} is {INTERNAL_TOPIC}: K2 never deletes it, in any environment; "
                                        "remove it from the list"))
        elif is_k2_topic_name(name) or (subjects is not None and subjects.fullmatch(name)):
            continue
        elif is_legacy_topic_name(name):
            if name not in legacy:
                problems.append(doc.problem(path, f"{name} is not declared under legacy_topics: declare it there "
                                            "(its data_type and key) to retire it, or remove it from the list"))
        else:
            problems.append(doc.problem(path, f"{name!r} is not K2's: a decommission lists exchange topics "
                                        f"({TOPIC_PATTERN}), their subjects ({subject_pattern}) or legacy topics "
                                        f"declared under legacy_topics ({' or '.join(LEGACY_SHAPES)}); K2 never "
                                        "deletes another team's topic. Remove it from the list"))


def _short(name: str) -> str:
    return name if len(name) <= 80 else f"{name[:60]}...{name[-12:]}"
