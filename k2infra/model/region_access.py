"""The apps' grants in one region's cluster (k2infra/model/regions.py): what they name there, nothing more.

Reads follow the topics the region holds, home and mirrored alike: a consumer in the aggregate subscribes by the
same names. Writes stop at the region's home topics: a mirror is written by MirrorMaker alone, so in a region that
holds mirrors a producer's prefixed grant becomes literal grants on the home topics it covers, and a grant on a
mirror or on a topic the region does not hold is dropped. An app left with no topic in the region is not there
at all: no ACLs, no user, no quota.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from k2infra.model.access import CONSUME, PRODUCE, App, Binding
from k2infra.model.entities import Topic


def apps_in_region(apps: Iterable[App], held: Sequence[Topic]) -> tuple[App, ...]:
    home = {t.name for t in held if not t.mirrored}
    names = {t.name for t in held}
    mirrors = bool(names - home)
    out = []
    for app in apps:
        topics = [b for b in app.bindings if b.resource_type == "Topic"]
        kept = [*_reads(topics, names), *_writes(app, topics, home, mirrors)]
        if not kept:
            continue
        others = [b for b in app.bindings if b.resource_type != "Topic"]
        out.append(replace(app, produces=tuple(n for n in app.produces if n in home),
                           consumes=tuple(n for n in app.consumes if n in names),
                           bindings=tuple(sorted(set(kept) | set(others)))))
    return tuple(out)


def _covers(binding: Binding, name: str) -> bool:
    return name.startswith(binding.name) if binding.pattern == "Prefixed" else name == binding.name


def _grants(bindings: Sequence[Binding], operation: str) -> list[Binding]:
    return [b for b in bindings if b.operation == operation]


def _reads(bindings: Sequence[Binding], names: set[str]) -> Iterable[Binding]:
    for grant in _grants(bindings, "Read"):
        if any(_covers(grant, n) for n in names):
            yield from (replace(grant, operation=op) for op in CONSUME)


def _writes(app: App, bindings: Sequence[Binding], home: set[str], mirrors: bool) -> Iterable[Binding]:
    for grant in _grants(bindings, "Write"):
        if grant.pattern == "Prefixed" and not mirrors:
            if any(_covers(grant, n) for n in home):
                yield from (replace(grant, operation=op) for op in PRODUCE)
            continue
        for name in sorted(n for n in home if _covers(grant, n) and n in app.produces):
            yield from (replace(grant, pattern="Literal", name=name, operation=op) for op in PRODUCE)
