"""`k2 migrate cutover`: move a legacy consumer group onto the exchange topics, or back (--reverse).

Forward: the group read every legacy record below its committed offset on each legacy partition. On each
partition of the exchange topics, its new offset is that of the first copy (by its k2-source-* headers) of a
record it has not read, or of the first record that is no copy at all (an app wrote it): it misses nothing.
It re-reads nothing only if everything it read comes before that point on the partition; copies of several
legacy partitions interleave, so that holds when the group stopped at a clean point (caught up, typically).
Otherwise the cutover is refused with the count, unless --allow-rereads.

Reverse: the same from the group's offsets on the exchange topics back to legacy offsets.

Refused while the group has active members; the migration must have copied everything the group read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Message

from k2infra.migration.cluster import TP, Cluster, ClusterError
from k2infra.migration.context import Context, MigrationError
from k2infra.migration.reading import Progress, read_ranges
from k2infra.migration.transcode import source_of


@dataclass
class Cutover:
    group: str
    reverse: bool
    offsets: dict[TP, int] = field(default_factory=dict)  # what the group gets
    rereads: int = 0  # records the group has read that it would read again
    unread: int = 0  # records it will read next, up to now
    replaced: dict[TP, int] = field(default_factory=dict)  # its previous offsets on those partitions
    applied: bool = False

    def to_dict(self) -> dict[str, Any]:
        def by_topic(offsets: Mapping[TP, int]) -> dict[str, dict[str, int]]:
            out: dict[str, dict[str, int]] = {}
            for (topic, partition), offset in sorted(offsets.items()):
                out.setdefault(topic, {})[str(partition)] = offset
            return out

        return {"group": self.group, "direction": "reverse" if self.reverse else "forward",
                "offsets": by_topic(self.offsets), "rereads": self.rereads, "unread": self.unread,
                "replaced": by_topic(self.replaced), "applied": self.applied}


def cutover(ctx: Context, group: str, reverse: bool = False, allow_rereads: bool = False, dry_run: bool = False,
            progress: bool = True) -> Cutover:
    if group in (ctx.group,):
        raise MigrationError(f"{group} is the migration's own group, not a consumer group to move")
    cluster = ctx.cluster()
    partitions = ctx.legacy_partitions(cluster)
    targets = ctx.check_targets(cluster)
    try:
        state, members = cluster.group_state(group)
        if members:
            raise MigrationError(f"group {group} has {members} active member(s) ({state}): stop its consumers first; "
                                 "nothing was changed")
        legacy_offsets = cluster.committed(group, partitions)
        target_offsets = cluster.committed(group, targets)
        migrated = cluster.committed(ctx.group, partitions)
        legacy_starts = cluster.offsets(partitions, "earliest")
        starts = cluster.offsets(targets, "earliest")
        ends = cluster.offsets(targets, "latest")
    except ClusterError as err:
        raise MigrationError(str(err)) from None
    result = Cutover(group, reverse)
    position = {tp: max(migrated.get(tp, 0), start) for tp, start in legacy_starts.items()}
    if reverse:
        _reverse(ctx, group, target_offsets, position, starts, ends, result, progress)
        result.replaced = {tp: o for tp, o in legacy_offsets.items() if tp in result.offsets}
    else:
        _forward(ctx, group, legacy_offsets, partitions, position, starts, ends, result, progress)
        result.replaced = {tp: o for tp, o in target_offsets.items() if tp in result.offsets}
    if result.rereads and not allow_rereads:
        raise MigrationError(
            f"group {group} would read {result.rereads:,} record(s) again: the copies interleave records of several "
            "legacy partitions and the group stopped between them. Let it catch up (or reach the same point on every "
            "partition) and retry, or accept the re-reads with --allow-rereads (each copy names its source in its "
            "k2-source-* headers). Nothing was changed")
    if not dry_run:
        _apply(cluster, group, result)
    return result


def _forward(ctx: Context, group: str, read: Mapping[TP, int], partitions: Mapping[str, int],
             position: Mapping[TP, int], starts: Mapping[TP, int], ends: Mapping[TP, int], result: Cutover,
             progress: bool) -> None:
    topics = sorted({t for t, _ in read})
    if not topics:
        raise MigrationError(f"group {group} has no committed offsets on the legacy topics "
                             f"({', '.join(partitions)}): nothing to move")
    behind = [f"{t}[{p}]: group at {o:,}, migration at {position[(t, p)]:,}" for (t, p), o in sorted(read.items())
              if o > position[(t, p)]]
    if behind:
        raise MigrationError(f"the migration has not yet copied everything group {group} read ({'; '.join(behind)}): "
                             f"run `k2 migrate run --stack {ctx.stack}` first. Nothing was changed")
    wanted = {t for legacy in ctx.legacy if legacy.name in topics for t in legacy.target_topics}

    def consumed(message: Message) -> bool:
        origin = source_of(message.headers())
        if origin is None or origin[0] not in topics:
            return False  # not a copy of what the group reads: it has never seen it
        legacy_topic, partition, offset = origin
        return offset < read.get((legacy_topic, partition), 0)

    _scan(ctx, {tp: (starts[tp], ends[tp]) for tp in ends if tp[0] in wanted}, consumed, result, progress)


def _reverse(ctx: Context, group: str, read: Mapping[TP, int], position: Mapping[TP, int],
             starts: Mapping[TP, int], ends: Mapping[TP, int], result: Cutover, progress: bool) -> None:
    if not read:
        raise MigrationError(f"group {group} has no committed offsets on the exchange topics: nothing to move back")
    topics = {t for t, _ in read}
    sources = {legacy.name for legacy in ctx.legacy if set(legacy.target_topics) & topics}
    # Unread: at or after the group's offset on a target partition; and whatever is not copied yet.
    first_unread: dict[TP, int] = {tp: o for tp, o in position.items() if tp[0] in sources}
    consumed_at: dict[TP, list[int]] = {}

    def visit(message: Message) -> None:
        origin = source_of(message.headers())
        if origin is None or origin[0] not in sources:
            return
        tp, offset = (origin[0], origin[1]), origin[2]
        target = (message.topic() or "", message.partition() or 0)
        if (message.offset() or 0) < read.get(target, 0):
            consumed_at.setdefault(tp, []).append(offset)
        else:
            first_unread[tp] = min(first_unread.get(tp, offset), offset)
            result.unread += 1

    ranges = {tp: (starts[tp], ends[tp]) for tp in ends if tp[0] in topics}
    try:
        read_ranges(ctx.conf, ranges, visit, Progress("scanned", sum(e - s for s, e in ranges.values()))
                    if progress else None)
    except ClusterError as err:
        raise MigrationError(str(err)) from None
    result.offsets = dict(first_unread)
    result.rereads = sum(1 for tp, offsets in consumed_at.items() for o in offsets if o >= first_unread.get(tp, 0))


def _scan(ctx: Context, ranges: Mapping[TP, tuple[int, int]], consumed: Any, result: Cutover, progress: bool) -> None:
    """Per target partition: the offset of its first unread record; count the read ones after it."""
    first_unread: dict[TP, int] = {}
    after: dict[TP, int] = {}

    def visit(message: Message) -> None:
        tp = (message.topic() or "", message.partition() or 0)
        if consumed(message):
            if tp in first_unread:
                after[tp] = after.get(tp, 0) + 1
        else:
            first_unread.setdefault(tp, message.offset() or 0)
            result.unread += 1

    try:
        read_ranges(ctx.conf, ranges, visit, Progress("scanned", sum(e - s for s, e in ranges.values()))
                    if progress else None)
    except ClusterError as err:
        raise MigrationError(str(err)) from None
    # A partition whose records the group has all read: it resumes at the end, where new copies arrive.
    result.offsets = {tp: first_unread.get(tp, end) for tp, (_, end) in ranges.items()}
    result.rereads = sum(after.values())


def _apply(cluster: Cluster, group: str, result: Cutover) -> None:
    try:
        state, members = cluster.group_state(group)
        if members:
            raise MigrationError(f"group {group} has {members} active member(s) ({state}): stop its consumers first; "
                                 "nothing was changed")
        cluster.set_offsets(group, result.offsets)
    except ClusterError as err:
        raise MigrationError(f"{err}. The group's offsets may be partly set: run the cutover again") from None
    result.applied = True


def render(result: Cutover) -> list[str]:
    where, whence = ("legacy topics", "exchange topics") if result.reverse else ("exchange topics", "legacy topics")
    verb = "set" if result.applied else "would be set (dry run)"
    lines = [f"group {result.group}: offsets on the {where} {verb} from its offsets on the {whence}"]
    by_topic: dict[str, list[tuple[int, int]]] = {}
    for (topic, partition), offset in sorted(result.offsets.items()):
        by_topic.setdefault(topic, []).append((partition, offset))
    for topic, offsets in by_topic.items():
        shown = ", ".join(f"{p}:{o}" for p, o in offsets[:8]) + (" ..." if len(offsets) > 8 else "")
        lines.append(f"  {topic}: {shown}")
    lines.append(f"  next: {result.unread:,} record(s) the group has not read yet; re-reads: {result.rereads:,}")
    if result.replaced:
        lines.append(f"  replaced its previous offsets on {len(result.replaced)} partition(s)")
    return lines
