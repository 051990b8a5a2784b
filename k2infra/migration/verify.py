"""`k2 migrate verify`: the legacy records the migration has committed as copied, against what the exchange
topics hold: counts per exchange and data type, and a digest per key (and legacy partition) of every record's
source offset, timestamp and value, so a record lost, doubled, reordered or changed shows where it is.

Only the copies (records with the k2-source-* headers) count on the exchange topics: records that apps wrote
there themselves are counted apart. Records after the migration's position are pending, not differences.
"""

from __future__ import annotations

import hashlib
from array import array
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Message

from k2infra.migration.cluster import ClusterError
from k2infra.migration.context import Context, MigrationError
from k2infra.migration.reading import Progress, read_ranges
from k2infra.migration.transcode import REASONS, REFUSED_REASON, Copy, header, source_of

SHOWN = 10  # differences listed (all are counted)
Stream = tuple[str, str, str, int]  # (target topic, key, legacy topic, legacy partition)


@dataclass
class _Side:
    """One side's records per stream: their source offsets in arrival order and a digest of their contents."""

    offsets: dict[Stream, array] = field(default_factory=dict)
    digests: dict[Stream, Any] = field(default_factory=dict)

    def add(self, stream: Stream, offset: int, timestamp: int, value: bytes | None) -> None:
        found = self.offsets.get(stream)
        if found is None:
            found = self.offsets[stream] = array("q")
            self.digests[stream] = hashlib.sha256()
        found.append(offset)
        digest = self.digests[stream]
        digest.update(offset.to_bytes(8, "big", signed=True) + timestamp.to_bytes(8, "big", signed=True))
        digest.update(b"\x00" if value is None else b"\x01" + len(value).to_bytes(4, "big") + value)


@dataclass
class Difference:
    topic: str
    key: str
    legacy: str  # legacy topic[partition]
    source: int  # records on the legacy side
    target: int  # copies on the target side
    detail: str

    def __str__(self) -> str:
        return (f"{self.topic} key {self.key!r} (from {self.legacy}): {self.source} legacy record(s), "
                f"{self.target} copie(s): {self.detail}")


@dataclass
class Verification:
    stack: str
    group: str
    compared: int = 0  # legacy records up to the migration's position
    pending: int = 0  # legacy records after it (not copied yet)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # "asset_class.exchange.data_type" -> both sides
    refused: dict[str, int] = field(default_factory=dict)  # reason -> legacy records that route nowhere
    dead_lettered: dict[str, int] | None = None  # reason -> records found on the dead-letter topic
    keys: int = 0
    differences: list[Difference] = field(default_factory=list)
    different: int = 0
    other_records: int = 0  # on the exchange topics, not copied by the migration (apps writing there)
    later_copies: int = 0  # copies of records after the position read (a run still going)
    undecodable: int = 0  # copies whose value does not decode
    problems: list[str] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        dead_ok = self.dead_lettered is None or self.dead_lettered == self.refused
        return self.different == 0 and dead_ok and all(c["legacy"] == c["copied"] for c in self.counts.values())

    def to_dict(self) -> dict[str, Any]:
        return {"stack": self.stack, "migration_group": self.group, "equal": self.equal, "compared": self.compared,
                "pending": self.pending, "counts": self.counts, "refused": self.refused,
                "dead_lettered": self.dead_lettered, "keys": self.keys, "different_keys": self.different,
                "differences": [vars(d) for d in self.differences], "other_records": self.other_records,
                "later_copies": self.later_copies, "undecodable_copies": self.undecodable, "problems": self.problems}


def verify(ctx: Context, dead_letter: str | None = None, progress: bool = True) -> Verification:
    report = Verification(ctx.stack, ctx.group)
    cluster = ctx.cluster()
    partitions = ctx.legacy_partitions(cluster)
    targets = ctx.check_targets(cluster, dead_letter)
    try:
        # The position first: every copy it covers is committed, so the target ends read after it hold them.
        position = cluster.committed(ctx.group, partitions)
        starts = cluster.offsets(partitions, "earliest")
        ends = cluster.offsets(partitions, "latest")
        out_parts = {**targets, **(cluster.partitions([dead_letter]) if dead_letter else {})}
        target_starts = cluster.offsets(out_parts, "earliest")
        target_ends = cluster.offsets(out_parts, "latest")
    except ClusterError as err:
        raise MigrationError(str(err)) from None
    upto = {tp: max(position.get(tp, 0), starts[tp]) for tp in starts}
    report.pending = sum(max(ends[tp] - upto[tp], 0) for tp in ends)
    legacy_side, target_side = _Side(), _Side()
    transcoders = ctx.transcoders(fast=False)  # the slow path: independent of the fast one runs use
    names = {t.topic: f"{t.asset_class}.{t.exchange}.{legacy.data_type}" for legacy in ctx.legacy
             for t in legacy.targets.values()}
    for name in sorted(set(names.values())):
        report.counts[name] = {"legacy": 0, "copied": 0}

    def source(message: Message) -> None:
        topic, partition, offset = message.topic() or "", message.partition() or 0, message.offset() or 0
        timestamp = message.timestamp()[1]
        result = transcoders[topic].transcode(message.key(), message.value(), timestamp)
        report.compared += 1
        if isinstance(result, Copy):
            stream = (result.target.topic, result.key.decode(), topic, partition)
            legacy_side.add(stream, offset, max(timestamp, 0), result.value)
            report.counts[names[result.target.topic]]["legacy"] += 1
        else:
            report.refused[result.reason] = report.refused.get(result.reason, 0) + 1

    def target(message: Message) -> None:
        topic = message.topic() or ""
        origin = source_of(message.headers())
        if origin is None or origin[0] not in partitions:
            report.other_records += 1
            return
        legacy_topic, partition, offset = origin
        if offset >= upto.get((legacy_topic, partition), 0):
            report.later_copies += 1
            return
        if topic == dead_letter:
            reason = header(message.headers(), REFUSED_REASON) or ""
            assert report.dead_lettered is not None
            report.dead_lettered[reason] = report.dead_lettered.get(reason, 0) + 1
            return
        key = (message.key() or b"").decode("utf-8", "replace")
        target_side.add((topic, key, legacy_topic, partition), offset, max(message.timestamp()[1], 0),
                        _canonical(ctx, topic, message.value(), report))
        report.counts[names[topic]]["copied"] += 1

    if dead_letter:
        report.dead_lettered = {}
    total = sum(upto[tp] - starts[tp] for tp in starts)
    try:
        read_ranges(ctx.conf, {tp: (starts[tp], upto[tp]) for tp in starts}, source,
                    Progress("verified (legacy)", total) if progress and total else None)
        read_ranges(ctx.conf, {tp: (target_starts[tp], target_ends[tp]) for tp in target_ends}, target,
                    Progress("verified (copies)", None) if progress else None)
    except ClusterError as err:
        raise MigrationError(str(err)) from None
    report.refused = {r: report.refused[r] for r in REASONS if r in report.refused}
    if report.dead_lettered is not None:
        report.dead_lettered = {r: report.dead_lettered[r] for r in REASONS if r in report.dead_lettered}
    _compare(legacy_side, target_side, report)
    return report


