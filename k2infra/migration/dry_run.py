"""`k2 migrate plan`: what a migration would do, from the live cluster and registry, changing nothing.

It reads the legacy records the migration has not copied yet (all, or a sample), transcodes each exactly as a
run would (against topics.yaml's schemas, which `pulumi up` deploys), and says where each would go, which
records it would refuse and why, what must exist first, and which legacy topics are then to be retired, with
the design's "no consumers, no producers" checklist checked on the cluster.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Message

from k2infra.clients.schema_catalog import SubjectSchema
from k2infra.migration.cluster import TP, Cluster, ClusterError
from k2infra.migration.context import Context, MigrationError, planned_schema
from k2infra.migration.reading import READER_GROUP, Progress, read_ranges
from k2infra.migration.transcode import REASONS, Copy, TargetSchemas, Transcoder
from k2infra.model.avro_files import same_schema
from k2infra.observed.measure import byte_size

EXAMPLES = 3  # examples kept per refusal reason
QUIET_SECONDS = 300.0  # a legacy topic written to within this time still has producers


@dataclass
class Tally:
    records: int = 0
    bytes: int = 0

    def add(self, size: int) -> None:
        self.records += 1
        self.bytes += size


@dataclass
class Refusals:
    count: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class LegacyStatus:
    topic: str
    partitions: int
    records: int  # still to copy: from the migration's position (or the log start) to the end
    copied: int  # before the migration's position
    read: int = 0
    last_write_ms: int | None = None


@dataclass
class Check:
    ok: bool
    text: str


@dataclass
class DryRun:
    stack: str
    environment: str
    servers: str
    group: str
    sample: int | None
    dead_letter: str | None
    legacy: list[LegacyStatus] = field(default_factory=list)
    targets: dict[str, Tally] = field(default_factory=dict)
    refused: dict[str, Refusals] = field(default_factory=dict)
    create_topics: list[str] = field(default_factory=list)
    register_subjects: list[str] = field(default_factory=list)
    decommission: list[str] = field(default_factory=list)
    checklist: list[Check] = field(default_factory=list)

    @property
    def refusing(self) -> bool:
        """Records a run would stop at (no dead-letter topic to send them to)."""
        return bool(self.refused) and self.dead_letter is None

    @property
    def read(self) -> int:
        return sum(s.read for s in self.legacy)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack, "environment": self.environment, "bootstrap_servers": self.servers,
            "migration_group": self.group, "sample": self.sample, "dead_letter": self.dead_letter,
            "legacy": [vars(s) for s in self.legacy],
            "copy": {t: vars(n) for t, n in sorted(self.targets.items())},
            "refused": {r: {"reason": REASONS[r], "count": v.count, "examples": v.examples}
                        for r, v in self.refused.items()},
            "refusing": self.refusing,
            "create_topics": self.create_topics, "register_subjects": self.register_subjects,
            "decommission": self.decommission,
            "checklist": [{"ok": c.ok, "check": c.text} for c in self.checklist],
        }


def dry_run(ctx: Context, sample: int | None = None, dead_letter: str | None = None,
            progress: bool = True, quiet_seconds: float = QUIET_SECONDS) -> DryRun:
    topology = ctx.topology
    report = DryRun(ctx.stack, topology.environment, ctx.servers, ctx.group, sample, dead_letter)
    ctx.check_dead_letter(dead_letter)
    cluster = ctx.cluster()
    partitions = ctx.legacy_partitions(cluster)
    registered = _registered(ctx, report)
    on_cluster = _cluster_topics(cluster)
    report.create_topics = sorted(t.name for t in topology.topics if t.name not in on_cluster)
    if dead_letter and dead_letter not in on_cluster:
        raise MigrationError(f"dead-letter topic {dead_letter} does not exist on the cluster at {ctx.servers}: "
                             "create it first")
    try:
        starts = cluster.offsets(partitions, "earliest")
        ends = cluster.offsets(partitions, "latest")
        position = cluster.committed(ctx.group, partitions)
        last_writes = cluster.last_writes(partitions)
    except ClusterError as err:
        raise MigrationError(str(err)) from None
    ranges = _ranges(partitions, starts, ends, position, sample)
    for name, count in partitions.items():
        tps = [(name, p) for p in range(count)]
        writes = [w for tp in tps if (w := last_writes.get(tp)) is not None]
        report.legacy.append(LegacyStatus(
            name, count, records=sum(max(ends[tp] - max(starts[tp], position.get(tp, 0)), 0) for tp in tps),
            copied=sum(max(position.get(tp, 0) - starts[tp], 0) for tp in tps),
            last_write_ms=max(writes) if writes else None))
    transcoders = {t.name: Transcoder(t, ctx.registry.writer_schema, _schemas(ctx, registered))
                   for t in ctx.legacy}
    status = {s.topic: s for s in report.legacy}

    def tally(message: Message) -> None:
        topic, partition, offset = message.topic() or "", message.partition() or 0, message.offset()
        status[topic].read += 1
        result = transcoders[topic].transcode(message.key(), message.value(), message.timestamp()[1])
        if isinstance(result, Copy):
            report.targets.setdefault(result.target.topic, Tally()).add(result.size)
        else:
            found = report.refused.setdefault(result.reason, Refusals())
            found.count += 1
            if len(found.examples) < EXAMPLES:
                found.examples.append(f"{topic}[{partition}]@{offset}: {result.detail}")

    total = sum(end - start for start, end in ranges.values())
    try:
        read_ranges(ctx.conf, ranges, tally, Progress("read", total) if progress and total else None)
    except ClusterError as err:
        raise MigrationError(str(err)) from None
    report.refused = {r: report.refused[r] for r in REASONS if r in report.refused}
    report.decommission = sorted(partitions)
    report.checklist = _checklist(ctx, cluster, report, quiet_seconds)
    return report


def _registered(ctx: Context, report: DryRun) -> dict[str, int]:
    """Subject -> the id of the registered schema that equals topics.yaml's; lists subjects to register."""
    from confluent_kafka.schema_registry import SchemaRegistryError

    existing = ctx.registry.subjects()
    out = {}
    for subject in ctx.topology.subjects:
        if subject.subject not in existing:
            report.register_subjects.append(subject.subject)
            continue
        try:
            latest = ctx.registry.client.get_latest_version(subject.subject)
        except SchemaRegistryError as err:
            raise MigrationError(f"cannot read {subject.subject} from the registry at {ctx.registry.url}: "
                                 f"{err}") from None
        if same_schema(latest.schema.schema_str, subject.schema) and latest.schema_id is not None:
            out[subject.subject] = latest.schema_id
        else:
            report.register_subjects.append(f"{subject.subject} (a new version, from {subject.schema_file})")
    return out


