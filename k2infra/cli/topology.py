"""`k2 topology`, `k2 validate`, `k2 acl` and `k2 plan`: what topics.yaml derives for a stack, checked without a
cluster, and the topic plan against the live cluster without Pulumi."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from k2infra.cli.common import (
    TOPICS,
    BootstrapOption,
    ConfigOption,
    JsonOption,
    StackOption,
    cannot_use_cluster,
    check_stack,
    cluster_conf,
    environment_of,
    load_each,
    load_stack,
    out,
    stack_settings,
)


def topology(config: ConfigOption = TOPICS, stack: StackOption = None, as_json: JsonOption = False) -> None:
    """Print the topics and subjects that topics.yaml derives for a stack."""
    topo = load_stack(config, stack)
    if as_json:
        out.print_json(json.dumps(topo.to_dict()))
        return
    where = f"{topo.environment}, region {topo.region}" if topo.region else topo.environment
    homes = any(t.home_region for t in topo.topics)
    topics = Table(title=f"{len(topo.topics)} topics ({where})")
    topics.add_column("topic", no_wrap=True)
    for column in ("partitions", "replication", *(("home region",) if homes else ()), "config"):
        topics.add_column(column)
    for t in topo.topics:
        config_text = ", ".join(f"{k}={v}" for k, v in sorted(t.config.items()))
        home = ((f"{t.home_region} (mirrored)" if t.mirrored else str(t.home_region)),) if homes else ()
        topics.add_row(t.name, str(t.partitions), str(t.replication_factor), *home, config_text)
    subjects = Table(title=f"{len(topo.subjects)} subjects")
    subjects.add_column("subject", no_wrap=True)
    for column in ("schema", "compatibility", "topics"):
        subjects.add_column(column)
    for s in topo.subjects:
        subjects.add_row(s.subject, s.schema_file, s.compatibility, "\n".join(s.topics))
    out.print(topics)
    out.print(subjects)
    for flow in topo.replication:
        out.print(f"replication {flow.name}: {len(flow.topics)} topics (MirrorMaker 2, identity names)",
                  highlight=False)


def validate(config: ConfigOption = TOPICS, stack: StackOption = None) -> None:
    """Check topics.yaml and its schemas for every environment (or one stack's); exit 1 on problems."""
    region = stack_settings(stack, config).region if stack is not None else None
    for topo in load_each(config, environment_of(stack, config), region):
        check_stack(stack, config, topo)
        out.print(validated(config, topo.environment, len(topo.topics), len(topo.subjects)))
        for warning in topo.warnings:
            out.print(f"  warning: {warning}", highlight=False)


def validated(config: Path, environment: str, topics: int, subjects: int) -> str:
    return f"{config}: OK for {environment}: {topics} topics, {subjects} subjects"


def plan(config: ConfigOption = TOPICS, stack: StackOption = None, bootstrap_servers: BootstrapOption = None,
         as_json: JsonOption = False) -> None:
    """What `pulumi up` would do to the cluster's topics, without Pulumi: exit 2 if a change is refused.

    Every market.* topic on the cluster counts as managed, so a topic missing from topics.yaml shows as
    retained; the legacy topics that topics.yaml declares (legacy_topics) are not K2's. It logs in with the
    stack's settings and secrets (k2:saslUsername, k2:saslPassword, k2:caCert); K2_KAFKA_USERNAME/PASSWORD and
    K2_KAFKA_CA_LOCATION override them.
    """
    from k2infra.contracts.failover import slow_failover_warning
    from k2infra.contracts.kafka_names import is_internal_topic
    from k2infra.model.plan import plan_topics
    from k2infra.observed.cluster import Unreachable, observe_cluster
    from k2infra.observed.measure import measured

    topo = load_stack(config, stack)
    check_stack(stack, config, topo)
    conf = cluster_conf(stack, config, bootstrap_servers)
    try:
        cluster = observe_cluster(conf, brokers=True)
    except Unreachable as error:
        cannot_use_cluster("k2 plan", error)
    observed = cluster.topics
    # Every market.* topic counts as managed, except the declared legacy topics (k2 migrate's sources) and
    # those named as internal topics are (market.x.y.internal: MirrorMaker's, never K2's).
    managed = {n: t for n, t in observed.items() if n not in topo.legacy_names and not is_internal_topic(n)}
    result = plan_topics(topo, observed, managed, cluster_names=cluster.names)
    summary = result.to_dict()
    slow_failover = slow_failover_warning(cluster.failure_detection)
    summary["warnings"] = [*(str(w) for w in topo.warnings), *summary["warnings"], *filter(None, [slow_failover])]
    summary["losses"] = [c.describe() + measured(c, conf, observed[c.topic].partitions)
                         + (f" (set at {c.origin})" if c.origin else "") for c in result.losses]
    if as_json:
        out.print_json(json.dumps(summary))
    else:
        for line in plan_lines(summary, conf["bootstrap.servers"]):
            out.print(line, highlight=False)
    if result.refusing:
        raise typer.Exit(2)


PLAN_MARKS = (("create", "+"), ("update", "~"), ("adopt", "="), ("retain", "!"), ("release", "!"), ("delete", "-"),
              ("vanished", "?"), ("refused", "x"), ("losses", "x"), ("acknowledged", "!"), ("warnings", "*"))


def plan_lines(plan: dict[str, list[str]], servers: str) -> list[str]:
    """`k2 plan` for people: one line per change, marked by kind, then the count of unchanged topics."""
    lines = [f"plan against {servers}:"]
    lines += [f"  {mark} {kind:8} {item}" for kind, mark in PLAN_MARKS for item in plan[kind]]
    return [*lines, f"{len(plan['unchanged'])} unchanged"]


def acl(config: ConfigOption = TOPICS, stack: StackOption = None, as_json: JsonOption = False) -> None:
    """Each app, its principal and every Kafka ACL it gets (least privilege, derived from topics.yaml)."""
    topo = load_stack(config, stack)
    if as_json:
        out.print_json(json.dumps({"environment": topo.environment, "access_control": topo.access_control,
                                   "apps": [a.to_dict() for a in topo.apps]}))
        return
    enforced = "enforced" if topo.access_control else "not enforced here (environments.<env>.access_control)"
    table = Table(title=f"{len(topo.apps)} apps, {sum(len(a.bindings) for a in topo.apps)} ACLs "
                        f"({topo.environment}: {enforced})")
    for column in ("app", "principal", "resource", "pattern", "name", "operations"):
        table.add_column(column, no_wrap=column in ("name", "principal"))
    for app in topo.apps:
        rows: dict[tuple[str, str, str], list[str]] = {}
        for b in app.bindings:
            rows.setdefault((b.resource_type, b.pattern, b.name), []).append(b.operation)
        for index, ((kind, pattern, name), operations) in enumerate(rows.items()):
            table.add_row(app.name if index == 0 else "", app.principal if index == 0 else "", kind, pattern, name,
                          ", ".join(sorted(operations)))
    out.print(table)
