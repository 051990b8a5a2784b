"""Replication lag from recorded samples: MirrorMaker 4.1.1's own records (captured by
tests/e2e/test_replication_ops.py) decoded, the lag computed per partition and topic, the metrics exported and
the alerts `k2 monitor` raises (the cluster side is on real regions in that e2e test)."""

from __future__ import annotations

import time

from prometheus_client.parser import text_string_to_metric_families

from k2infra.contracts.outputs import FlowInfo, StackOutputs
from k2infra.migration.failover import Record, count_rereads
from k2infra.model import load_topology
from k2infra.monitoring.exporter import metrics
from k2infra.monitoring.exposition import render
from k2infra.monitoring.replication import (
    FlowLag,
    HomeRead,
    SourceOffsets,
    flow_lag,
    lag_alerts,
    replication_thresholds,
)
from k2infra.monitoring.sample import Snapshot
from k2infra.monitoring.target import Target
from k2infra.observed.mirror import Checkpoint, checkpoint, encode_checkpoint, source_offset
from tests.conftest import ROOT

TOPIC = "market.equities.trades.asx"
# Recorded from mm2-offsets.home.internal and home.checkpoints.internal (MirrorMaker 4.1.1, exactly-once).
OFFSET_KEY = b'["MirrorSourceConnector",{"cluster":"home","partition":4,"topic":"market.equities.trades.asx"}]'
OFFSET_VALUE = b'{"offset":374}'
CHECKPOINT_KEY = b"\x00\x08asx-risk\x00\x1amarket.equities.trades.asx\x00\x00\x00\x05"
CHECKPOINT_VALUE = (b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x96\x00\x00\x00\x00\x00\x00\x00\x97\x00\x00")
FLOW = FlowInfo(source="home", target="aggregate", topics=(TOPIC,), source_bootstrap_servers="home:9092")


def test_mirrormakers_records_decode():
    assert source_offset(OFFSET_KEY, OFFSET_VALUE) == source_offset(OFFSET_KEY, b'{"offset": 374}')
    found = source_offset(OFFSET_KEY, OFFSET_VALUE)
    assert found is not None and (found.source, found.topic, found.partition, found.copied) == ("home", TOPIC, 4, 374)
    assert source_offset(OFFSET_KEY, None).copied is None  # a tombstone: the offset was reset
    for key, value in ((b"garbage", b"{}"), (b'["x",{"cluster":"home"}]', b"1"), (None, None),
                       (b'["x",{"cluster":1,"partition":0,"topic":"t"}]', b'{"offset":1}')):
        assert source_offset(key, value) is None
    assert checkpoint(CHECKPOINT_KEY, CHECKPOINT_VALUE) == Checkpoint("asx-risk", TOPIC, 5, 150, 151)
    assert encode_checkpoint(Checkpoint("asx-risk", TOPIC, 5, 150, 151)) == (CHECKPOINT_KEY, CHECKPOINT_VALUE)
    assert checkpoint(CHECKPOINT_KEY, None) is None and checkpoint(b"\x00\x50ab", CHECKPOINT_VALUE) is None
    assert checkpoint(CHECKPOINT_KEY, b"\x00\x01" + CHECKPOINT_VALUE[2:]) is None  # an unknown version


def home_read(ends, starts=None, newest=None, mirror=None) -> HomeRead:
    n = len(ends)
    return HomeRead({TOPIC: ends}, {TOPIC: starts or [0] * n}, {TOPIC: newest or [-1] * n},
                    {TOPIC: mirror or [-1] * n})


def test_records_behind_is_the_end_minus_the_next_offset_copied_and_seconds_from_the_newest_timestamps():
    offsets = SourceOffsets({}, "home", "mm2-offsets.home.internal")
    offsets.apply(OFFSET_KEY, OFFSET_VALUE)  # partition 4: 0..374 copied
    offsets.apply(OFFSET_KEY.replace(b'"partition":4', b'"partition":1'), b'{"offset":99}')
    offsets.apply(OFFSET_KEY.replace(b'"cluster":"home"', b'"cluster":"eu"'), b'{"offset":1}')  # another flow's
    read = home_read([0, 100, 50, 0, 500, 10], starts=[0, 0, 20, 0, 0, 0],
                     newest=[-1, 1000, 2000, -1, 9_500, 5000], mirror=[-1, 1000, -1, -1, 6_250, 4000])
    lag = flow_lag(FLOW, read, offsets.copied, whole=False)
    (topic,) = lag.topics
    behind = {p.partition: (p.records_behind, p.seconds_behind) for p in topic.partitions}
    assert behind[1] == (0, 0.0)          # caught up: 0 seconds, whatever the timestamps
    assert behind[4] == (125, 3.25)       # 500 - 375; 9.5 s - 6.25 s
    assert behind[2] == (None, None)      # never seen, the tail may have missed it: unknown, left out
    assert behind[5] == (None, 1.0)
    assert behind[0] == (None, 0.0)       # an empty home partition is never behind in time
    assert (topic.records_behind, topic.seconds_behind, topic.unknown) == (125, 3.25, 4)
    # Read from the offsets topic's start: a partition it never names was never copied (from its earliest).
    whole = flow_lag(FLOW, read, offsets.copied, whole=True).topics[0]
    assert {p.partition: p.records_behind for p in whole.partitions} == {0: 0, 1: 0, 2: 30, 3: 0, 4: 125, 5: 10}
    assert whole.seconds_behind == 3.25 and whole.unknown == 0  # partition 2: nothing in the mirror to compare


def outputs() -> StackOutputs:
    return StackOutputs.parse({"bootstrap_servers": "agg:9092", "schema_registry_url": "http://r", "subjects": [],
                               "topics": [{"name": TOPIC, "asset_class": "equities", "data_type": "trades",
                                           "exchange": "asx", "partitions": 6}],
                               "replication": [FLOW.model_dump()]}, "test")


def test_the_exporter_reports_each_flows_lag_per_topic_and_a_flow_it_cannot_see():
    good = flow_lag(FLOW, home_read([10, 20], newest=[5000, 7000], mirror=[4000, 7000]),
                    {(TOPIC, 0): 4, (TOPIC, 1): 19}, whole=True)
    down = FlowLag("eu->aggregate", "eu", "aggregate", error="flow eu->aggregate: cannot reach eu:9092")
    text = render(metrics(Target(outputs()), Snapshot(time.monotonic()), [], None, flows=[good, down])).decode()
    samples = {(s.name, s.labels.get("flow"), s.labels.get("topic")): s.value
               for f in text_string_to_metric_families(text) for s in f.samples if s.name.startswith("k2_replication")}
    assert samples == {
        ("k2_replication_up", "home->aggregate", None): 1, ("k2_replication_up", "eu->aggregate", None): 0,
        ("k2_replication_records_behind", "home->aggregate", TOPIC): 5,
        ("k2_replication_seconds_behind", "home->aggregate", TOPIC): 1.0,
        ("k2_replication_partitions_unknown", "home->aggregate", TOPIC): 0}
    assert 'source_region="home"' in text
    plain = render(metrics(Target(outputs()), Snapshot(time.monotonic()), [], None)).decode()
    assert "k2_replication" not in plain  # a stack without flows has none


def test_k2_monitor_raises_the_rules_alert_at_topics_yamls_thresholds():
    thresholds = replication_thresholds(load_topology(ROOT / "topics.yaml", "dev"))
    assert thresholds(TOPIC).seconds == 60 and thresholds(TOPIC).above == 100_000
    slow = flow_lag(FLOW, home_read([10], newest=[200_000], mirror=[100_000]), {(TOPIC, 0): 4}, whole=True)
    (alert,) = lag_alerts(slow, thresholds)
    assert alert.startswith(f"critical: {TOPIC} is 5 records and 100.0s behind home (over 60s or 100,000 records)")
    fine = flow_lag(FLOW, home_read([10], newest=[200_000], mirror=[199_000]), {(TOPIC, 0): 4}, whole=True)
    assert lag_alerts(fine, thresholds) == []
    down = FlowLag("home->aggregate", "home", "aggregate", error="flow home->aggregate: no mm2-offsets.home.internal")
    assert lag_alerts(down, thresholds) == ["critical: flow home->aggregate: no mm2-offsets.home.internal"]


def r(offset: int, seq: int) -> Record:
    return Record(offset, b"SYM01", f'{{"seq":{seq}}}'.encode(), 1000 + seq)


def test_failover_counts_the_rereads_by_finding_the_groups_last_record_in_the_mirror():
    # The mirror holds seq 0..9 at offsets 0..4 and 6..10 (a commit marker at 5); the group read up to seq 7 at home.
    mirror = [r(o, o if o < 5 else o - 1) for o in range(11) if o != 5]
    last = r(7, 7)
    assert count_rereads(last, mirror, translated=6) == (3, 0)   # seq 5, 6, 7 again
    assert count_rereads(last, mirror, translated=9) == (0, 0)   # exactly after it
    assert count_rereads(last, mirror, translated=10) == (0, 1)  # seq 8 would be skipped
    assert count_rereads(r(99, 99), mirror, translated=6) is None  # not found: fall back to arithmetic
    assert count_rereads(None, mirror, translated=0) == (0, 0)   # nothing read at home yet
