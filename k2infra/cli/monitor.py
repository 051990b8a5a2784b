"""`k2 monitor`: per-exchange health (a check or a live view), and the Prometheus exporter, alert rules and
Grafana dashboard (k2infra.monitoring)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from k2infra.cli.common import (
    TOPICS,
    BootstrapOption,
    ConfigOption,
    JsonOption,
    OutOption,
    StackOption,
    cannot_use_cluster,
    cluster_conf,
    credentials,
    err,
    fail,
    load_stack,
    out,
)
from k2infra.model import Topology

if TYPE_CHECKING:
    from k2infra.monitoring.replication import ReplicationSampler

MIRROR_OFFSETS = "mm2-offsets.{source}.internal"
MirrorOffsetsOption = Annotated[str, typer.Option(help="Connect's offsets topic of the MirrorMaker flows from "
                                                  "{source}, in this region (a dedicated MirrorMaker's by "
                                                  "default; a Connect cluster's offset.storage.topic).")]

group = typer.Typer(help="Per-exchange monitoring: a health check or live view, and the Prometheus exporter, "
                    "alert rules and Grafana dashboard.")


@group.callback(invoke_without_command=True)
def monitor(ctx: typer.Context, config: ConfigOption = TOPICS, stack: StackOption = None,
            bootstrap_servers: BootstrapOption = None,
            group: Annotated[list[str] | None, typer.Option("--group", "-g", help="Consumer group(s) to "
                                                             "report lag for (--watch: default all).")] = None,
            interval: Annotated[float, typer.Option(help="Seconds between the two offset samples "
                                                         "(--watch: between refreshes).")] = 5.0,
            as_json: JsonOption = False,
            watch: Annotated[bool, typer.Option("--watch", help="Live view in the terminal, the design's "
                                                "dashboard layout, until Ctrl-C.")] = False,
            count: Annotated[int | None, typer.Option(hidden=True, help="--watch: stop after N refreshes.")] = None,
            outputs: Annotated[Path | None, typer.Option(help="The stack outputs as JSON, for an aggregating "
                                                         "region's replication flows (default: --stack's, when "
                                                         "its region aggregates others).")] = None,
            ) -> None:
    """Per-exchange health: message rates, consumer lag and partition balance; exit 2 if any is degraded.

    In an aggregating region (replication flows in the stack outputs), also each flow's lag per topic.
    With a subcommand: exporter (Prometheus metrics), rules (Prometheus alerts), dashboard (Grafana)."""
    if ctx.invoked_subcommand is not None:
        return
    import time

    from k2infra.model.health import assess
    from k2infra.monitoring.replication import lag_alerts, replication_thresholds, to_dict
    from k2infra.observed.cluster import Unreachable, committed_offsets, end_offsets, observe_topics

    topo = load_stack(config, stack)
    conf = cluster_conf(stack, config, bootstrap_servers)
    replication = _replication(conf, _flows(topo, stack, config, outputs), max(min(interval, 10.0), 2.0),
                               MIRROR_OFFSETS)
    if watch:
        _watch(topo, conf, interval, group or [], count, replication)
        return
    try:
        observed = observe_topics(conf)
        partitions = {t.name: observed[t.name].partitions for t in topo.topics if t.name in observed}
        before, started = end_offsets(conf, partitions), time.monotonic()
        time.sleep(interval)
        after, seconds = end_offsets(conf, partitions), time.monotonic() - started
        committed = {g: committed_offsets(conf, g, partitions) for g in group or []}
    except Unreachable as error:
        cannot_use_cluster("k2 monitor", error)
    report = assess(topo, before, after, seconds, committed)
    flows = replication.sample() if replication else []
    alerts = {f.flow: lag_alerts(f, replication_thresholds(topo)) for f in flows}
    if as_json:
        exchanges = [e.to_dict() for e in report]
        out.print_json(json.dumps({"exchanges": exchanges, "replication": [
            to_dict(f) | {"alerts": alerts[f.flow]} for f in flows]} if flows else exchanges))
    else:
        _print_health(report)
        _print_replication(flows, alerts)
    if any(e.status == "Degraded" for e in report) or any(alerts.values()):
        raise typer.Exit(2)


def _flows(topo: Topology, stack: str | None, config: Path, outputs: Path | None) -> tuple:
    """The replication flows into the stack's region, from its outputs (they name the home regions' clusters)."""
    from k2infra.monitoring.target import TargetError, load_target

    if outputs is None and (stack is None or not topo.replication):
        return ()
    try:
        return load_target(stack, config.parent, outputs).outputs.replication
    except TargetError as error:
        fail(f"k2 monitor: {error}")


def _print_replication(flows: list, alerts: dict[str, list[str]]) -> None:
    from k2infra.monitoring.replication import describe

    for flow in flows:
        state = "Degraded" if alerts[flow.flow] else "Healthy"
        out.print(f"Replication: {flow.flow}  status: {state}", highlight=False)
        for t in flow.topics:
            out.print(f"  {t.topic}: {describe(t)}", highlight=False)
        for alert in alerts[flow.flow]:
            out.print(f"    ! {alert}", highlight=False)


def _watch(topo: Topology, conf: dict, interval: float, groups: list[str], count: int | None,
           replication: ReplicationSampler | None) -> None:
    from k2infra.monitoring.sample import ClusterSampler
    from k2infra.monitoring.watch import watch

    sampler = ClusterSampler(conf, timeout=max(min(interval, 10.0), 2.0))
    names = [t.name for t in topo.topics]
    watch(topo, lambda: sampler.sample(names), interval, groups, console=out, count=count,
          replication=replication.sample if replication else None)


@group.command("exporter")
def monitor_exporter(
        config: ConfigOption = TOPICS, stack: StackOption = None,
        outputs: Annotated[Path | None, typer.Option(envvar="K2_STACK_OUTPUTS", help="The stack outputs as JSON "
                                                     "(`pulumi stack output --json`); default: ask Pulumi for "
                                                     "--stack's.")] = None,
        port: Annotated[int, typer.Option(help="Port to serve /metrics on.")] = 9308,
        address: Annotated[str, typer.Option(help="Address to listen on.")] = "0.0.0.0",
        timeout: Annotated[float, typer.Option(help="Seconds a scrape waits for the cluster and the registry.")] = 10.0,
        groups: Annotated[str | None, typer.Option(help="Only consumer groups whose id matches this "
                                                   "regular expression.")] = None,
        reload: Annotated[float, typer.Option(help="Seconds between rereads of the stack outputs.")] = 300.0,
        group_offsets: Annotated[bool, typer.Option(help="Also kafka_consumergroup_current_offset (one sample per "
                                                    "group and partition).")] = False,
        mirror_offsets_topic: MirrorOffsetsOption = MIRROR_OFFSETS,
) -> None:
    """Prometheus exporter for the stack's topics, consumer groups and subjects (kafka_exporter's names + k2_*).

    It logs in with --stack's settings and secrets (k2:saslUsername, k2:saslPassword, k2:caCert,
    k2:schemaRegistryUsername/Password); K2_KAFKA_USERNAME/PASSWORD, K2_KAFKA_CA_LOCATION and
    K2_SCHEMA_REGISTRY_USERNAME/PASSWORD override them, and are the only source with --outputs and no --stack.
    With replication flows in the outputs (an aggregating region), also each flow's lag per topic; the home
    regions are reached at their flows' source_bootstrap_servers with the same login."""
    import signal
    import threading

    from k2infra.monitoring.exporter import K2Collector, serve
    from k2infra.monitoring.exposition import PortInUse
    from k2infra.monitoring.registry import SubjectChecker
    from k2infra.monitoring.sample import ClusterSampler
    from k2infra.monitoring.target import Target, TargetError, load_target

    def load() -> Target:
        return load_target(stack, config.parent, outputs)

    login = credentials(stack, config) if stack is not None else None
    try:
        target = load()
        sampler = ClusterSampler(target.kafka_conf(login), timeout, groups)
        url, auth, verify = target.registry(login)
    except TargetError as error:
        fail(f"k2 monitor exporter: {error}")
    collector = K2Collector(target, sampler, SubjectChecker(url, auth, verify, timeout), reload=load,
                            reload_every=reload, group_offsets=group_offsets,
                            replication=_replication(target.kafka_conf(login), target.outputs.replication, timeout,
                                                     mirror_offsets_topic))
    try:
        serve(collector, port, address)
    except PortInUse as error:
        fail(f"k2 monitor exporter: {error}")
    out.print(f"k2 monitor exporter: serving http://{address}:{port}/metrics for {len(target.topics)} topics and "
              f"{len(target.subjects)} subjects ({target.outputs.source}); Kafka {target.outputs.bootstrap_servers}, "
              f"registry {url}", highlight=False)
    list(collector.collect())  # a first look, so that an unreachable cluster or registry is said at once
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(3600):
            pass
    except KeyboardInterrupt:
        pass


