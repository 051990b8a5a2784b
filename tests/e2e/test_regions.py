"""Regions on the real parts: three local regions (us-east and eu-west homes, apac aggregating both) started by
`k2 local up --regions`, each a Kafka cluster of its own with its own stack (`k2:region`) from one topics.yaml, all
pointing at the environment's one registry; MirrorMaker 2 started by the same command once the aggregate's
`pulumi up` created the mirrors, with the flows the aggregate publishes. K2's producers write
trades in both home regions; a K2 consumer in the aggregate subscribed to every trades topic reads each
acknowledged trade once, in per-symbol order, decoding through the registry. AdminClient is the witness of what
each region's cluster holds."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from k2infra.clients import StackOutputs, SubscriptionBuilder, get_consumer, get_producer, load_stack_outputs
from k2infra.local import PlatformState
from k2infra.local.regions import RegionalPlatforms
from k2infra.model import load_topology
from tests.clients.samples import trade
from tests.conftest import ROOT, make_project, wait_for
from tests.e2e.conftest import PulumiStack
from tests.e2e.mirrored import end_offsets
from tests.model.test_regions import REGIONAL

REGIONS = ("us-east", "eu-west", "apac")
HOMES = {"us-east": ("crypto", "binance"), "eu-west": ("equities", "lse")}
SYMBOLS = [f"S{i:02d}" for i in range(12)]
ROUNDS = 40
DEADLINE = 120.0  # generous: three clusters and MirrorMaker on a busy 2-core machine


@dataclass
class Deployed:
    platforms: dict[str, PlatformState]
    stacks: dict[str, PulumiStack]
    refused_first: str  # the aggregate's `up` before its homes were deployed
    base: Path
    outputs: dict[str, StackOutputs] = field(default_factory=dict)

    def load_outputs(self, region: str) -> StackOutputs:
        path = self.base / f"outputs-{region}.json"
        path.write_text(json.dumps(self.stacks[region].outputs()))
        self.outputs[region] = load_stack_outputs(path)
        return self.outputs[region]


def k2_local(base: Path, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(ROOT / "bin" / "k2"), "local", *args, "--regions", "--dir", str(base / "platforms"),
                           "--config", str(project / "topics.yaml")], capture_output=True, text=True, timeout=900)
    print(done.stdout, done.stderr)
    return done


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("region-project") / "project", REGIONAL)


@pytest.fixture(scope="module")
def platforms(project: Path) -> Iterator[dict[str, PlatformState]]:
    base = project.parent
    try:
        up = k2_local(base, project, "up")
        assert up.returncode == 0, up.stdout + up.stderr
        assert "MirrorMaker 2: no flow yet" in up.stdout  # no mirror exists yet: MirrorMaker would create them
        regional = RegionalPlatforms(base / "platforms")
        states = {r: regional.platform(r).state() for r in REGIONS}
        assert all(states.values())
        yield {r: s for r, s in states.items() if s is not None}
    finally:
        k2_local(base, project, "down", "--wipe")


@pytest.fixture(scope="module")
def deployed(platforms: dict[str, PlatformState], project: Path) -> Deployed:
    base = project.parent
    registry = platforms["apac"].schema_registry_url  # the environment's one registry (docs/regions.md)
    stacks = {r: PulumiStack(project, base / "backend", f"dev-{r}").init({
        "k2:environment": "dev", "k2:cluster": "local", "k2:region": r,
        "k2:bootstrapServers": platforms[r].bootstrap_servers, "k2:schemaRegistryUrl": registry})
        for r in REGIONS}
    early = stacks["apac"].up(check=False)
    assert early.returncode != 0
    for region in REGIONS:
        stacks[region].up()
    return Deployed(platforms, stacks, early.stdout + early.stderr, base)


def market_topics(state: PlatformState) -> dict[str, int]:
    admin = AdminClient({"bootstrap.servers": state.bootstrap_servers})
    listed = admin.list_topics(timeout=60).topics
    return {name: len(t.partitions) for name, t in listed.items() if name.startswith("market.")}


def test_the_aggregate_is_refused_until_its_homes_are_deployed(deployed):
    assert "cannot read the outputs of" in deployed.refused_first and "pulumi up --stack dev-" in \
        deployed.refused_first, deployed.refused_first
    assert "Refused, nothing was changed" in deployed.refused_first


def test_each_region_holds_its_home_topics_and_the_aggregate_mirrors_them_all(deployed):
    every = load_topology(deployed.stacks["apac"].project / "topics.yaml", "dev")
    on = {r: market_topics(deployed.platforms[r]) for r in REGIONS}
    for region, (_, exchange) in HOMES.items():
        assert set(on[region]) == {t.name for t in every.topics if t.exchange == exchange}
    assert on["apac"] == {t.name: t.partitions for t in every.topics}  # home asx plus every mirror
    for region in HOMES:
        for name, partitions in on[region].items():
            assert on["apac"][name] == partitions  # per-symbol order needs the same partitioning
    outputs = deployed.load_outputs("apac")
    assert {f.source for f in outputs.replication} == set(HOMES)
    assert all(f.source_bootstrap_servers == deployed.platforms[f.source].bootstrap_servers
               for f in outputs.replication)


def test_trades_from_both_homes_reach_the_aggregate_once_and_in_order(deployed, project):
    apac = deployed.outputs.get("apac") or deployed.load_outputs("apac")
    up = k2_local(project.parent, project, "up")  # the mirrors exist now: MirrorMaker starts for both flows
    assert up.returncode == 0, up.stdout + up.stderr
    assert all(f"{f.source}->apac" in up.stdout.split("MirrorMaker 2:")[-1] for f in apac.replication)
    again = k2_local(project.parent, project, "up")
    assert "MirrorMaker already running" in again.stdout  # same flows: left alone
    try:
        run = uuid.uuid4().hex[:6]
        acked: set[tuple[str, str, int]] = set()
        for region, (_, exchange) in HOMES.items():
            outputs = deployed.outputs.get(region) or deployed.load_outputs(region)
            with get_producer("trades", outputs, delivery_reports="all") as producer:
                for seq in range(ROUNDS):
                    for symbol in SYMBOLS:
                        producer.produce(f"market.{HOMES[region][0]}.trades.{exchange}",
                                         trade(f"{run}{symbol}", exchange, seq),
                                         on_delivery=lambda err, msg, key=(exchange, f"{run}{symbol}", seq):
                                         acked.add(key) if err is None else None)
                assert producer.flush(60) == 0
        assert len(acked) == len(HOMES) * ROUNDS * len(SYMBOLS)
        seen: dict[tuple[str, str], list[int]] = {}
        pattern = SubscriptionBuilder(apac).subscribe_to_data_type("trades")  # asx, lse and binance alike
        with get_consumer(f"regions-{run}", pattern, apac, auto_offset_reset="earliest") as consumer:
            def read_all() -> bool:
                consumer.process(lambda r: seen.setdefault((r.value["exchange"], r.value["symbol"]), []).append(
                    r.value["sequence_number"]) if r.value["symbol"].startswith(run) else None, timeout=0.5)
                return sum(len(v) for v in seen.values()) >= len(acked)

            wait_for(read_all, f"{len(acked)} trades in apac", DEADLINE * 2, every=0)
        assert {(ex, sym, s) for (ex, sym), seqs in seen.items() for s in seqs} == acked
        assert all(seqs == sorted(seqs) and len(seqs) == len(set(seqs)) for seqs in seen.values())  # once, in order
    except BaseException:
        RegionalPlatforms(project.parent / "platforms").stop_mirror()
        raise
    # MirrorMaker keeps running for the failover test below.


def k2_failover(deployed: Deployed, group: str, *extra: str) -> subprocess.CompletedProcess[str]:
    stack = deployed.stacks["apac"]
    return subprocess.run([str(ROOT / "bin" / "k2"), "regions", "failover", "--stack", stack.name, "--config",
                           str(stack.project / "topics.yaml"), "--group", group, "--from", "us-east", "--json",
                           *extra], cwd=stack.project, env=stack.env(), capture_output=True, text=True, timeout=300)


def test_a_group_fails_over_to_the_aggregate_at_its_translated_offsets(deployed, project):
    """A group reads part of binance's trades in us-east, then `k2 regions failover --stack dev-apac` moves it: in
    apac it reads the rest and exactly the records the command said it would read again, and skips none."""
    topic = "market.crypto.trades.binance"
    try:
        home, apac = deployed.outputs["us-east"], deployed.outputs["apac"]
        group = f"failover-{uuid.uuid4().hex[:6]}"
        before: list[tuple[str, int]] = []
        with get_consumer(group, [topic], home, auto_offset_reset="earliest") as consumer:
            wait_for(lambda: consumer.process(lambda r: before.append((r.value["symbol"], r.value["sequence_number"])),
                                              timeout=0.5, max_records=200) and len(before) >= 200,
                     "200 trades read in us-east", DEADLINE, every=0)
            consumer.commit(asynchronous=False)
        total = sum(1 for _ in before)

        def planned() -> dict | None:
            done = k2_failover(deployed, group, "--dry-run")
            return json.loads(done.stdout) if done.returncode == 0 else None

        plan = wait_for(planned, f"{group}'s checkpoints in apac", DEADLINE, every=1)
        done = k2_failover(deployed, group)
        assert done.returncode == 0, done.stdout + done.stderr
        moved = json.loads(done.stdout)
        assert moved["committed"] and not plan["committed"]
        rereads = moved["topics"][topic]["rereads"]
        after: list[tuple[str, int]] = []
        home_cluster = deployed.platforms["us-east"]
        ends = sum(end_offsets(home_cluster.bootstrap_servers, topic, market_topics(home_cluster)[topic]).values())
        with get_consumer(group, [topic], apac, auto_offset_reset="earliest") as consumer:
            def resumed() -> bool:
                consumer.process(lambda r: after.append((r.value["symbol"], r.value["sequence_number"])), timeout=0.5)
                return len(after) >= ends - total + rereads

            wait_for(resumed, "the rest of the topic read in apac", DEADLINE, every=0)
        assert len(after) == ends - total + rereads  # the rest, plus exactly the re-reads it reported
        assert set(before) | set(after) == set(before + after) and len(set(before) | set(after)) == ends  # none skipped
        print(f"MEASURED failover: {total} read in us-east, {rereads} re-read in apac ({moved['topics'][topic]})")
    finally:
        RegionalPlatforms(project.parent / "platforms").stop_mirror()


def test_a_replication_cycle_is_refused_by_the_preview_at_its_line(deployed):
    stack = deployed.stacks["apac"]
    shipped = (stack.project / "topics.yaml").read_text()
    cyclic = shipped.replace("    exchanges: [crypto.binance]\n", "    exchanges: [crypto.binance]\n"
                             "    aggregates: [apac]\n", 1)
    assert cyclic != shipped
    try:
        stack.set_topology(cyclic)
        done = stack.run("preview", check=False)
    finally:
        stack.set_topology(shipped)
    assert done.returncode != 0
    line = cyclic.splitlines().index("    aggregates: [apac]") + 1
    assert f"topics.yaml:{line}: regions.us-east.aggregates.[0]: replication cycle: apac -> us-east -> apac" in \
        done.stdout + done.stderr, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


EURONEXT = '      euronext:\n        name: "Euronext"\n        partitions: 4\n\n  crypto:\n'


def test_a_new_exchange_is_one_up_per_affected_stack_and_reaches_the_aggregate(deployed, project, tmp_path):
    """The prod path on real parts: the aggregate's stack declares the flows as connectors on a Kafka Connect cluster;
    a new exchange homed in eu-west is a topics.yaml edit, then `pulumi up` of eu-west and apac. us-east's preview
    shows no change; apac's shows the new mirrors and the connectors' topics changing; the new exchange's trades
    reach a K2 consumer in apac with no other step."""
    from k2infra.local.connect import ConnectWorker

    stacks = deployed.stacks
    worker = ConnectWorker(tmp_path / "connect", deployed.platforms["apac"].bootstrap_servers)
    worker.start(timeout=DEADLINE * 2)
    shipped = (project / "topics.yaml").read_text()
    try:
        stacks["apac"].run("config", "set", "k2:connectUrl", worker.url)
        stacks["apac"].up()  # the existing flows as connectors
        edited = shipped.replace("\n  crypto:\n", "\n" + EURONEXT, 1).replace("[equities.lse]",
                                                                               "[equities.lse, equities.euronext]")
        assert edited != shipped
        stacks["apac"].set_topology(edited)
        unaffected = stacks["us-east"].preview_steps()
        assert {s["op"] for s in unaffected} <= {"same"}, [s for s in unaffected if s["op"] != "same"]
        stacks["eu-west"].up()
        preview = stacks["apac"].run("preview", "--diff").stdout
        print(preview)  # what the closing note quotes
        assert "market.equities.trades.euronext" in preview and "k2.eu-west.apac.source" in preview
        stacks["apac"].up()
        on_apac = market_topics(deployed.platforms["apac"])
        assert on_apac["market.equities.trades.euronext"] == 4
        eu_west = deployed.load_outputs("eu-west")
        apac = deployed.load_outputs("apac")
        run = uuid.uuid4().hex[:6]
        acked: set[tuple[str, int]] = set()
        with get_producer("trades", eu_west, delivery_reports="all") as producer:
            for seq in range(ROUNDS):
                for symbol in SYMBOLS:
                    producer.produce("market.equities.trades.euronext", trade(f"{run}{symbol}", "euronext", seq),
                                     on_delivery=lambda err, msg, key=(f"{run}{symbol}", seq):
                                     acked.add(key) if err is None else None)
            assert producer.flush(60) == 0
        seen: dict[str, list[int]] = {}
        topics = SubscriptionBuilder(apac).subscribe_to_exchange("equities", "euronext")
        with get_consumer(f"euronext-{run}", topics, apac, auto_offset_reset="earliest") as consumer:
            def read_all() -> bool:
                consumer.process(lambda r: seen.setdefault(r.value["symbol"], []).append(r.value["sequence_number"])
                                 if r.value["symbol"].startswith(run) else None, timeout=0.5)
                return sum(len(v) for v in seen.values()) >= len(acked)

            wait_for(read_all, f"{len(acked)} euronext trades in apac", DEADLINE * 2, every=0)
        assert {(sym, s) for sym, seqs in seen.items() for s in seqs} == acked
        assert all(seqs == sorted(seqs) and len(seqs) == len(set(seqs)) for seqs in seen.values())
    finally:
        stacks["apac"].set_topology(shipped)
        worker.stop()