def _schemas(ctx: Context, registered: Mapping[str, int]) -> TargetSchemas:
    by_topic = {t.name: ctx.topology.subject_of(t) for t in ctx.topology.topics}
    subjects = {s.subject: s for s in ctx.topology.subjects}
    cache: dict[str, SubjectSchema] = {}

    def schema(topic: str) -> SubjectSchema:
        subject = subjects[by_topic[topic]]
        if subject.subject not in cache:
            cache[subject.subject] = planned_schema(subject.subject, subject.schema, subject.partition_key, registered)
        return cache[subject.subject]

    return schema


def _cluster_topics(cluster: Cluster) -> set[str]:
    try:
        return set(cluster.partitions())
    except ClusterError as err:
        raise MigrationError(str(err)) from None


def _ranges(partitions: Mapping[str, int], starts: Mapping[TP, int], ends: Mapping[TP, int],
            position: Mapping[TP, int], sample: int | None) -> dict[TP, tuple[int, int]]:
    """What is left to copy per partition, or a sample of it: `sample` records per legacy topic, spread over
    its partitions from the migration's position."""
    out: dict[TP, tuple[int, int]] = {}
    for name, count in partitions.items():
        spans = {(name, p): (max(starts[(name, p)], position.get((name, p), 0)), ends[(name, p)]) for p in range(count)}
        if sample is not None:
            spans = _spread(spans, sample)
        out |= spans
    return out


