"""`k2 migrate` on a real Kafka and Apicurio, with a real Pulumi stack: from the legacy flat topics to the exchange
topics, nothing lost, nothing doubled.

The legacy data is written the way the old producers wrote it: confluent-kafka's own AvroSerializer under the
legacy subjects (market.trades.raw-value...), keys EXCHANGE.SYMBOL, exchange values in any case, for three
exchanges in two asset classes (ASX; Binance, Coinbase), with records that route nowhere in the middle, and
more written while the migration follows. Every effect is checked where it lands: offsets and groups with the
AdminClient, subjects in the registry, records with read_committed consumers and Confluent's deserializer.

The tests of this module run in order and share one stack and one cluster state (module fixtures).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, IsolationLevel, Producer, SerializingProducer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec
from confluent_kafka.schema_registry import SchemaRegistryClient, topic_subject_name_strategy
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext, StringSerializer

from k2infra.clients import partition_for
from tests.conftest import ROOT, make_project, wait_for
from tests.e2e.conftest import PulumiStack, empty_platform, stack_config, subjects_in_registry, topics_on_cluster
from tests.migration.legacy_data import LEGACY_RECORDS, LEGACY_SCHEMAS, with_mapping

DEADLINE = 90.0  # seconds any wait on the cluster or a process may take (a busy 2-core machine)
STACK = "migration"
MIGRATION_GROUP = "k2-migrate.dev"
LEGACY_GROUP = "legacy-analytics"  # an app reading the legacy trades
DEAD_LETTER = "k2.migration.dead-letter"
COINBASE = '      coinbase:\n        name: "Coinbase"\n        partitions: 10\n        country: "US"\n'
SYMBOLS = {"ASX": ["BHP", "CBA", "CSL", "NAB"], "Binance": ["BTCUSDT", "ETHUSDT", "SOLUSDT"],
           "Coinbase": ["BTC-USD", "ETH-USD"]}
ASSET_CLASS = {"asx": "equities", "binance": "crypto", "coinbase": "crypto"}
LEGACY_PARTITIONS = {"market.trades.raw": 6, "market.quotes.raw": 6, "market.reference_data": 1}
DATA_TYPE = {"market.trades.raw": "trades", "market.quotes.raw": "quotes", "market.reference_data": "reference_data"}
FIRST, SECOND = 200, 40  # records per symbol of trades and quotes in the first load and while following
TARGETS = sorted(f"market.{ASSET_CLASS[ex]}.{dt}.{ex}" for ex in ASSET_CLASS for dt in DATA_TYPE.values())


@dataclass
class World:
    stack: PulumiStack
    admin: AdminClient
    registry: SchemaRegistryClient
    bootstrap: str
    logs: Path
    legacy_read_at: dict[tuple[str, int], int] = field(default_factory=dict)  # the legacy group's offsets at T
    _logs: dict[int, Any] = field(default_factory=dict)

    def k2(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        done = subprocess.run(self._command(args), env=self.stack.env(), cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout)
        print(f"$ k2 {' '.join(args)}  ({time.monotonic() - started:.1f}s, exit {done.returncode})\n{done.stdout}"
              f"{done.stderr}")
        return done

    def start_k2(self, *args: str) -> subprocess.Popen[str]:
        """A background `k2` whose output goes to a file (a pipe nobody reads could block it)."""
        log = open(self.logs / f"k2-{uuid.uuid4().hex[:8]}.log", "w+")  # noqa: SIM115 - read back by output_of
        process = subprocess.Popen(self._command(args), env=self.stack.env(), cwd=ROOT, text=True, stdout=log,
                                   stderr=subprocess.STDOUT)
        self._logs[process.pid] = log
        return process

    def output_of(self, process: subprocess.Popen[str]) -> str:
        log = self._logs.pop(process.pid)
        log.seek(0)
        text = log.read()
        log.close()
        return text

    def _command(self, args: tuple[str, ...]) -> list[str]:
        return [sys.executable, "-m", "k2infra.cli", *args, "--stack", self.stack.name,
                "--config", str(self.stack.project / "topics.yaml")]


@pytest.fixture(scope="module")
def world(platform, tmp_path_factory, admin, registry) -> Iterator[World]:
    base = tmp_path_factory.mktemp("migration")
    text = with_mapping((ROOT / "topics.yaml").read_text(), COINBASE)
    stack = PulumiStack(make_project(base / "project", text), base / "backend", STACK).init(stack_config(platform))
    created = admin.create_topics([NewTopic("market.trades.raw", 6, 1), NewTopic("market.quotes.raw", 6, 1),
                                   NewTopic("market.reference_data", 1, 1, config={"cleanup.policy": "compact"}),
                                   NewTopic(DEAD_LETTER, 1, 1)])
    for future in created.values():
        future.result(timeout=60)
    try:
        yield World(stack, admin, registry, platform.bootstrap_servers, base)
    finally:
        stack.run("destroy", "--yes", check=False)
        admin.delete_topics([DEAD_LETTER], operation_timeout=60)
        for future in admin.delete_consumer_groups([MIGRATION_GROUP, LEGACY_GROUP], request_timeout=30).values():
            try:
                future.result(timeout=60)
            except Exception as err:  # a group that never existed
                print(f"delete group: {err}")
        empty_platform(admin, registry, platform.schema_registry_url)


# --- the legacy producers and readers ---------------------------------------------------------------------------


def old_producer(world: World, topic: str) -> SerializingProducer:
    """A producer as the old apps had: confluent-kafka's AvroSerializer, the topic-name subject strategy."""
    # Named explicitly: confluent-kafka 2.16's default strategy first asks the registry's associations API,
    # which Apicurio does not have (an old producer never did that either).
    serializer = AvroSerializer(world.registry, json.dumps(LEGACY_SCHEMAS[topic]),
                                conf={"subject.name.strategy": topic_subject_name_strategy})
    return SerializingProducer({"bootstrap.servers": world.bootstrap, "key.serializer": StringSerializer(),
                                "value.serializer": serializer, "linger.ms": 5, "enable.idempotence": True})


