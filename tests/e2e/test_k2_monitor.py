"""`k2 monitor` on a live cluster: rates, consumer lag and a hot partition, per exchange."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

from confluent_kafka import Producer

from tests.e2e.conftest import consume_and_commit


def produce(bootstrap: str, topic: str, count: int, key=lambda i: f"S{i % 50}") -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i in range(count):
        producer.produce(topic, key=key(i), value=b"x")
    assert producer.flush(30) == 0


def test_monitor_reports_rates_lag_and_a_hot_partition(new_stack, platform):
    stack = new_stack("monitor")
    stack.up()
    servers = platform.bootstrap_servers
    quotes, trades = "market.crypto.quotes.binance", "market.equities.trades.asx"
    produce(servers, quotes, 2000)
    consume_and_commit(servers, quotes, "iceberg-writer", 2000, timeout=60)
    produce(servers, quotes, 6000)  # the group is now 6000 behind

    stop, flowing = threading.Event(), threading.Event()

    def hot_symbol_feed() -> None:  # ASX trades, all for one symbol, for as long as the monitor samples
        producer = Producer({"bootstrap.servers": servers})
        while not stop.is_set():
            for _ in range(50):
                producer.produce(trades, key="BHP", value=b"x")
            producer.flush(30)
            flowing.set()
            stop.wait(0.02)  # pacing only: the feed runs until the monitor is done, however slow the machine
        producer.flush(30)

    feed = threading.Thread(target=hot_symbol_feed)
    feed.start()
    try:
        assert flowing.wait(60), "the hot-symbol feed never delivered"
        command = ["monitor", "--config", str(stack.project / "topics.yaml"), "--bootstrap-servers", servers,
                   "--group", "iceberg-writer", "--interval", "2", "--json"]
        done = subprocess.run([sys.executable, "-m", "k2infra.cli", *command], capture_output=True, text=True,
                              timeout=120)
    finally:
        stop.set()
        feed.join()
    assert done.returncode == 2, done.stderr  # degraded somewhere
    report = {e["exchange"]: e for e in json.loads(done.stdout)}
    topics = {t["topic"]: t for e in report.values() for t in e["topics"]}
    assert topics[quotes]["lag"] == {"iceberg-writer": 6000}
    assert any("6000 messages behind" in a for a in topics[quotes]["alerts"])
    assert topics[trades]["messages_per_second"] > 100
    assert any(a.startswith("critical: partition") for a in topics[trades]["alerts"])
    assert report["asx"]["status"] == "Degraded" and report["binance"]["status"] == "Degraded"
    assert topics["market.equities.quotes.asx"]["status"] == "Healthy"
