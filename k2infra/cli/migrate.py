"""`k2 migrate`: the legacy flat topics onto the exchange topics (k2infra.migration): plan, run, verify, cutover."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from k2infra.cli.common import (
    TOPICS,
    ConfigOption,
    JsonOption,
    StackRequired,
    cluster_conf,
    credentials,
    fail,
    load_stack,
    out,
    print_lines,
    stack_settings,
)

group = typer.Typer(help="Move the legacy flat topics (legacy_topics in topics.yaml) onto the exchange topics: "
                    "plan (a dry run), run, verify, cutover.", no_args_is_help=True)
DeadLetter = Annotated[str | None, typer.Option("--dead-letter", help="Send records that route nowhere to this "
                                                "(existing) topic instead of stopping.")]
OutputsFile = Annotated[Path | None, typer.Option("--outputs", help="The stack's outputs (pulumi stack output --json) "
                                                  "; default: $K2_STACK_OUTPUTS, else read from the stack.")]


def _migration(command: str, config: Path, stack: str, outputs: Path | None = None, planned: bool = False):
    """The migration's context for a stack; a MigrationError ends the command with exit 1."""
    from k2infra.migration import Context, MigrationError, stack_outputs

    topo = load_stack(config, stack)
    try:
        login = credentials(stack, config)
        if planned:
            settings = stack_settings(stack, config)
            return Context.planned(topo, stack, cluster_conf(stack, config, None), settings.schema_registry_url,
                                   credentials=login)
        return Context.deployed(topo, stack, stack_outputs(stack, config.parent, outputs), credentials=login)
    except MigrationError as error:
        _migrate_failed(command, error)


def _migrate_failed(command: str, error: Exception) -> NoReturn:
    fail(f"k2 migrate {command}: {error}")


@group.command("plan")
def migrate_plan(stack: StackRequired, config: ConfigOption = TOPICS,
                 sample: Annotated[int | None, typer.Option(min=1, help="Read at most N records per legacy "
                                                            "topic (default: all).")] = None,
                 dead_letter: DeadLetter = None, as_json: JsonOption = False) -> None:
    """Dry run: where each legacy record would go, what is refused, made first, retired later; exit 2 if refused."""
    from k2infra.migration import MigrationError, dry_run
    from k2infra.migration.dry_run import render

    ctx = _migration("plan", config, stack, planned=True)
    try:
        report = dry_run(ctx, sample, dead_letter)
    except MigrationError as error:
        _migrate_failed("plan", error)
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
    else:
        print_lines(render(report))
    if report.refusing:
        raise typer.Exit(2)


@group.command("run")
def migrate_run(stack: StackRequired, config: ConfigOption = TOPICS, outputs: OutputsFile = None,
                follow: Annotated[bool, typer.Option(help="Keep copying new legacy records until stopped "
                                                     "(Ctrl-C, SIGTERM).")] = False,
                dead_letter: DeadLetter = None,
                max_rate: Annotated[float | None, typer.Option(help="At most this many records/s (spares a busy "
                                                               "cluster).")] = None,
                as_json: JsonOption = False) -> None:
    """Copy every legacy record exactly once to its exchange topic; rerun to continue; exit 2 if one routes nowhere."""
    import signal
    import threading

    from k2infra.migration import Copier, MigrationError
    from k2infra.migration.transcode import REASONS

    ctx = _migration("run", config, stack, outputs)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        cluster = ctx.cluster()
        partitions = ctx.legacy_partitions(cluster)
        ctx.check_targets(cluster, dead_letter)
        result = Copier(ctx, partitions, ctx.transcoders(), dead_letter=dead_letter, follow=follow,
                        max_rate=max_rate).run(stop)
    except MigrationError as error:
        _migrate_failed("run", error)
    if as_json:
        out.print_json(json.dumps(result.to_dict()))
    else:
        rate = result.records / max(result.seconds, 1e-9)
        print_lines([f"copied {result.records:,} record(s) in {result.transactions:,} transaction(s), "
                      f"{result.seconds:.1f} s ({rate:,.0f} records/s); lag {result.lag:,}",
                      *(f"  {t}: {n.records:,} records" for t, n in sorted(result.copied.items())),
                      *(f"  to the dead-letter topic {dead_letter}: {n:,} ({REASONS[r]})"
                        for r, n in result.dead_lettered.items())])
    if result.stopped_at:
        fail(f"k2 migrate run: stopped at {result.stopped_at}", 2)


@group.command("verify")
def migrate_verify(stack: StackRequired, config: ConfigOption = TOPICS, outputs: OutputsFile = None,
                   dead_letter: DeadLetter = None, as_json: JsonOption = False) -> None:
    """Compare copied legacy records with the exchange topics (counts, per-key digests); exit 2 where they differ."""
    from k2infra.migration import MigrationError, verify
    from k2infra.migration.verify import render

    ctx = _migration("verify", config, stack, outputs)
    try:
        report = verify(ctx, dead_letter)
    except MigrationError as error:
        _migrate_failed("verify", error)
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
    else:
        print_lines(render(report))
    if not report.equal:
        raise typer.Exit(2)


@group.command("cutover")
def migrate_cutover(stack: StackRequired, group: Annotated[str, typer.Option("--group", "-g", help="The legacy "
                                                                            "consumer group to move.")],
                    config: ConfigOption = TOPICS, outputs: OutputsFile = None,
                    reverse: Annotated[bool, typer.Option(help="Roll back: from the exchange topics to the "
                                                          "legacy topics.")] = False,
                    allow_rereads: Annotated[bool, typer.Option(help="Move the group even where it would read "
                                                                "some records again.")] = False,
                    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the offsets, set nothing.")] = False,
                    as_json: JsonOption = False) -> None:
    """Move an inactive consumer group from the legacy topics to the exchange topics (or back), missing nothing."""
    from k2infra.migration import MigrationError, cutover
    from k2infra.migration.cutover import render

    ctx = _migration("cutover", config, stack, outputs)
    try:
        result = cutover(ctx, group, reverse=reverse, allow_rereads=allow_rereads, dry_run=dry_run)
    except MigrationError as error:
        _migrate_failed("cutover", error)
    if as_json:
        out.print_json(json.dumps(result.to_dict()))
    else:
        print_lines(render(result))