def _canonical(ctx: Context, topic: str, value: bytes | None, report: Verification) -> bytes | None:
    """A copy's value as the slow path writes it (so a copy the fast path made compares alike)."""
    if value is None:
        return None
    try:
        return ctx.canonical(topic, value)
    except ValueError as err:
        report.undecodable += 1
        if len(report.problems) < SHOWN:
            report.problems.append(f"{topic}: a copy does not decode: {err}")
        return value  # compared as it is: it differs


def _compare(legacy: _Side, target: _Side, report: Verification) -> None:
    streams = sorted(set(legacy.offsets) | set(target.offsets))
    report.keys = len({(s[0], s[1]) for s in streams})
    for stream in streams:
        ours, theirs = legacy.offsets.get(stream, array("q")), target.offsets.get(stream, array("q"))
        if ours == theirs and legacy.digests[stream].digest() == target.digests[stream].digest():
            continue
        report.different += 1
        if len(report.differences) < SHOWN:
            report.differences.append(Difference(stream[0], stream[1], f"{stream[2]}[{stream[3]}]", len(ours),
                                                 len(theirs), _where(ours, theirs)))


def _where(ours: array, theirs: array) -> str:
    """Which source offsets are missing, doubled or out of order on the target side, or that contents differ."""
    mine, copies = list(ours), list(theirs)
    missing = sorted(set(mine) - set(copies))
    counted: dict[int, int] = {}
    for offset in copies:
        counted[offset] = counted.get(offset, 0) + 1
    doubled = sorted(o for o, n in counted.items() if n > 1)
    extra = sorted(set(copies) - set(mine))
    parts = []
    if missing:
        parts.append(f"missing legacy offset(s) {_few(missing)}")
    if doubled:
        parts.append(f"copied twice: offset(s) {_few(doubled)}")
    if extra:
        parts.append(f"copies of offset(s) {_few(extra)} that route elsewhere now")
    if not parts:
        if copies != mine:
            first = next(i for i, (a, b) in enumerate(zip(mine, copies, strict=False)) if a != b)
            parts.append(f"out of order from the {first + 1}. record (legacy offset {mine[first]}, copy of "
                         f"{copies[first]})")
        else:
            parts.append("same records, different contents (value or timestamp)")
    return "; ".join(parts)


def _few(offsets: list[int]) -> str:
    shown = ", ".join(map(str, offsets[:5]))
    return shown + (f" and {len(offsets) - 5} more" if len(offsets) > 5 else "")


def render(report: Verification) -> list[str]:
    lines = [f"verify (stack {report.stack}, migration group {report.group}): "
             f"{report.compared:,} legacy record(s) up to the migration's position, {report.pending:,} after it "
             "(not copied yet)"]
    width = max((len(n) for n in report.counts), default=0)
    for name, counts in report.counts.items():
        mark = "=" if counts["legacy"] == counts["copied"] else "!"
        lines.append(f"  {mark} {name:<{width}}  legacy {counts['legacy']:>9,}  copied {counts['copied']:>9,}")
    if report.refused:
        lines.append("  not routable: " + ", ".join(f"{REASONS[r]} {n:,}" for r, n in report.refused.items()))
    if report.dead_lettered is not None:
        mark = "=" if report.dead_lettered == report.refused else "!"
        found = ", ".join(f"{REASONS.get(r, r)} {n:,}" for r, n in report.dead_lettered.items()) or "none"
        lines.append(f"  {mark} on the dead-letter topic: {found}")
    lines.append(f"  {report.keys:,} key(s) compared by digest; {report.different:,} differ")
    lines += [f"  ! {d}" for d in report.differences]
    lines += [f"  ! {p}" for p in report.problems]
    if report.different > len(report.differences):
        lines.append(f"  ... and {report.different - len(report.differences):,} more")
    if report.other_records:
        lines.append(f"  {report.other_records:,} record(s) on the exchange topics were not copied by the migration "
                     "(written there by apps): not compared")
    if report.later_copies:
        lines.append(f"  {report.later_copies:,} copie(s) of records after the position read (a run is going)")
    lines.append("EQUAL: every legacy record up to the migration's position is on its exchange topic exactly once, "
                 "in order" if report.equal else "DIFFERENT: see above")
    return lines