def _replication(conf: dict, flows: tuple, timeout: float, offsets_topic: str) -> ReplicationSampler | None:
    from k2infra.monitoring.replication import ReplicationSampler

    if not flows:
        return None
    if "{source}" not in offsets_topic:
        fail(f"k2 monitor: --mirror-offsets-topic {offsets_topic!r} must name the source region as {{source}} "
             f"(MirrorMaker keeps one per source region), e.g. {MIRROR_OFFSETS}")
    return ReplicationSampler(conf, flows, timeout,
                              offsets_topic=lambda source: offsets_topic.replace("{source}", source))


@group.command("rules")
def monitor_rules(config: ConfigOption = TOPICS, stack: StackOption = None, out_file: OutOption = None,
                  check: Annotated[bool, typer.Option(help="Check the file with promtool.")] = False) -> None:
    """A Prometheus rule file with the design's alerts, thresholds from topics.yaml's `monitoring:`."""
    from k2infra.monitoring.rules import rules_yaml

    text = rules_yaml(load_stack(config, stack))
    _write(text, out_file)
    if check:
        _promtool_check(text)


@group.command("dashboard")
def monitor_dashboard(config: ConfigOption = TOPICS, stack: StackOption = None,
                      out_file: OutOption = None) -> None:
    """An import-ready Grafana dashboard in the design's layout: overview, then one row per exchange."""
    from k2infra.monitoring.dashboard import dashboard

    _write(json.dumps(dashboard(load_stack(config, stack)), indent=2) + "\n", out_file)


