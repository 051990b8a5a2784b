"""Regions (topics.yaml `regions:`): which region each exchange is homed in, and which regions aggregate which.

Each region is a cluster and a registry of its own, managed by its own stack (`k2:region`), all from the one
topics.yaml. A region's topics are those of its home exchanges, plus a mirror of every topic homed in a region it
aggregates, under the same name (MirrorMaker 2's identity replication policy), so the design's five subscription
patterns read the same in every region. Aggregation is one hop: a region mirrors the home topics of the regions
it names, never their mirrors, so each record crosses at most one flow and no topic is replicated twice.

Refused, located: an unknown region or exchange, an exchange homed in two regions or in none, a region aggregating
itself, and a cycle of aggregations (MirrorMaker's identity policy cannot tell a record back from where it came).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

from k2infra.contracts.input_files import KeyPath
from k2infra.model.entities import Exchange, Topic
from k2infra.model.errors import Problem
from k2infra.model.kafka_configs import suggest
from k2infra.model.source import SourceDoc
from k2infra.model.spec import RegionSpec, TopologySpec

# A region names a stack (prod-<region>) and MirrorMaker's cluster alias, which may not hold a dot.
REGION_NAME = re.compile(r"[a-z][a-z0-9-]{0,30}")


@dataclass(frozen=True)
class Region:
    name: str
    home: tuple[tuple[str, str], ...]  # (asset class, exchange) homed here
    aggregates: tuple[str, ...] = ()  # the regions whose home topics are mirrored here


@dataclass(frozen=True)
class ReplicationFlow:
    """MirrorMaker 2's flow from one region into another: the exact topics it copies, by name."""

    source: str
    target: str
    topics: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.source}->{self.target}"


@dataclass(frozen=True)
class RegionMap:
    regions: Mapping[str, Region]

    def home_of(self, asset_class: str, exchange: str) -> str:
        return next(r.name for r in self.regions.values() if (asset_class, exchange) in r.home)

    def exchanges_in(self, region: str) -> dict[tuple[str, str], str]:
        """(asset class, exchange) -> its home region, for every exchange whose topics `region` holds."""
        here = self.regions[region]
        held = {key: region for key in here.home}
        for source in here.aggregates:
            held |= {key: source for key in self.regions[source].home}
        return held


Held = tuple[list[Topic], list[Exchange], tuple["ReplicationFlow", ...]]


def in_region(regions: RegionMap | None, region: str | None, topics: list[Topic], exchanges: list[Exchange],
              doc: SourceDoc, problems: list[Problem]) -> Held:
    """The topics and exchanges `region`'s stack holds (home ones, then mirrors) and the flows into it. Without a
    region: everything, each topic marked with its home region when the file declares regions."""
    if regions is None:
        if region is not None and not problems:
            problems.append(doc.problem(("regions",), f"the stack's region is {region!r} (k2:region), but "
                                        "topics.yaml declares no regions: add a regions: section, or unset k2:region"))
        return topics, exchanges, ()
    if region is None:
        return [replace(t, home_region=regions.home_of(t.asset_class, t.exchange)) for t in topics], exchanges, ()
    if region not in regions.regions:
        problems.append(doc.problem(("regions",), f"no region {region!r} (the stack's k2:region)"
                                    f"{suggest(region, regions.regions)}; known: {', '.join(regions.regions)}"))
        return topics, exchanges, ()
    held = regions.exchanges_in(region)
    kept = [replace(t, home_region=home, mirrored=home != region) for t in topics
            if (home := held.get((t.asset_class, t.exchange)))]
    flows = tuple(ReplicationFlow(source, region, tuple(sorted(t.name for t in kept if t.home_region == source)))
                  for source in regions.regions[region].aggregates)
    return kept, [e for e in exchanges if (e.asset_class, e.code) in held], flows