def produce_legacy(world: World, seqs: range, version: int) -> None:
    for topic in LEGACY_RECORDS:
        producer = old_producer(world, topic)
        make = LEGACY_RECORDS[topic]
        for seq in ([version] if topic == "market.reference_data" else seqs):
            for exchange, symbols in SYMBOLS.items():
                for symbol in symbols:
                    producer.produce(topic, key=f"{exchange}.{symbol}", value=make(symbol, exchange, seq))
            producer.poll(0)
        assert producer.flush(60) == 0


def produce_unroutable(world: World) -> None:
    """One record for each way a legacy record can route nowhere, and a tombstone that routes by its key."""
    trades = old_producer(world, "market.trades.raw")
    make = LEGACY_RECORDS["market.trades.raw"]
    trades.produce("market.trades.raw", key="LSE.VOD", value=make("VOD", "LSE", 1))  # unknown exchange
    trades.produce("market.trades.raw", key="ASX.BHP", value=make("BHP", "Binance", 1))  # key and record disagree
    trades.produce("market.trades.raw", key="ASX.CSL", value=make("CSL", "ASX", 1, side="SIDEWAYS"))  # does not fit
    trades.produce("market.trades.raw", key="CBA", value=make("CBA", "ASX", 1))  # key without exchange
    assert trades.flush(60) == 0
    raw = Producer({"bootstrap.servers": world.bootstrap})
    raw.produce("market.trades.raw", b'{"symbol": "BHP", "price": 1}', b"ASX.BHP")  # not Avro: does not decode
    raw.produce("market.reference_data", None, b"Binance.SOLUSDT")  # a delisting: tombstone
    assert raw.flush(60) == 0


def legacy_ends(world: World) -> dict[tuple[str, int], int]:
    return end_offsets(world, LEGACY_PARTITIONS)


def end_offsets(world: World, partitions: dict[str, int]) -> dict[tuple[str, int], int]:
    consumer = Consumer({"bootstrap.servers": world.bootstrap, "group.id": "e2e-offsets"})
    try:
        return {(t, p): consumer.get_watermark_offsets(TopicPartition(t, p), timeout=30, cached=False)[1]
                for t, n in partitions.items() for p in range(n)}
    finally:
        consumer.close()