def _spread(spans: dict[TP, tuple[int, int]], sample: int) -> dict[TP, tuple[int, int]]:
    """At most `sample` records in all, as evenly over the partitions as their sizes allow."""
    left = {tp: end - start for tp, (start, end) in spans.items()}
    take = dict.fromkeys(spans, 0)
    budget = sample
    while budget > 0 and any(left.values()):
        open_ = [tp for tp, n in left.items() if n > 0]
        share = max(budget // len(open_), 1)
        for tp in open_:
            step = min(share, left[tp], budget)
            take[tp] += step
            left[tp] -= step
            budget -= step
            if budget == 0:
                break
    return {tp: (start, start + take[tp]) for tp, (start, _) in spans.items()}


def _checklist(ctx: Context, cluster: Cluster, report: DryRun, quiet_seconds: float) -> list[Check]:
    """The design's pre-migration checklist, on the live cluster: before the legacy topics are retired."""
    names = {s.topic for s in report.legacy}
    targets = {t for legacy in ctx.legacy for t in legacy.target_topics}
    try:
        partitions = cluster.partitions(names | targets)
        groups = [g for g in cluster.groups_using(partitions, skip={ctx.group, READER_GROUP})
                  if names & set(g.topics)]
    except ClusterError as err:
        raise MigrationError(str(err)) from None
    checks = []
    active = [g for g in groups if g.members_on(names)]
    # An idle group with offsets on the exchange topics too has been cut over (its legacy offsets stay, for --reverse).
    idle = [g for g in groups if not g.members_on(names) and not targets & set(g.topics)]
    checks.append(Check(not active, "no consumers: " + ("no consumer group has members on the legacy topics" if not
                        active else "; ".join(f"group {g.group} has {g.members_on(names)} member(s) on "
                                              f"{', '.join(sorted(names & set(g.topics)))}" for g in active))))
    if idle:
        checks.append(Check(False, "no consumer left behind: " + "; ".join(
            f"group {g.group} has committed offsets on {', '.join(sorted(names & set(g.topics)))} (move it: "
            f"k2 migrate cutover --stack {ctx.stack} --group {g.group})" for g in idle)))
    now_ms = time.time() * 1000
    recent = [(s.topic, (now_ms - s.last_write_ms) / 1000) for s in report.legacy
              if s.last_write_ms is not None and now_ms - s.last_write_ms < quiet_seconds * 1000]
    checks.append(Check(not recent, "no producers: " + ("no write in the last " + _ago(quiet_seconds) if not recent
                        else "; ".join(f"{t} was written {_ago(age)} ago" for t, age in recent))))
    pending = sum(s.records for s in report.legacy)
    checks.append(Check(pending == 0, "every record copied: " + ("the migration's position is at the end of every "
                        "legacy partition" if pending == 0 else f"{pending:,} record(s) not copied yet "
                        f"(k2 migrate run --stack {ctx.stack})")))
    return checks


def _ago(seconds: float) -> str:
    seconds = max(seconds, 0)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def render(report: DryRun) -> list[str]:
    """The dry run for people, in the design's "DRY RUN: Would ..." lines."""
    env = report.environment
    sampled = f"a sample of {report.sample:,} per topic" if report.sample is not None else "all"
    lines = [f"DRY RUN against {report.servers} (stack {report.stack}, environment {env}): nothing is written"]
    lines.append(f"DRY RUN: Would create topics: {report.create_topics}"
                 + (f"  (pulumi up --stack {report.stack}, before k2 migrate run)" if report.create_topics else ""))
    lines.append(f"DRY RUN: Would register schemas: {report.register_subjects}"
                 + ("  (the same pulumi up)" if report.register_subjects else ""))
    for status in report.legacy:
        copied = f", {status.copied:,} copied already" if status.copied else ""
        lines.append(f"  legacy {status.topic}: {status.partitions} partition(s), {status.records:,} record(s) to "
                     f"copy{copied}; read {status.read:,} ({sampled})")
    copying = sum(t.records for t in report.targets.values())
    lines.append(f"DRY RUN: Would copy {copying:,} of the {report.read:,} record(s) read:")
    width = max((len(t) for t in report.targets), default=0)
    for topic, tally in sorted(report.targets.items()):
        size = byte_size(tally.bytes, unit="B", grouped=False)
        lines.append(f"  {topic:<{width}}  {tally.records:>10,} records  {size:>10}")
    refused = sum(r.count for r in report.refused.values())
    if refused:
        where = (f"to the dead-letter topic {report.dead_letter}" if report.dead_letter else
                 "refused: k2 migrate run stops at the first unless given --dead-letter TOPIC")
        lines.append(f"DRY RUN: Would not route {refused:,} record(s), {where}:")
        for reason, found in report.refused.items():
            lines.append(f"  {REASONS[reason]}: {found.count:,}")
            lines += [f"    e.g. {example}" for example in found.examples]
    else:
        lines.append("DRY RUN: Every record read routes to an exchange topic")
    lines.append(f"DRY RUN: Would decommission topics: {report.decommission}  (later, never by k2 migrate: list them "
                 f"under environments.{env}.decommission once verified and cut over, then pulumi up twice)")
    for check in report.checklist:
        lines.append(f"  [{'x' if check.ok else ' '}] {check.text}")
    return lines