def check_regions(spec: TopologySpec, doc: SourceDoc, problems: list[Problem]) -> RegionMap | None:
    """The file's regions, checked; None when it declares none (one cluster holds every exchange)."""
    if not spec.regions:
        return None
    before = len(problems)
    homes = _homes(spec, doc, problems)
    for name, region in spec.regions.items():
        path: KeyPath = ("regions", name)
        if not REGION_NAME.fullmatch(name):
            problems.append(doc.problem(path, f"region {name!r}: lower-case letters, digits and '-', starting with "
                                        "a letter, at most 31 (it names a stack and MirrorMaker's cluster alias)"))
        if not region.exchanges and not region.aggregates:
            problems.append(doc.problem(path, "a region needs home exchanges (exchanges:) or regions it aggregates "
                                        "(aggregates:)"))
        _check_aggregates(name, region, spec.regions, doc, problems)
    _check_cycles(spec.regions, doc, problems)
    if len(problems) > before:
        return None
    return RegionMap({name: Region(name, tuple(homes.get(name, ())), tuple(r.aggregates))
                      for name, r in spec.regions.items()})


def _homes(spec: TopologySpec, doc: SourceDoc, problems: list[Problem]) -> dict[str, list[tuple[str, str]]]:
    known = {f"{ac}.{ex}": (ac, ex) for ac, acs in spec.asset_classes.items() for ex in acs.exchanges}
    homed: dict[str, str] = {}  # "asset_class.exchange" -> region
    homes: dict[str, list[tuple[str, str]]] = {}
    for name, region in spec.regions.items():
        for index, ref in enumerate(region.exchanges):
            path: KeyPath = ("regions", name, "exchanges", index)
            if ref not in known:
                problems.append(doc.problem(path, f"unknown exchange {ref!r}{suggest(ref, known)}; an exchange is "
                                            f"written asset_class.exchange, e.g. {next(iter(known), 'equities.asx')}"))
            elif ref in homed:
                problems.append(doc.problem(path, f"{ref} is already homed in region {homed[ref]}: an exchange's feed "
                                            "is produced in one region only"))
            else:
                homed[ref] = name
                homes.setdefault(name, []).append(known[ref])
    for ref, (ac, ex) in known.items():
        if ref not in homed:
            problems.append(doc.problem(("asset_classes", ac, "exchanges", ex), f"{ref} is homed in no region: list "
                                        "it under regions.<region>.exchanges (the region whose cluster its feed "
                                        "handler writes to)"))
    return homes


def _check_aggregates(name: str, region: RegionSpec, regions: Mapping[str, RegionSpec], doc: SourceDoc,
                      problems: list[Problem]) -> None:
    seen: set[str] = set()
    for index, other in enumerate(region.aggregates):
        path: KeyPath = ("regions", name, "aggregates", index)
        if other == name:
            problems.append(doc.problem(path, f"region {name} aggregates itself: its home topics are already there"))
        elif other not in regions:
            problems.append(doc.problem(path, f"unknown region {other!r}{suggest(other, regions)}; "
                                        f"known: {', '.join(regions)}"))
        elif other in seen:
            problems.append(doc.problem(path, f"region {other} is listed twice"))
        seen.add(other)


def _check_cycles(regions: Mapping[str, RegionSpec], doc: SourceDoc, problems: list[Problem]) -> None:
    """A problem at each entry that closes a cycle of aggregations (a depth-first search: linear in the entries,
    whatever a hostile file declares)."""
    done: set[str] = set()
    for start in regions:
        if start in done:
            continue
        path: list[str] = [start]
        entries: list[Iterator[tuple[int, str]]] = [iter(enumerate(regions[start].aggregates))]
        while entries:
            step = next(entries[-1], None)
            if step is None:
                done.add(path.pop())
                entries.pop()
                continue
            index, other = step
            if other in path and other != path[-1]:  # back to a region on the path (itself: _check_aggregates)
                _cycle(path[path.index(other):], index, doc, problems)
            elif other in regions and other not in done and other not in path:
                path.append(other)
                entries.append(iter(enumerate(regions[other].aggregates)))


def _cycle(cycle: list[str], index: int, doc: SourceDoc, problems: list[Problem]) -> None:
    loop = " -> ".join([*cycle, cycle[0]])
    problems.append(doc.problem(("regions", cycle[-1], "aggregates", index),
                                f"replication cycle: {loop} (each aggregates the next); a record would be copied "
                                "back to its home region: aggregate into a region that aggregates nothing back"))