def committed(world: World, group: str, partitions: dict[str, int]) -> dict[tuple[str, int], int]:
    """The group's committed offsets as the broker reports them (read_committed: stable, no open transaction's).
    Through a consumer that joins nothing: the AdminClient's list_consumer_group_offsets of confluent-kafka 2.16
    crashes while a group coordinator is loading."""
    consumer = Consumer({"bootstrap.servers": world.bootstrap, "group.id": group, "enable.auto.commit": False,
                         "isolation.level": "read_committed"})
    try:
        result = consumer.committed([TopicPartition(t, p) for t, n in partitions.items() for p in range(n)],
                                    timeout=60)
    finally:
        consumer.close()
    return {(tp.topic, tp.partition): tp.offset for tp in result if tp.offset >= 0}


def read_all(world: World, partitions: dict[str, int], isolation: str = "read_committed") -> list[Any]:
    """Every record of the topics, partition by partition to their current end."""
    ends = end_offsets(world, partitions)
    todo = {tp for tp, end in ends.items() if end > 0}
    consumer = Consumer({"bootstrap.servers": world.bootstrap, "group.id": f"e2e-{uuid.uuid4().hex[:8]}",
                         "enable.auto.commit": False, "isolation.level": isolation, "enable.partition.eof": True})
    consumer.assign([TopicPartition(t, p, 0) for t, p in todo])
    out: list[Any] = []

    def read_to_the_end() -> bool:
        for message in consumer.consume(1000, 0.5):
            tp = (message.topic(), message.partition())
            if message.error():
                todo.discard(tp)
                continue
            out.append(message)
            if message.offset() + 1 >= ends[tp]:
                todo.discard(tp)
        return not todo

    try:
        if todo:
            wait_for(read_to_the_end, "every partition read to its end", DEADLINE, every=0, fail=False)
        assert not todo, f"still reading {sorted(todo)[:3]}"
    finally:
        consumer.close()
    return out


def open_transaction_records(world: World, partitions: dict[str, int]) -> int:
    """Records written in transactions not yet committed: the high watermark minus the last stable offset."""
    request = {TopicPartition(t, p): OffsetSpec.latest() for t, n in partitions.items() for p in range(n)}
    def ends(level: IsolationLevel) -> int:
        futures = world.admin.list_offsets(request, isolation_level=level)
        return sum(f.result(timeout=30).offset for f in futures.values())
    return ends(IsolationLevel.READ_UNCOMMITTED) - ends(IsolationLevel.READ_COMMITTED)


def snapshot(world: World) -> dict[str, Any]:
    """Everything a command could change: topics, subjects, consumer groups and committed offsets."""
    groups = sorted(g.group_id for g in world.admin.list_consumer_groups().result(timeout=60).valid)
    return {"topics": sorted(world.admin.list_topics(timeout=30).topics), "subjects": subjects_in_registry(
        world.registry, ""), "groups": groups, "offsets": {g: committed(world, g, LEGACY_PARTITIONS) for g in groups}}


def read_legacy_group_to_the_end(world: World) -> dict[tuple[str, int], int]:
    """The old app: reads the legacy trades in group LEGACY_GROUP up to now, commits, stops."""
    ends = {tp: o for tp, o in legacy_ends(world).items() if tp[0] == "market.trades.raw"}
    consumer = Consumer({"bootstrap.servers": world.bootstrap, "group.id": LEGACY_GROUP, "enable.auto.commit": False,
                         "auto.offset.reset": "earliest"})
    consumer.subscribe(["market.trades.raw"])
    position: dict[tuple[str, int], int] = {}

    def behind() -> bool:
        return any(position.get(tp, 0) < end for tp, end in ends.items())

    def caught_up() -> bool:
        if not behind():
            return True
        for message in consumer.consume(500, 0.5):
            if not message.error():
                position[(message.topic(), message.partition())] = message.offset() + 1
        return False

    wait_for(caught_up, "the legacy app to catch up", DEADLINE, every=0, fail=False)
    assert not behind(), "the legacy app did not catch up"
    consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in position.items()], asynchronous=False)
    consumer.close()
    return position


# --- the tests, in order -------------------------------------------------------------------------------------------


def test_an_empty_legacy_topic_set_plans_create_register_decommission(world):
    """The design's case: the legacy topics exist, nothing was ever written to them."""
    before = snapshot(world)
    done = world.k2("migrate", "plan", "--json")
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["create_topics"] == TARGETS and len(plan["register_subjects"]) == 6
    assert plan["copy"] == {} and plan["refused"] == {} and plan["decommission"] == sorted(LEGACY_PARTITIONS)
    assert all(c["ok"] for c in plan["checklist"]), plan["checklist"]
    assert snapshot(world) == before


