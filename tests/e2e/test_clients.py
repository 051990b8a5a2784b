"""The app helpers on a real stack: `pulumi up` on the session's Kafka and registry, then its outputs
drive producers and consumers.

Effects are checked where they land: partitions and offsets as Kafka reports them, schemas through
the registry, records as a consumer receives them. The stack is destroyed (and the exchange one test
adds with it) when the module ends, so later tests find the cluster empty.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import string
import subprocess
import sys
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from k2infra.clients import (
    ENV_VAR,
    ConsumeError,
    DataType,
    DeliveryError,
    LiveStack,
    MarketRecord,
    RecordError,
    StackOutputs,
    SubscriptionBuilder,
    get_consumer,
    get_producer,
    get_subscription_builder,
    get_topic_builder,
    load_stack_outputs,
    partition_for,
)
from tests.clients.samples import SAMPLES
from tests.conftest import ROOT, make_project, wait_for
from tests.e2e.conftest import PulumiStack, empty_platform, first_message, stack_config, topics_on_cluster

SYMBOLS = {"asx": ["BHP", "CBA", "CSL", "NAB", "WBC"], "binance": ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT"]}
ASSET_CLASS = {"asx": "equities", "binance": "crypto"}
PER_SYMBOL = 25  # records per symbol and data type, sequence numbers 1..25
DEADLINE = 30.0  # seconds any wait on the cluster may take
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Deployed:
    stack: PulumiStack
    outputs_file: Path
    outputs: StackOutputs


@pytest.fixture(scope="module")
def deployed(platform, tmp_path_factory, admin, registry) -> Deployed:
    base = tmp_path_factory.mktemp("clients")
    config = {**stack_config(platform), "k2:allowTopicDeletion": "true"}  # a throwaway stack
    stack = PulumiStack(make_project(base / "project"), base / "backend", "clients").init(config)
    try:
        stack.up()
        outputs_file = base / "outputs.json"
        outputs_file.write_text(json.dumps(stack.outputs()))
        yield Deployed(stack, outputs_file, load_stack_outputs(outputs_file))
    finally:
        stack.run("destroy", "--yes", check=False)
        empty_platform(admin, registry, platform.schema_registry_url)


@pytest.fixture(scope="module")
def published(deployed) -> dict[str, list[dict]]:
    """Trades, quotes and reference data for ASX and Binance, each data type through its own profile."""
    sent: dict[str, list[dict]] = defaultdict(list)
    for data_type in DataType:
        with get_producer(data_type, deployed.outputs) as producer:
            for exchange, symbols in SYMBOLS.items():
                topic = producer.topic(ASSET_CLASS[exchange], exchange)
                count = 1 if data_type is DataType.REFERENCE_DATA else PER_SYMBOL
                for seq in range(1, count + 1):
                    for symbol in symbols:
                        record = (SAMPLES[data_type](symbol, exchange) if data_type is DataType.REFERENCE_DATA
                                  else SAMPLES[data_type](symbol, exchange, seq))
                        producer.produce(topic, record)
                        sent[topic].append(record)
        stats = producer.stats
        assert (stats.delivered, stats.failed, stats.pending) == (stats.produced, 0, 0), stats
    return dict(sent)


def consume(outputs: StackOutputs, topics: list[str], expected: int, group: str | None = None) -> list[MarketRecord]:
    """Records a consumer group (fresh by default) receives: `expected`, then whatever else comes within 1 s."""
    received: list[MarketRecord] = []
    with get_consumer(group or f"e2e-{uuid.uuid4().hex[:8]}", topics, outputs,
                      auto_offset_reset="earliest") as consumer:
        def enough() -> bool:
            if len(received) < expected:
                consumer.process(received.append, timeout=0.5)
            return len(received) >= expected

        wait_for(enough, f"{expected} records of {topics}", DEADLINE, every=0, fail=False)
        consumer.run(received.append, idle_timeout=1.0)  # anything beyond `expected` would show here
    return received


def test_outputs_from_every_source_describe_the_cluster(deployed, admin, registry, monkeypatch):
    stack = deployed.stack
    monkeypatch.setenv(ENV_VAR, str(deployed.outputs_file))
    sources = {
        "env": load_stack_outputs(),
        "live": load_stack_outputs(LiveStack(stack.name, stack.project, env=stack.env())),
        "mapping": load_stack_outputs(json.loads(deployed.outputs_file.read_text())),
    }
    on_cluster = topics_on_cluster(admin)
    for name, outputs in sources.items():
        assert {t.name: t.partitions for t in outputs.topics} == on_cluster, name
        for subject in outputs.subjects:
            assert registry.get_version(subject.subject, subject.version).schema_id == subject.schema_id, name
    assert sources["env"].subjects == sources["live"].subjects == sources["mapping"].subjects
    topic = get_topic_builder().build_topic_name("equities", DataType.TRADES, "asx")
    assert on_cluster[topic] == 30


EXPECTED = {
    "exchange": (lambda b: b.subscribe_to_exchange("equities", "asx"),
                 ["market.equities.quotes.asx", "market.equities.reference_data.asx", "market.equities.trades.asx"]),
    "asset_class": (lambda b: b.subscribe_to_asset_class("crypto"),
                    ["market.crypto.quotes.binance", "market.crypto.reference_data.binance",
                     "market.crypto.trades.binance"]),
    "data_type": (lambda b: b.subscribe_to_data_type(DataType.TRADES),
                  ["market.crypto.trades.binance", "market.equities.trades.asx"]),
    "filtered": (lambda b: b.subscribe_to_asset_class("equities", data_types=[DataType.TRADES, DataType.QUOTES],
                                                      exchanges=["asx"]),
                 ["market.equities.quotes.asx", "market.equities.trades.asx"]),
    "specific": (lambda b: b.subscribe_to_specific_topics([("equities", DataType.TRADES, "asx"),
                                                           ("crypto", DataType.QUOTES, "binance")]),
                 ["market.crypto.quotes.binance", "market.equities.trades.asx"]),
    "regex": (lambda b: b.subscribe_to_pattern(data_types=[DataType.QUOTES]),
              ["market.crypto.quotes.binance", "market.equities.quotes.asx"]),
}


@pytest.mark.parametrize("pattern", EXPECTED)
def test_each_subscription_pattern_receives_exactly_its_topics(deployed, published, admin, pattern):
    build, topics = EXPECTED[pattern]
    subscription = build(SubscriptionBuilder(deployed.outputs))
    if pattern != "regex":
        assert subscription == topics
    expected = sum(len(published[t]) for t in topics)
    received = consume(deployed.outputs, subscription, expected)

    assert sorted({r.topic for r in received}) == topics
    assert len(received) == expected
    partitions = topics_on_cluster(admin)
    last_seq: dict[tuple[str, str], int] = {}
    sent = {(t, r["symbol"], r.get("sequence_number")): r for t in topics for r in published[t]}
    for record in received:
        symbol = record.value["symbol"]
        assert record.key == symbol
        assert record.partition == partition_for(symbol, partitions[record.topic])  # as Kafka reports it
        original = sent[(record.topic, symbol, record.value.get("sequence_number"))]
        for name, value in original.items():  # decoded through the registry: timestamps become datetimes
            assert record.value[name] == (EPOCH + timedelta(microseconds=value) if name.endswith("_time") else value)
        if "sequence_number" in record.value:  # per-symbol order: each record follows the previous one
            key = (record.topic, symbol)
            assert record.value["sequence_number"] == last_seq.get(key, 0) + 1
            last_seq[key] = record.value["sequence_number"]
    assert all(seq == PER_SYMBOL for seq in last_seq.values())


def test_records_carry_the_stacks_schema_ids_and_decode_with_confluents_deserializer(
        deployed, published, registry, platform):
    consumer = Consumer({"bootstrap.servers": platform.bootstrap_servers, "group.id": f"raw-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest"})
    topic = "market.crypto.quotes.binance"
    consumer.subscribe([topic])
    try:
        message = first_message(consumer, DEADLINE)
    finally:
        consumer.close()
    assert message is not None and message.error() is None
    subject = next(s for s in deployed.outputs.subjects if s.subject == "market.crypto.quotes-value")
    assert message.value()[0] == 0 and int.from_bytes(message.value()[1:5], "big") == subject.schema_id
    decoded = AvroDeserializer(registry)(message.value(), SerializationContext(topic, MessageField.VALUE))
    assert decoded["symbol"] == message.key().decode()
    # Apps never register: the registry still has exactly the versions the stack deployed.
    for s in deployed.outputs.subjects:
        assert registry.get_versions(s.subject) == [s.version]


def test_partition_for_agrees_with_the_java_client_on_random_symbols(tmp_path):
    rng = random.Random(2026)
    alphabet = string.ascii_uppercase + string.digits + "._-/" + "éü日経"
    symbols = ["".join(rng.choices(alphabet, k=rng.randint(1, 12))) for _ in range(400)]
    java = tmp_path / "Partitions.java"
    java.write_text(
        "import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;\n"
        "import java.nio.charset.StandardCharsets; import java.nio.file.*;\n"
        "public class Partitions { public static void main(String[] a) throws Exception {\n"
        "  for (String s : Files.readAllLines(Path.of(a[0]), StandardCharsets.UTF_8))\n"
        "    System.out.println(BuiltInPartitioner.partitionForKey(s.getBytes(StandardCharsets.UTF_8), 30) + \" \" +"
        " BuiltInPartitioner.partitionForKey(s.getBytes(StandardCharsets.UTF_8), 40)); } }\n")
    (tmp_path / "symbols.txt").write_text("\n".join(symbols) + "\n", encoding="utf-8")
    done = subprocess.run(["java", "-cp", f"{os.environ['K2_KAFKA_LIB']}/*", str(java), str(tmp_path / "symbols.txt")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    expected = [tuple(map(int, line.split())) for line in done.stdout.splitlines()]
    assert [(partition_for(s, 30), partition_for(s, 40)) for s in symbols] == expected


def watermark_total(platform, topic: str, partitions: int) -> int:
    consumer = Consumer({"bootstrap.servers": platform.bootstrap_servers, "group.id": "watermarks"})
    try:
        return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(partitions))
    finally:
        consumer.close()


def test_a_record_that_does_not_fit_sends_nothing(deployed, published, platform):
    topic = "market.equities.trades.asx"
    before = watermark_total(platform, topic, 30)
    with get_producer(DataType.TRADES, deployed.outputs) as producer:
        with pytest.raises(RecordError, match="field 'quantity': expects a number, got str '100 shares'"):
            producer.produce(topic, SAMPLES["trades"]("BHP", "asx", 99, quantity="100 shares"))
        assert producer.flush(10) == 0
        assert watermark_total(platform, topic, 30) == before
        producer.produce(topic, SAMPLES["trades"]("BHP", "asx", 99))  # the same check sees a record that is sent
    assert watermark_total(platform, topic, 30) == before + 1


def test_a_delivery_the_broker_refuses_reaches_the_caller(deployed, published):
    topic = "market.crypto.trades.binance"
    huge = SAMPLES["trades"]("BTCUSDT", "binance", 1, trade_conditions=[os.urandom(1_200_000).hex()])
    failures = []
    # The client would refuse it before sending; raise its limit so the broker (1 MB) does.
    with get_producer(DataType.TRADES, deployed.outputs, on_delivery_failure=failures.append,
                      config={"message.max.bytes": 4_000_000}) as producer:
        producer.produce(topic, huge)
        producer.produce(topic, SAMPLES["trades"]("ETHUSDT", "binance", 1))
    assert [(f.topic, f.key, f.error.str()) for f in failures] == [(topic, "BTCUSDT", "Broker: Message size too large")]
    assert (producer.stats.delivered, producer.stats.failed) == (1, 1)

    without_callback = get_producer(DataType.TRADES, deployed.outputs, config={"message.max.bytes": 4_000_000})
    without_callback.produce(topic, huge)
    with pytest.raises(DeliveryError, match=r"1 delivery failure\(s\), first: .* key 'BTCUSDT': "
                                            r"Broker: Message size too large"):
        without_callback.close()


def test_offsets_are_committed_only_for_records_the_handler_finished(deployed, published, platform):
    topic = "market.equities.quotes.asx"
    total = watermark_total(platform, topic, 30)
    group = f"commit-{uuid.uuid4().hex[:8]}"
    handled: list[MarketRecord] = []
    failing: list[MarketRecord] = []

    def fail_on_the_seventh(record: MarketRecord) -> None:
        if len(handled) == 6:
            failing.append(record)
            raise RuntimeError("handler failed")
        handled.append(record)

    first = get_consumer(group, [topic], deployed.outputs, auto_offset_reset="earliest")
    def consumed_on() -> bool:  # until the handler's failure is raised
        first.process(fail_on_the_seventh, timeout=0.5)
        return False

    with pytest.raises(RuntimeError, match="handler failed"):
        wait_for(consumed_on, "the handler to fail", DEADLINE, every=0, fail=False)
    committed = {tp.partition: tp.offset for tp in first.committed([TopicPartition(topic, p) for p in range(30)])
                 if tp.offset >= 0}
    first.close()
    finished = {r.partition: r.offset + 1 for r in sorted(handled, key=lambda r: r.offset)}
    assert committed == finished  # the finished records, nothing ahead of the handler

    rest = consume(deployed.outputs, [topic], total - len(handled), group=group)
    assert len(rest) == total - len(handled)  # the failed record and everything after it, once each
    seen = {(r.partition, r.offset) for r in rest}
    assert (failing[0].partition, failing[0].offset) in seen
    assert not seen & {(r.partition, r.offset) for r in handled}


def test_a_value_that_does_not_decode_is_named_and_can_be_skipped(deployed, published, platform):
    topic = "market.crypto.reference_data.binance"  # one partition: the poison record's place is known
    raw = Producer({"bootstrap.servers": platform.bootstrap_servers})
    raw.produce(topic, b"not avro", b"BTCUSDT")
    raw.flush(10)
    with get_consumer(f"poison-{uuid.uuid4().hex[:8]}", [topic], deployed.outputs,
                      auto_offset_reset="earliest") as consumer:
        good: list[MarketRecord] = []
        def consumed_on() -> bool:  # until the poison record is raised
            consumer.process(good.append, timeout=0.5)
            return False

        with pytest.raises(ConsumeError, match=rf"{topic}\[0\]@\d+: value of 8 bytes is not in the schema-registry") \
                as caught:
            wait_for(consumed_on, "the poison record", DEADLINE, every=0, fail=False)
        assert len(good) == len(published[topic])
        consumer.skip(caught.value)
        assert consumer.run(good.append, idle_timeout=1.0) == 0  # nothing after it; it is not seen again


def test_a_regex_consumer_receives_an_exchange_added_after_it_started(deployed, published, admin):
    pattern = get_subscription_builder(deployed.outputs).subscribe_to_pattern("crypto", [DataType.TRADES])
    received: list[MarketRecord] = []
    with get_consumer(f"regex-{uuid.uuid4().hex[:8]}", pattern, deployed.outputs, auto_offset_reset="earliest",
                      config={"topic.metadata.refresh.interval.ms": 1000}) as consumer:
        wait_for(lambda: consumer.process(received.append, 0.2) >= 0 and bool(consumer.assignment()),
                 "the consumer to be assigned its partitions", DEADLINE, every=0)

        text = (ROOT / "topics.yaml").read_text()
        coinbase = ('      coinbase:\n        name: "Coinbase"\n        partitions: 6\n        country: "US"\n'
                    '        timezone: "UTC"\n')
        with_coinbase = text.replace("      binance:\n", coinbase + "      binance:\n", 1)
        assert with_coinbase != text, "topics.yaml has no binance exchange to add coinbase beside"
        deployed.stack.set_topology(with_coinbase)
        deployed.stack.up()
        assert topics_on_cluster(admin)["market.crypto.trades.coinbase"] == 6
        new_outputs = load_stack_outputs(deployed.stack.outputs())
        with get_producer(DataType.TRADES, new_outputs) as producer:
            for seq in range(1, 11):
                producer.produce("market.crypto.trades.coinbase", SAMPLES["trades"]("BTC-USD", "coinbase", seq))

        wait_for(lambda: consumer.process(received.append, 0.2) >= 0 and
                 sum(r.topic.endswith("coinbase") for r in received) >= 10, "the ten coinbase trades", DEADLINE,
                 every=0)
    coinbase_records = [r for r in received if r.topic == "market.crypto.trades.coinbase"]
    assert [r.value["sequence_number"] for r in coinbase_records] == list(range(1, 11))
    assert all(r.partition == partition_for("BTC-USD", 6) for r in coinbase_records)
    assert {r.topic for r in received} == {"market.crypto.trades.binance", "market.crypto.trades.coinbase"}


APP = '''
import datetime, sys, time, uuid
from k2infra.clients import DataType, get_consumer, get_producer

trade = {"symbol": "BHP", "exchange": "asx", "trade_id": "app-" + uuid.uuid4().hex, "price": 45.5,
         "quantity": 100.0, "currency": "AUD", "side": "BUY", "event_time": 1767225600000000,
         "ingest_time": 1767225600000250, "sequence_number": 1, "trade_conditions": []}
with get_producer(DataType.TRADES) as producer:  # $K2_STACK_OUTPUTS
    topic = producer.topic("equities", "asx")
    producer.produce(topic, trade)
received = []
def mine():
    return [r for r in received if r.value and r.value["trade_id"] == trade["trade_id"]]
with get_consumer("app-" + uuid.uuid4().hex[:8], [topic], auto_offset_reset="earliest") as consumer:
    deadline = time.monotonic() + float(sys.argv[1])
    while not mine() and time.monotonic() < deadline:
        consumer.process(received.append, timeout=0.5)
mine = mine()
# The decoded record is the trade (its timestamp-micros fields as datetimes), plus the optional fields' defaults.
epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
expected = {**trade, **{k: epoch + datetime.timedelta(microseconds=trade[k]) for k in ("event_time", "ingest_time")}}
ok = len(mine) == 1 and mine[0].key == "BHP" and expected.items() <= mine[0].value.items()
sys.exit(0 if ok else f"sent {trade}, received {[(r.key, r.value) for r in mine]}")
'''


def test_an_app_installs_the_helpers_alone_and_round_trips_an_avro_record(deployed, tmp_path):
    """What an app team does: build the wheel, install it alone in a clean environment (`pip install k2infra`),
    then produce and consume one Avro record through the helpers on the stack's cluster and registry."""
    uv = os.environ["K2_UV"]
    source = tmp_path / "source"  # a copy, so the build leaves nothing in the checkout
    source.mkdir()
    for name in ("pyproject.toml", "k2infra", "docs"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, source / name)
    subprocess.run([uv, "build", "--wheel", "--out-dir", str(tmp_path / "dist"), str(source)],
                   check=True, capture_output=True, text=True, timeout=300)
    [wheel] = (tmp_path / "dist").glob("k2infra-*.whl")
    venv = tmp_path / "app-venv"
    python = str(venv / "bin" / "python")
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    subprocess.run([uv, "venv", "--python", sys.executable, str(venv)], check=True, capture_output=True, env=clean)
    subprocess.run([uv, "pip", "install", "--python", python, str(wheel)], check=True, capture_output=True,
                   text=True, timeout=300, env=clean)

    installed = json.loads(subprocess.run([uv, "pip", "list", "--python", python, "--format", "json"], env=clean,
                                          check=True, capture_output=True, text=True).stdout)
    names = {p["name"].lower() for p in installed}
    assert {"k2infra", "confluent-kafka", "fastavro", "pydantic"} <= names
    assert not names & {"pulumi", "pulumi-kafka", "pulumi-docker", "pulumi-policy", "typer", "boto3", "pytest",
                        "ruff", "mypy", "moto", "matplotlib"}, names
    app = {**clean, ENV_VAR: str(deployed.outputs_file)}
    no_pulumi = subprocess.run([python, "-c", "import pulumi"], capture_output=True, text=True, env=app, cwd=tmp_path)
    assert no_pulumi.returncode != 0 and "No module named 'pulumi'" in no_pulumi.stderr
    k2 = subprocess.run([str(venv / "bin" / "k2"), "--help"], capture_output=True, text=True, env=app, cwd=tmp_path)
    assert k2.returncode != 0 and "k2infra[operator]" in k2.stderr  # the operator command says what it needs

    done = subprocess.run([python, "-c", APP, str(DEADLINE)], capture_output=True, text=True, env=app, cwd=tmp_path,
                          timeout=DEADLINE + 60)
    assert done.returncode == 0, done.stdout + done.stderr