def _write(text: str, path: Path | None) -> None:
    if path is None:
        typer.echo(text, nl=False)
        return
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        fail(f"k2: cannot write {path}: {error.strerror}")
    err.print(f"wrote {path}", highlight=False)


def _promtool_check(text: str) -> None:
    import shutil
    import subprocess
    import tempfile

    promtool = shutil.which("promtool")
    if promtool is None:
        fail("k2: promtool is not on PATH (scripts/bootstrap test installs it)")
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as file:
        file.write(text)
        file.flush()
        done = subprocess.run([promtool, "check", "rules", file.name], capture_output=True, text=True)
    said = (done.stdout + done.stderr).strip()
    if done.returncode:
        fail(said)
    out.print(said, highlight=False)


def _print_health(report: list) -> None:
    for exchange in report:
        out.print(f"Exchange: {exchange.exchange} ({exchange.asset_class})  status: {exchange.status}", highlight=False)
        for t in exchange.topics:
            lag = ", ".join(f"{g}: {n}" for g, n in t.lag.items()) or "no group given"
            balance = "n/a" if t.imbalance is None else f"{t.imbalance:+.0%} busiest vs mean"
            out.print(f"  {t.topic}: {t.messages_per_second} msgs/s, lag {lag}, {t.partitions} partitions "
                      f"({balance}) {t.status}", highlight=False)
            for alert in t.alerts:
                out.print(f"    ! {alert}", highlight=False)
