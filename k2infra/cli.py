"""The `k2` command: inspect and check the topology without a cluster, and run a local platform."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, NoReturn

try:
    import typer
    from rich.console import Console
except ImportError:  # `pip install k2infra` is an app's install: the helpers, without the operator tools
    sys.exit("k2: this command is part of the operator tools: pip install 'k2infra[operator]'")
from rich.table import Table

from k2infra.contracts.settings import SettingsError, StackSettings
from k2infra.model import Topology, TopologyError, load_topology, read_spec

app = typer.Typer(help="K2 market-data Kafka topology as code.", no_args_is_help=True, add_completion=False)
local_app = typer.Typer(help="A local Kafka (KRaft) and schema registry for development.", no_args_is_help=True)
app.add_typer(local_app, name="local")
monitor_app = typer.Typer(help="Per-exchange monitoring: a health check or live view, and the Prometheus exporter, "
                          "alert rules and Grafana dashboard.")
app.add_typer(monitor_app, name="monitor")

# soft_wrap: a line longer than the terminal (a path, a message) is never broken with newlines, so it can be copied.
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The topology file.")]
StackOption = Annotated[str | None, typer.Option("--stack", "-s", help="Pulumi stack (dev, prod): "
                                                 "picks its environment settings.")]


# Where the CLI looks when a stack's files name no cluster: the local platform's defaults.
LOCAL_CLUSTER = {"bootstrapServers": "127.0.0.1:9092", "schemaRegistryUrl": "http://127.0.0.1:8081/apis/ccompat/v7"}


def stack_settings(stack: str, config: Path) -> StackSettings:
    """A stack's settings from the config files beside topics.yaml (read as YAML: no Pulumi needed)."""
    try:
        return StackSettings.from_files(config.parent, stack, fallback=LOCAL_CLUSTER)
    except SettingsError as error:
        err.print(f"k2: {error}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def environment_of(stack: str | None, config: Path) -> str | None:
    """A stack's k2:environment (Pulumi.<stack>.yaml beside topics.yaml), else the stack name."""
    return stack_settings(stack, config).environment if stack is not None else None


def _load(config: Path, environment: str | None) -> Topology:
    try:
        return load_topology(config, environment)
    except TopologyError as error:
        err.print(str(error), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


@app.command()
def topology(config: ConfigOption = Path("topics.yaml"), stack: StackOption = None,
             as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Print the topics and subjects that topics.yaml derives for a stack."""
    topo = _load(config, environment_of(stack, config))
    if as_json:
        out.print_json(json.dumps(topo.to_dict()))
        return
    topics = Table(title=f"{len(topo.topics)} topics ({topo.environment})")
    topics.add_column("topic", no_wrap=True)
    for column in ("partitions", "replication", "config"):
        topics.add_column(column)
    for t in topo.topics:
        config_text = ", ".join(f"{k}={v}" for k, v in sorted(t.config.items()))
        topics.add_row(t.name, str(t.partitions), str(t.replication_factor), config_text)
    subjects = Table(title=f"{len(topo.subjects)} subjects")
    subjects.add_column("subject", no_wrap=True)
    for column in ("schema", "compatibility", "topics"):
        subjects.add_column(column)
    for s in topo.subjects:
        subjects.add_row(s.subject, s.schema_file, s.compatibility, "\n".join(s.topics))
    out.print(topics)
    out.print(subjects)


@app.command()
def validate(config: ConfigOption = Path("topics.yaml"), stack: StackOption = None) -> None:
    """Check topics.yaml and its schemas for every environment (or one stack's); exit 1 on problems."""
    environment = environment_of(stack, config)
    environments = [environment] if environment else _environments(config)
    for env in environments:
        topo = _load(config, env)
        out.print(f"{config}: OK for {topo.environment}: {len(topo.topics)} topics, {len(topo.subjects)} subjects")


@app.command()
def plan(config: ConfigOption = Path("topics.yaml"), stack: StackOption = None,
         bootstrap_servers: Annotated[str | None,
                                      typer.Option(help="Default: the stack's k2:bootstrapServers.")] = None,
         as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """What `pulumi up` would do to the cluster's topics, without Pulumi: exit 2 if a change is refused.

    Every market.* topic on the cluster counts as managed, so a topic missing from topics.yaml shows as
    retained; the legacy topics that topics.yaml declares (legacy_topics) are not K2's. SASL credentials, if
    the cluster needs them: K2_KAFKA_USERNAME and K2_KAFKA_PASSWORD.
    """
    from k2infra.measure import measured
    from k2infra.model.plan import plan_topics
    from k2infra.observe import Unreachable, observe_topics

    topo = _load(config, environment_of(stack, config))
    conf = _cluster_conf(stack, config, bootstrap_servers)
    try:
        observed = observe_topics(conf)
    except Unreachable as error:
        _cannot_use_cluster("k2 plan", error)
    # Every market.* topic counts as managed, except the declared legacy topics (k2 migrate's sources).
    result = plan_topics(topo, observed, {n: t for n, t in observed.items() if n not in topo.legacy_names})
    summary = result.to_dict()
    summary["losses"] = [c.describe() + measured(c, conf, observed[c.topic].partitions)
                         + (f" (set at {c.origin})" if c.origin else "") for c in result.losses]
    if as_json:
        out.print_json(json.dumps(summary))
    else:
        _print_plan(summary, conf["bootstrap.servers"])
    if result.refusing:
        raise typer.Exit(2)


@app.command()
def unlock(stack: Annotated[str, typer.Option("--stack", "-s", help="Pulumi stack (dev, prod).")],
           config: ConfigOption = Path("topics.yaml")) -> None:
    """Remove the stale locks an update killed midway left in a file backend, so a rerun can converge.

    Only locks taken on this host by a process that has ended are removed; a lock of a running update, or
    one taken on another machine, is shown and kept (exit 1). The backend is $PULUMI_BACKEND_URL.
    """
    from k2infra.stack_locks import backend_directory, remove_stale, stack_locks

    url = os.environ.get("PULUMI_BACKEND_URL", "")
    try:
        backend = backend_directory(url)
    except ValueError as error:
        err.print(f"k2 unlock: {error}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    removed, kept = remove_stale(stack_locks(backend, _project_name(config), stack))
    for lock in removed:
        out.print(f"removed stale lock {lock.describe()}: that process has ended", markup=False, highlight=False)
    for lock in kept:
        err.print(f"kept lock {lock.describe()}: its update may still be running (on this or another host); "
                  "wait for it, or check that it has ended before `pulumi cancel`", markup=False, highlight=False)
    if not removed and not kept:
        out.print(f"stack {stack}: no locks")
    if kept:
        raise typer.Exit(1)


def _project_name(config: Path) -> str:
    from ruamel.yaml import YAML

    project = YAML(typ="safe").load((config.parent / "Pulumi.yaml").read_text())
    return str(project["name"])


def _cannot_use_cluster(command: str, error: Exception) -> NoReturn:
    from k2infra.failures import AuthenticationFailed, NotAuthorized

    err.print(f"{command}: {error}", markup=False, highlight=False, soft_wrap=True)
    if isinstance(error, AuthenticationFailed) and not isinstance(error, NotAuthorized):
        err.print(f"{command} takes the SASL mechanism from the stack's k2:saslMechanism, and the username and "
                  "password from K2_KAFKA_USERNAME and K2_KAFKA_PASSWORD (it cannot decrypt the stack's secrets)",
                  markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _cluster_conf(stack: str | None, config: Path, bootstrap_servers: str | None) -> dict:
    """Client settings for the stack's cluster; SASL credentials from K2_KAFKA_USERNAME/PASSWORD."""
    from k2infra.observe import client_config

    settings = stack_settings(stack, config) if stack is not None else StackSettings.from_values("", LOCAL_CLUSTER.get)
    security = settings.security
    servers = bootstrap_servers or ",".join(settings.bootstrap_servers)
    return client_config(servers, security.protocol, security.sasl_mechanism, os.environ.get("K2_KAFKA_USERNAME"),
                         os.environ.get("K2_KAFKA_PASSWORD"))


@app.command()
def acl(config: ConfigOption = Path("topics.yaml"), stack: StackOption = None,
        as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Each app, its principal and every Kafka ACL it gets (least privilege, derived from topics.yaml)."""
    topo = _load(config, environment_of(stack, config))
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


@monitor_app.callback(invoke_without_command=True)
def monitor(ctx: typer.Context, config: ConfigOption = Path("topics.yaml"), stack: StackOption = None,
            bootstrap_servers: Annotated[str | None,
                                         typer.Option(help="Default: the stack's k2:bootstrapServers.")] = None,
            group: Annotated[list[str] | None, typer.Option("--group", "-g", help="Consumer group(s) to "
                                                             "report lag for (--watch: default all).")] = None,
            interval: Annotated[float, typer.Option(help="Seconds between the two offset samples "
                                                         "(--watch: between refreshes).")] = 5.0,
            as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
            watch: Annotated[bool, typer.Option("--watch", help="Live view in the terminal, the design's "
                                                "dashboard layout, until Ctrl-C.")] = False,
            count: Annotated[int | None, typer.Option(hidden=True, help="--watch: stop after N refreshes.")] = None,
            ) -> None:
    """Per-exchange health: message rates, consumer lag and partition balance; exit 2 if any is degraded.

    With a subcommand: exporter (Prometheus metrics), rules (Prometheus alerts), dashboard (Grafana)."""
    if ctx.invoked_subcommand is not None:
        return
    import time

    from k2infra.model.health import assess
    from k2infra.observe import Unreachable, committed_offsets, end_offsets, observe_topics

    topo = _load(config, environment_of(stack, config))
    conf = _cluster_conf(stack, config, bootstrap_servers)
    if watch:
        _watch(topo, conf, interval, group or [], count)
        return
    try:
        observed = observe_topics(conf)
        partitions = {t.name: observed[t.name].partitions for t in topo.topics if t.name in observed}
        before, started = end_offsets(conf, partitions), time.monotonic()
        time.sleep(interval)
        after, seconds = end_offsets(conf, partitions), time.monotonic() - started
        committed = {g: committed_offsets(conf, g, partitions) for g in group or []}
    except Unreachable as error:
        _cannot_use_cluster("k2 monitor", error)
    report = assess(topo, before, after, seconds, committed)
    if as_json:
        out.print_json(json.dumps([e.to_dict() for e in report]))
    else:
        _print_health(report)
    if any(e.status == "Degraded" for e in report):
        raise typer.Exit(2)


def _watch(topo: Topology, conf: dict, interval: float, groups: list[str], count: int | None) -> None:
    from k2infra.monitoring.sample import ClusterSampler
    from k2infra.monitoring.watch import watch

    sampler = ClusterSampler(conf, timeout=max(min(interval, 10.0), 2.0))
    names = [t.name for t in topo.topics]
    watch(topo, lambda: sampler.sample(names), interval, groups, console=out, count=count)


OutOption = Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file (default: print).")]


@monitor_app.command("exporter")
def monitor_exporter(
        config: ConfigOption = Path("topics.yaml"), stack: StackOption = None,
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
) -> None:
    """Prometheus exporter for the stack's topics, consumer groups and subjects (kafka_exporter's names + k2_*).

    SASL and registry credentials: K2_KAFKA_USERNAME/PASSWORD, K2_SCHEMA_REGISTRY_USERNAME/PASSWORD,
    K2_KAFKA_CA_LOCATION."""
    import signal
    import threading

    from k2infra.monitoring.exporter import K2Collector, serve
    from k2infra.monitoring.exposition import PortInUse
    from k2infra.monitoring.registry import SubjectChecker
    from k2infra.monitoring.sample import ClusterSampler
    from k2infra.monitoring.target import Target, TargetError, load_target

    def load() -> Target:
        return load_target(stack, config.parent, outputs)

    try:
        target = load()
        sampler = ClusterSampler(target.kafka_conf(), timeout, groups)
        url, auth, verify = target.registry()
    except TargetError as error:
        err.print(f"k2 monitor exporter: {error}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    collector = K2Collector(target, sampler, SubjectChecker(url, auth, verify, timeout), reload=load,
                            reload_every=reload, group_offsets=group_offsets)
    try:
        serve(collector, port, address)
    except PortInUse as error:
        err.print(f"k2 monitor exporter: {error}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    out.print(f"k2 monitor exporter: serving http://{address}:{port}/metrics for {len(target.topics)} topics and "
              f"{len(target.subjects)} subjects ({target.outputs.source}); Kafka {target.outputs.bootstrap_servers}, "
              f"registry {url}", markup=False, highlight=False, soft_wrap=True)
    list(collector.collect())  # a first look, so that an unreachable cluster or registry is said at once
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(3600):
            pass
    except KeyboardInterrupt:
        pass


@monitor_app.command("rules")
def monitor_rules(config: ConfigOption = Path("topics.yaml"), stack: StackOption = None, out_file: OutOption = None,
                  check: Annotated[bool, typer.Option(help="Check the file with promtool.")] = False) -> None:
    """A Prometheus rule file with the design's alerts, thresholds from topics.yaml's `monitoring:`."""
    from k2infra.monitoring.rules import rules_yaml

    text = rules_yaml(_load(config, environment_of(stack, config)))
    _write(text, out_file)
    if check:
        _promtool_check(text)


@monitor_app.command("dashboard")
def monitor_dashboard(config: ConfigOption = Path("topics.yaml"), stack: StackOption = None,
                      out_file: OutOption = None) -> None:
    """An import-ready Grafana dashboard in the design's layout: overview, then one row per exchange."""
    from k2infra.monitoring.dashboard import dashboard

    _write(json.dumps(dashboard(_load(config, environment_of(stack, config))), indent=2) + "\n", out_file)


def _write(text: str, path: Path | None) -> None:
    if path is None:
        typer.echo(text, nl=False)
        return
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        err.print(f"k2: cannot write {path}: {error.strerror}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    err.print(f"wrote {path}", markup=False, highlight=False, soft_wrap=True)  # a path is never wrapped


def _promtool_check(text: str) -> None:
    import shutil
    import subprocess
    import tempfile

    promtool = shutil.which("promtool")
    if promtool is None:
        err.print("k2: promtool is not on PATH (scripts/bootstrap test installs it)", markup=False)
        raise typer.Exit(1)
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as file:
        file.write(text)
        file.flush()
        done = subprocess.run([promtool, "check", "rules", file.name], capture_output=True, text=True)
    (err if done.returncode else out).print((done.stdout + done.stderr).strip(), markup=False, highlight=False)
    if done.returncode:
        raise typer.Exit(1)


def _print_health(report: list) -> None:
    for exchange in report:
        out.print(f"Exchange: {exchange.exchange} ({exchange.asset_class})  status: {exchange.status}",
                  markup=False, highlight=False)
        for t in exchange.topics:
            lag = ", ".join(f"{g}: {n}" for g, n in t.lag.items()) or "no group given"
            balance = "n/a" if t.imbalance is None else f"{t.imbalance:+.0%} busiest vs mean"
            out.print(f"  {t.topic}: {t.messages_per_second} msgs/s, lag {lag}, {t.partitions} partitions "
                      f"({balance}) {t.status}", markup=False, highlight=False, soft_wrap=True)
            for alert in t.alerts:
                out.print(f"    ! {alert}", markup=False, highlight=False, soft_wrap=True)


def _print_plan(plan: dict[str, list[str]], servers: str) -> None:
    out.print(f"plan against {servers}:")
    for kind, mark in (("create", "+"), ("update", "~"), ("adopt", "="), ("retain", "!"), ("release", "!"),
                       ("delete", "-"), ("vanished", "?"), ("refused", "x"), ("losses", "x"), ("acknowledged", "!"),
                       ("warnings", "*")):
        for item in plan[kind]:
            out.print(f"  {mark} {kind:8} {item}", markup=False, highlight=False, soft_wrap=True)
    out.print(f"{len(plan['unchanged'])} unchanged")


def _environments(config: Path) -> list[str | None]:
    try:
        names: list[str | None] = list(read_spec(config).environments)
    except TopologyError as error:
        err.print(str(error), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    return names or [None]


def _platform(directory: Path | None):
    from k2infra.local import LocalPlatform

    home = Path(os.environ.get("K2_HOME", Path.home() / ".k2"))
    return LocalPlatform(directory or home / "local")


DirOption = Annotated[Path | None, typer.Option("--dir", help="Where the platform keeps data, logs and state.")]


@local_app.command("up")
def local_up(nodes: Annotated[int, typer.Option(help="Kafka nodes: 1, or 3 for replication.")] = 1,
             kafka_port: Annotated[int, typer.Option(help="First broker port.")] = 9092,
             registry_port: Annotated[int, typer.Option(help="Schema registry port.")] = 8081,
             directory: DirOption = None,
             secure: Annotated[bool, typer.Option(help="SASL_SSL with SCRAM-SHA-512 users, a throwaway CA and an "
                                                  "authorizer that denies what no ACL allows.")] = False) -> None:
    """Start Kafka and the schema registry on 127.0.0.1 and wait until both are healthy."""
    from k2infra.local import PlatformError

    try:
        state = _platform(directory).up(nodes=nodes, kafka_port=kafka_port, registry_port=registry_port,
                                        secure=secure)
    except PlatformError as error:
        err.print(f"k2 local up failed: {error}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None
    out.print(f"bootstrap servers:   {state.bootstrap_servers}\nschema registry URL: {state.schema_registry_url}"
              + _security_lines(state), markup=False, soft_wrap=True)


def _security_lines(state) -> str:
    """Where a secure platform's CA and admin credentials are (never the password itself)."""
    if state.security is None:
        return ""
    s = state.security
    return (f"\nsecurity:            {s.protocol}, {s.sasl_mechanism}, ACLs enforced; super user {s.username}"
            f"\nCA certificate:      {s.ca_cert}\nadmin credentials:   {s.credentials} (mode 0600)")


@local_app.command("down")
def local_down(directory: DirOption = None,
               wipe: Annotated[bool, typer.Option(help="Also delete the platform's data (Kafka's logs and the "
                                                  "registry's schemas, together); only in a K2 platform "
                                                  "directory.")] = False) -> None:
    """Stop the local platform (its data is kept unless --wipe)."""
    from k2infra.local import PlatformError

    try:
        _platform(directory).down(wipe=wipe)
    except PlatformError as error:
        err.print(f"k2 local down failed: {error}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None


@local_app.command("status")
def local_status(directory: DirOption = None) -> None:
    """Say whether the local platform runs, and where."""
    platform = _platform(directory)
    state = platform.state()
    if not state or not platform.running():
        out.print("local platform: not running")
        raise typer.Exit(3)
    out.print(f"local platform: running, {state.nodes} Kafka node(s)\n"
              f"bootstrap servers:   {state.bootstrap_servers}\nschema registry URL: {state.schema_registry_url}"
              + _security_lines(state), markup=False, soft_wrap=True)


# --- k2 migrate: the legacy flat topics -> the exchange topics (k2infra/migration) -------------------------------

migrate_app = typer.Typer(help="Move the legacy flat topics (legacy_topics in topics.yaml) onto the exchange topics: "
                          "plan (a dry run), run, verify, cutover.", no_args_is_help=True)
app.add_typer(migrate_app, name="migrate")
MigrateStack = Annotated[str, typer.Option("--stack", "-s", help="Pulumi stack (dev, prod).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
DeadLetter = Annotated[str | None, typer.Option("--dead-letter", help="Send records that route nowhere to this "
                                                "(existing) topic instead of stopping.")]
OutputsFile = Annotated[Path | None, typer.Option("--outputs", help="The stack's outputs (pulumi stack output --json) "
                                                  "; default: $K2_STACK_OUTPUTS, else read from the stack.")]


def _migration(command: str, config: Path, stack: str, outputs: Path | None = None, planned: bool = False):
    """The migration's context for a stack; a MigrationError ends the command with exit 1."""
    from k2infra.migration import Context, MigrationError, stack_outputs

    topo = _load(config, environment_of(stack, config))
    try:
        if planned:
            settings = stack_settings(stack, config)
            return Context.planned(topo, stack, _cluster_conf(stack, config, None), settings.schema_registry_url)
        return Context.deployed(topo, stack, stack_outputs(stack, config.parent, outputs))
    except MigrationError as error:
        _migrate_failed(command, error)


def _migrate_failed(command: str, error: Exception):
    err.print(f"k2 migrate {command}: {error}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(1) from None


def _print_lines(lines: list[str]) -> None:
    for line in lines:
        out.print(line, markup=False, highlight=False, soft_wrap=True)


@migrate_app.command("plan")
def migrate_plan(stack: MigrateStack, config: ConfigOption = Path("topics.yaml"),
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
        _print_lines(render(report))
    if report.refusing:
        raise typer.Exit(2)


@migrate_app.command("run")
def migrate_run(stack: MigrateStack, config: ConfigOption = Path("topics.yaml"), outputs: OutputsFile = None,
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
        _print_lines([f"copied {result.records:,} record(s) in {result.transactions:,} transaction(s), "
                      f"{result.seconds:.1f} s ({rate:,.0f} records/s); lag {result.lag:,}",
                      *(f"  {t}: {n.records:,} records" for t, n in sorted(result.copied.items())),
                      *(f"  to the dead-letter topic {dead_letter}: {n:,} ({REASONS[r]})"
                        for r, n in result.dead_lettered.items())])
    if result.stopped_at:
        err.print(f"k2 migrate run: stopped at {result.stopped_at}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2)


@migrate_app.command("verify")
def migrate_verify(stack: MigrateStack, config: ConfigOption = Path("topics.yaml"), outputs: OutputsFile = None,
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
        _print_lines(render(report))
    if not report.equal:
        raise typer.Exit(2)


@migrate_app.command("cutover")
def migrate_cutover(stack: MigrateStack, group: Annotated[str, typer.Option("--group", "-g", help="The legacy "
                                                                            "consumer group to move.")],
                    config: ConfigOption = Path("topics.yaml"), outputs: OutputsFile = None,
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
        _print_lines(render(result))


def main() -> None:
    app(prog_name="k2")


if __name__ == "__main__":
    main()
