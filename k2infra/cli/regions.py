"""`k2 regions`: operating MirrorMaker 2's regions (docs/regions.md). `failover` moves a consumer group from its
home region to the aggregating region at MirrorMaker's translated offsets (k2infra/migration/failover.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from k2infra.cli.common import TOPICS, ConfigOption, JsonOption, StackOption, credentials, fail, out

group = typer.Typer(help="MirrorMaker 2's regions: consumer-group failover into an aggregating region.",
                    no_args_is_help=True)
OutputsOption = Annotated[Path | None, typer.Option(envvar="K2_STACK_OUTPUTS", help="The aggregate stack's outputs "
                                                    "as JSON (`pulumi stack output --json`); default: ask Pulumi "
                                                    "for --stack's.")]


@group.command()
def failover(group_id: Annotated[str, typer.Option("--group", "-g", help="The consumer group to move.")],
             source: Annotated[str, typer.Option("--from", help="The group's home region (a flow's source).")],
             stack: StackOption = None, config: ConfigOption = TOPICS, outputs: OutputsOption = None,
             dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be committed; commit "
                                                   "nothing.")] = False,
             as_json: JsonOption = False,
             timeout: Annotated[float, typer.Option(help="Seconds each cluster call may take.")] = 60.0) -> None:
    """Move GROUP from its home region to --stack's (aggregating) region at the offsets MirrorMaker translated.

    Refused (exit 2) while the group has members in either region. Reports per topic how many records the group
    will read again there. Logs in as the other operator commands do (the stack's settings, K2_KAFKA_* overrides);
    the home region is reached at its flow's source_bootstrap_servers with the same login."""
    from k2infra.migration.failover import FailoverError, commit, plan
    from k2infra.monitoring.replication import home_conf
    from k2infra.monitoring.target import TargetError, load_target
    from k2infra.observed.failures import Unreachable

    command = "k2 regions failover"
    if not group_id.strip():
        fail(f"{command}: --group is empty: name the consumer group to move")
    try:
        target = load_target(stack, config.parent, outputs)
        aggregate = target.kafka_conf(credentials(stack, config) if stack is not None else None)
    except TargetError as error:
        fail(f"{command}: {error}")
    where = target.outputs.source
    flows = target.outputs.replication
    if not flows:
        fail(f"{command}: {where}: no replication flows: stack {target.outputs.stack or stack} is not an "
             "aggregating region (topics.yaml regions: ... aggregates:, and k2:region on the stack)")
    flow = next((f for f in flows if f.source == source), None)
    if flow is None:
        fail(f"{command}: --from {source!r}: {where} has no flow from that region; its flows come from "
             f"{', '.join(sorted(f.source for f in flows))}")
    try:
        home = home_conf(aggregate, flow)
        moved = plan(home, aggregate, flow.source, flow.target, flow.topics, group_id, timeout)
        if not dry_run:
            commit(aggregate, moved, timeout)
    except LookupError as error:
        fail(f"{command}: {where}: {error}")
    except FailoverError as error:
        fail(f"{command}: {error}", error.code)
    except Unreachable as error:
        fail(f"{command}: {error}")
    if as_json:
        out.print_json(json.dumps(moved.to_dict() | {"dry_run": dry_run}))
        return
    verb = "would move" if dry_run else "moved"
    out.print(f"{verb} group {group_id} from {flow.source} to {flow.target} at MirrorMaker's translated offsets",
              highlight=False)
    for topic, t in moved.by_topic().items():
        how = "counted" if t["exact"] else "estimated from offsets"
        out.print(f"  {topic}: {t['partitions']} partitions, {t['rereads']:,} records read again ({how})"
                  + (f", {t['skipped']:,} skipped" if t["skipped"] else ""), highlight=False)