def test_the_dry_run_before_deploying_plans_create_register_copy_and_decommission(world):
    produce_legacy(world, range(0, FIRST // 2), version=1)
    produce_unroutable(world)  # in the middle of the data: the run must stop there without a dead-letter topic
    produce_legacy(world, range(FIRST // 2, FIRST), version=2)
    world.legacy_read_at = read_legacy_group_to_the_end(world)
    before = snapshot(world)

    done = world.k2("migrate", "plan", "--json")
    assert done.returncode == 2, done.stderr  # records would be refused
    plan = json.loads(done.stdout)
    assert plan["create_topics"] == TARGETS
    assert plan["register_subjects"] == sorted(f"market.{ac}.{dt}-value" for ac in ("crypto", "equities")
                                               for dt in DATA_TYPE.values())
    per_symbol = {"trades": FIRST, "quotes": FIRST, "reference_data": 2}
    expected = {f"market.{ASSET_CLASS[ex.lower()]}.{dt}.{ex.lower()}": per_symbol[dt] * len(symbols)
                for ex, symbols in SYMBOLS.items() for dt in DATA_TYPE.values()}
    expected["market.crypto.reference_data.binance"] += 1  # the tombstone, routed by its key
    assert {t: c["records"] for t, c in plan["copy"].items()} == expected
    assert all(c["bytes"] > 40 * c["records"] for c in plan["copy"].values() if c["records"] > 1)
    assert {r: v["count"] for r, v in plan["refused"].items()} == {
        "unknown_exchange": 1, "key_mismatch": 1, "bad_key": 1, "undecodable": 1, "unfit": 1}
    assert "'LSE'" in plan["refused"]["unknown_exchange"]["examples"][0]
    assert plan["decommission"] == sorted(LEGACY_PARTITIONS)
    checks = {c["check"].split(":")[0]: c["ok"] for c in plan["checklist"]}
    assert checks == {"no consumers": True, "no consumer left behind": False, "no producers": False,
                      "every record copied": False}
    # A sample reads at most N records per legacy topic.
    sampled = json.loads(world.k2("migrate", "plan", "--json", "--sample", "50").stdout)
    assert {s["topic"]: s["read"] for s in sampled["legacy"]} == {
        "market.trades.raw": 50, "market.quotes.raw": 50, "market.reference_data": 19}
    # For people: the design's "DRY RUN: Would ..." lines.
    text = world.k2("migrate", "plan").stdout
    assert "DRY RUN: Would create topics: ['market.crypto.quotes.binance'," in text
    assert "DRY RUN: Would decommission topics: ['market.quotes.raw', 'market.reference_data'" in text
    # Nothing changed: no topic, no subject, no group, no committed offset.
    assert snapshot(world) == before
    # And a run before the stack is deployed is refused, writing nothing.
    refused = world.k2("migrate", "run")
    assert refused.returncode == 1 and "pulumi up --stack migration" in refused.stderr
    assert snapshot(world) == before


def test_the_plan_of_the_stack_leaves_the_legacy_topics_alone(world):
    world.stack.up()
    assert set(topics_on_cluster(world.admin)) == set(TARGETS) | set(LEGACY_PARTITIONS)
    done = subprocess.run([sys.executable, "-m", "k2infra.cli", "plan", "--json", "--config",
                           str(world.stack.project / "topics.yaml"), "--stack", STACK], env=world.stack.env(),
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    plan = json.loads(done.stdout)
    assert done.returncode == 0 and plan["retain"] == [] and plan["release"] == [] and len(plan["unchanged"]) == 9


def test_a_run_stops_at_the_first_record_that_routes_nowhere(world):
    done = world.k2("migrate", "run")
    assert done.returncode == 2
    assert "k2 migrate run: stopped at market.trades.raw[" in done.stderr and "--dead-letter" in done.stderr
    position = committed(world, MIGRATION_GROUP, LEGACY_PARTITIONS)
    ends = legacy_ends(world)
    assert 0 < sum(position.values()) < sum(ends.values())


def test_runs_killed_mid_way_then_a_following_run_copy_everything_exactly_once(world):
    ends = legacy_ends(world)
    targets = {t: n for t, n in topics_on_cluster(world.admin).items() if t in TARGETS}
    for attempt in range(4):  # the first kill after a commit; then until one lands inside an open transaction
        before = sum(committed(world, MIGRATION_GROUP, LEGACY_PARTITIONS).values())
        run = world.start_k2("migrate", "run", "--dead-letter", DEAD_LETTER, "--max-rate", "300")
        wait_for(lambda b=before: sum(committed(world, MIGRATION_GROUP, LEGACY_PARTITIONS).values()) > b + 100,
                 f"progress of run {attempt + 1}", DEADLINE, every=0.1)
        if attempt > 0:
            wait_for(lambda: open_transaction_records(world, targets) > 0, "copies in an open transaction", DEADLINE,
                     every=0.1)
        run.send_signal(signal.SIGKILL)
        assert run.wait(timeout=DEADLINE) == -signal.SIGKILL
        print(world.output_of(run))
        assert sum(committed(world, MIGRATION_GROUP, LEGACY_PARTITIONS).values()) < sum(ends.values())
        # Until a run fences it, the killed run's transaction stays open on the broker, its copies unreadable.
        if attempt > 0 and open_transaction_records(world, targets) > 0:
            break
    else:
        pytest.fail("no kill landed inside an open transaction")

    follow = world.start_k2("migrate", "run", "--follow", "--dead-letter", DEAD_LETTER)
    try:
        produce_legacy(world, range(FIRST, FIRST + SECOND), version=3)  # the old producers are still writing
        final = legacy_ends(world)
        wait_for(lambda: committed(world, MIGRATION_GROUP, LEGACY_PARTITIONS) == {
            tp: o for tp, o in final.items() if o > 0}, "the following run to copy everything", DEADLINE, every=0.1)
        follow.send_signal(signal.SIGTERM)  # stops after its open transaction
        assert follow.wait(timeout=DEADLINE) == 0
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait(timeout=DEADLINE)
        print(world.output_of(follow))

    legacy = read_all(world, LEGACY_PARTITIONS)
    copies = read_all(world, {t: n for t, n in topics_on_cluster(world.admin).items() if t in TARGETS})
    dead = read_all(world, {DEAD_LETTER: 1})
    sources = Counter(_source(m) for m in [*copies, *dead])
    assert sources == Counter({(m.topic(), m.partition(), m.offset()): 1 for m in legacy}), "not exactly once"
    assert len(dead) == 5 and all(dict(m.headers())["k2-refused-reason"] for m in dead)
    aborted = len(read_all(world, targets, "read_uncommitted")) - len(copies)
    print(f"{len(legacy)} legacy records, {len(copies)} copies, {len(dead)} dead-lettered; {aborted} records of "
          "aborted transactions are in the logs (invisible to read_committed)")
    assert aborted > 0  # the kill did land inside a transaction: its copies are in the log, never read
    _check_copies(world, legacy, copies)


def _source(message: Any) -> tuple[str, int, int]:
    headers = dict(message.headers())
    return (headers["k2-source-topic"].decode(), int(headers["k2-source-partition"]),
            int(headers["k2-source-offset"]))


def _micros(value: Any) -> int:
    return round(value.timestamp() * 1_000_000) if isinstance(value, datetime) else value


def _check_copies(world: World, legacy: list[Any], copies: list[Any]) -> None:
    """Each copy: on its exchange's topic, keyed by the symbol on the partition apps compute, its timestamp kept,
    its value under the shared subject with the mapping applied; per symbol in legacy order."""
    outputs = world.stack.outputs()
    partitions = {t["name"]: t["partitions"] for t in outputs["topics"]}
    schema_ids = {s["subject"]: s["schema_id"] for s in outputs["subjects"]}
    by_source = {(m.topic(), m.partition(), m.offset()): m for m in legacy}
    deserializer = AvroDeserializer(world.registry)
    order: dict[tuple[str, bytes], list[tuple[int, int]]] = defaultdict(list)
    for copy in copies:
        original = by_source[_source(copy)]
        old = deserializer(original.value(), SerializationContext(original.topic(), MessageField.VALUE)) \
            if original.value() else None
        topic, key = copy.topic(), copy.key().decode()
        exchange = original.key().decode().split(".", 1)[0].lower()
        assert topic == f"market.{ASSET_CLASS[exchange]}.{DATA_TYPE[original.topic()]}.{exchange}"
        assert key == original.key().decode().split(".", 1)[1]
        assert copy.partition() == partition_for(key, partitions[topic])
        assert copy.timestamp() == original.timestamp()
        order[(topic, copy.key())].append((original.partition(), original.offset()))
        if old is None:
            assert copy.value() is None  # the tombstone
            continue
        subject = f"market.{ASSET_CLASS[exchange]}.{DATA_TYPE[original.topic()]}-value"
        assert int.from_bytes(copy.value()[1:5], "big") == schema_ids[subject]
        new = deserializer(copy.value(), SerializationContext(topic, MessageField.VALUE))
        assert new["exchange"] == exchange and new["symbol"] == old["symbol"]
        when = "updated_time" if "reference_data" in topic else "event_time"  # quotes: legacy ms, shared µs
        assert _micros(new[when]) == _micros(old[when])
        if "trades" in topic:
            assert new["quantity"] == old["qty"] and new["side"] == old["side"] and "venue" not in new
            assert _micros(new["ingest_time"]) == original.timestamp()[1] * 1000
        if "reference_data" not in topic:
            assert new["sequence_number"] == old["sequence_number"]
    for (topic, key), sources in order.items():
        assert sources == sorted(sources), f"{topic} {key!r}: not in legacy order"


def test_verify_finds_both_sides_equal(world):
    done = world.k2("migrate", "verify", "--dead-letter", DEAD_LETTER, "--json")
    assert done.returncode == 0, done.stdout
    report = json.loads(done.stdout)
    assert report["equal"] and report["pending"] == 0 and report["different_keys"] == 0
    assert report["keys"] == 2 * sum(len(s) for s in SYMBOLS.values()) + sum(len(s) for s in SYMBOLS.values())
    assert report["counts"]["equities.asx.trades"] == {"legacy": 4 * (FIRST + SECOND),
                                                      "copied": 4 * (FIRST + SECOND)}
    assert report["dead_lettered"] == report["refused"] and sum(report["refused"].values()) == 5
    assert "EQUAL" in world.k2("migrate", "verify", "--dead-letter", DEAD_LETTER).stdout


def test_a_cut_over_group_resumes_at_exactly_the_next_record(world):
    trades = {t: n for t, n in topics_on_cluster(world.admin).items() if ".trades." in t and t in TARGETS}
    # Refused while the group has an active member.
    member = Consumer({"bootstrap.servers": world.bootstrap, "group.id": LEGACY_GROUP, "enable.auto.commit": False})
    member.subscribe(["market.trades.raw"])
    try:
        wait_for(lambda: member.consume(1, 0.2) is not None and bool(member.assignment()), "a member to join",
                 DEADLINE, every=0.1)
        refused = world.k2("migrate", "cutover", "--group", LEGACY_GROUP)
        assert refused.returncode == 1 and "active member" in refused.stderr
        assert committed(world, LEGACY_GROUP, trades) == {}
    finally:
        member.close()

    done = world.k2("migrate", "cutover", "--group", LEGACY_GROUP, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["applied"] and result["rereads"] == 0 and result["unread"] == 9 * SECOND
    # The group on the exchange topics receives exactly the trades it had not read on the legacy topic.
    consumer = Consumer({"bootstrap.servers": world.bootstrap, "group.id": LEGACY_GROUP, "enable.auto.commit": False,
                         "isolation.level": "read_committed", "auto.offset.reset": "latest"})
    consumer.subscribe(sorted(trades))
    received: list[Any] = []

    def all_unread() -> bool:
        if len(received) < 9 * SECOND:
            received.extend(m for m in consumer.consume(500, 0.5) if not m.error())
        return len(received) >= 9 * SECOND

    wait_for(all_unread, "the trades the group had not read", DEADLINE, every=0, fail=False)
    received += [m for m in consumer.consume(500, 1.0) if not m.error()]  # anything more would show here
    consumer.commit(asynchronous=False)
    consumer.close()
    unread = {(m.topic(), m.partition(), m.offset()) for m in read_all(world, {"market.trades.raw": 6})
              if m.offset() >= world.legacy_read_at.get((m.topic(), m.partition()), 0)}
    assert Counter(_source(m) for m in received) == Counter(dict.fromkeys(unread, 1))
    # Rollback: back on the legacy topic, at its end (it has read everything on the exchange topics).
    back = world.k2("migrate", "cutover", "--group", LEGACY_GROUP, "--reverse", "--json")
    assert back.returncode == 0 and json.loads(back.stdout)["rereads"] == 0
    ends = {tp: o for tp, o in legacy_ends(world).items() if tp[0] == "market.trades.raw"}
    assert committed(world, LEGACY_GROUP, {"market.trades.raw": 6}) == ends


def test_verify_names_a_record_copied_twice(world):
    copies = read_all(world, {"market.equities.trades.asx": 30})
    duplicate = next(m for m in copies if m.key() == b"NAB")
    producer = Producer({"bootstrap.servers": world.bootstrap})
    producer.produce(duplicate.topic(), duplicate.value(), duplicate.key(), partition=duplicate.partition(),
                     timestamp=duplicate.timestamp()[1], headers=duplicate.headers())
    assert producer.flush(30) == 0
    done = world.k2("migrate", "verify", "--json")
    assert done.returncode == 2
    report = json.loads(done.stdout)
    assert not report["equal"] and report["different_keys"] == 1
    difference = report["differences"][0]
    assert (difference["topic"], difference["key"]) == ("market.equities.trades.asx", "NAB")
    assert f"copied twice: offset(s) {_source(duplicate)[2]}" in difference["detail"]


def test_the_legacy_topics_retire_through_the_decommission_path(world):
    plan = json.loads(world.k2("migrate", "plan", "--json").stdout)
    checks = {c["check"].split(":")[0]: c["ok"] for c in plan["checklist"]}
    assert checks["no consumers"] and checks["every record copied"] and "no consumer left behind" not in checks
    copies_before = sum(end_offsets(world, {t: n for t, n in topics_on_cluster(world.admin).items()
                                            if t in TARGETS}).values())
    text = (world.stack.project / "topics.yaml").read_text()
    world.stack.set_topology(text.replace("  dev:\n    replication_factor: 1\n", "  dev:\n    replication_factor: 1\n"
                                          "    decommission: [market.trades.raw, market.quotes.raw, "
                                          "market.reference_data]\n"))
    # The policy pack passes the preview: the legacy topics are not held to the design's topic rules.
    preview = world.stack.run("preview", "--policy-pack", str(ROOT / "policy"), check=False)
    assert preview.returncode == 0 and "[mandatory]" not in preview.stdout, preview.stdout + preview.stderr
    world.stack.up()  # adopts them released
    assert set(LEGACY_PARTITIONS) <= set(topics_on_cluster(world.admin))
    world.stack.up()  # deletes them
    wait_for(lambda: not set(LEGACY_PARTITIONS) & set(topics_on_cluster(world.admin)), "the legacy topics to go",
             DEADLINE, every=0.1)
    assert sum(end_offsets(world, {t: n for t, n in topics_on_cluster(world.admin).items()
                                   if t in TARGETS}).values()) == copies_before
    gone = world.k2("migrate", "plan")
    assert gone.returncode == 1 and "legacy topic(s) not on the cluster" in gone.stderr


def test_a_wrong_stack_or_an_unreachable_cluster_is_named_and_nothing_is_written(world, tmp_path, monkeypatch):
    monkeypatch.setenv("K2_CONNECT_TIMEOUT", "3")  # nothing listens on port 9: no need to ask it again for 15 s
    before = snapshot_topics(world)
    for command in ("plan", "run", "verify"):
        done = subprocess.run([sys.executable, "-m", "k2infra.cli", "migrate", command, "--stack", "staging",
                               "--config", str(world.stack.project / "topics.yaml")], env=world.stack.env(), cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 1 and "no environment 'staging'" in done.stderr, done.stderr
    project = make_project(tmp_path / "dark", (world.stack.project / "topics.yaml").read_text())
    (project / "Pulumi.dark.yaml").write_text("config:\n  k2:environment: dev\n  k2:bootstrapServers: 127.0.0.1:9\n"
                                              "  k2:schemaRegistryUrl: http://127.0.0.1:9/apis/ccompat/v7\n")
    done = subprocess.run([sys.executable, "-m", "k2infra.cli", "migrate", "plan", "--stack", "dark", "--config",
                           str(project / "topics.yaml")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "cannot reach" in done.stderr and "127.0.0.1:9" in done.stderr, done.stderr
    assert snapshot_topics(world) == before


def snapshot_topics(world: World) -> list[str]:
    return sorted(world.admin.list_topics(timeout=30).topics)
