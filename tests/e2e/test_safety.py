"""No edit, destroy or vanished topic loses a message or a schema: each hole of the safety promise, closed
and checked where the data lands (Kafka's AdminClient, the registry's API, a consumer decoding by id)."""

from __future__ import annotations

import json
import time
import uuid

from confluent_kafka import Producer

from k2infra.clients import DataType, MarketDataConsumer, get_producer, load_stack_outputs
from k2infra.observed.stack_record import parse_export
from tests.clients.samples import trade
from tests.conftest import ROOT, wait_for, without_apps
from tests.e2e.conftest import subjects_in_registry, topic_configs, topics_on_cluster

SHIPPED = without_apps((ROOT / "topics.yaml").read_text())  # the tests remove exchanges the apps use
CRYPTO_SUBJECTS = ["market.crypto.quotes-value", "market.crypto.reference_data-value", "market.crypto.trades-value"]
TRADE = trade("BTCUSDT", "binance", 1)


def without_crypto() -> str:
    return SHIPPED[:SHIPPED.index("  crypto:")] + SHIPPED[SHIPPED.index("data_types:"):]


def versions(registry, subjects) -> dict[str, list[tuple[int, int]]]:
    """subject -> [(version, schema id)], as the registry holds them."""
    return {s: [(v, registry.get_version(s, v).schema_id) for v in registry.get_versions(s)] for s in subjects}


def failed(result) -> str:
    assert result.returncode != 0, result.stdout
    return result.stdout + result.stderr


def test_removing_an_asset_class_keeps_its_topics_and_subjects_and_messages_still_decode(new_stack, admin,
                                                                                        registry, tmp_path):
    stack = new_stack("remove-crypto")
    stack.up()
    outputs = load_stack_outputs(stack.outputs())
    with get_producer(DataType.TRADES, outputs) as producer:
        producer.produce(producer.topic("crypto", "binance"), TRADE)
    before = versions(registry, CRYPTO_SUBJECTS)

    stack.set_topology(without_crypto())
    steps = stack.preview_steps()
    assert [s for s in steps if s["op"] in ("delete", "replace")] == []
    up = stack.up()
    assert "market.crypto.trades-value is no longer in topics.yaml; the subject is kept" in up.stdout
    assert subjects_in_registry(registry) == sorted([*CRYPTO_SUBJECTS, "market.equities.quotes-value",
                                                     "market.equities.reference_data-value",
                                                     "market.equities.trades-value"])
    assert versions(registry, CRYPTO_SUBJECTS) == before  # same versions, same ids
    after = stack.outputs()
    assert after["retained_subjects"] == CRYPTO_SUBJECTS
    assert {s["subject"] for s in after["subjects"]}.isdisjoint(CRYPTO_SUBJECTS)  # apps no longer see them

    # The message kept on the retained topic still decodes through the registry, by the id it carries.
    received = []
    with MarketDataConsumer(outputs, f"audit-{uuid.uuid4().hex[:6]}", ["market.crypto.trades.binance"],
                            auto_offset_reset="earliest") as consumer:
        wait_for(lambda: consumer.process(received.append, 0.5) >= 0 and bool(received), "the kept message", 60,
                 every=0, fail=False)
    assert [r.value["trade_id"] for r in received] == [TRADE["trade_id"]]
    stack.up("--expect-no-changes")


def produce_at(bootstrap: str, topic: str, count: int, age_ms: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    stamp = int(time.time() * 1000) - age_ms
    for i in range(count):
        producer.produce(topic, key=f"S{i % 9}", value=b"x" * 100, timestamp=stamp)
    assert producer.flush(30) == 0


def test_a_retention_cut_is_refused_with_what_it_would_delete_until_acknowledged(new_stack, platform, admin):
    stack = new_stack("retention-cut")
    stack.up()
    topic = "market.equities.trades.asx"
    produce_at(platform.bootstrap_servers, topic, 300, age_ms=3 * 3_600_000)  # three hours old
    produce_at(platform.bootstrap_servers, topic, 200, age_ms=0)
    cut = SHIPPED.replace('retention.ms: "604800000"   # 7 days\n      cleanup.policy: "delete"\n\n  quotes:',
                          'retention.ms: 1h\n      cleanup.policy: "delete"\n\n  quotes:')
    assert cut != SHIPPED
    stack.set_topology(cut)

    output = failed(stack.run("preview", check=False))
    assert "Refused, nothing was changed" in output
    assert (f"{topic}: retention.ms 604800000 -> 3600000 deletes every message older than the new limit: "
            "300 of its 500 messages (about 29.9 KB) are older than the new limit and would be deleted") in output
    line = next(i for i, text in enumerate(cut.splitlines(), 1) if "retention.ms: 1h" in text)
    assert f"topics.yaml:{line}: data_types.trades.config.retention.ms" in output
    failed(stack.up(check=False))
    assert topic_configs(admin, topic)["retention.ms"] == "604800000"  # nothing applied

    stack.set_topology(cut + "\nacknowledged_data_loss:\n  - topics: [market.*.trades.*]\n    change: retention.ms\n"
                             "    to: 1h\n    reason: \"K2-142: trades are archived within minutes\"\n")
    up = stack.up()
    assert "acknowledged data loss: market.equities.trades.asx: retention.ms 604800000 -> 3600000" in up.stdout
    assert "K2-142: trades are archived within minutes" in up.stdout
    assert topic_configs(admin, topic)["retention.ms"] == "3600000"
    assert topic_configs(admin, "market.equities.quotes.asx")["retention.ms"] == "604800000"


def test_a_cleanup_policy_change_is_refused(new_stack, admin):
    stack = new_stack("cleanup")
    stack.up()
    stack.set_topology(SHIPPED.replace('cleanup.policy: "compact"', 'cleanup.policy: "delete"'))
    output = failed(stack.run("preview", check=False))
    assert "market.equities.reference_data.asx: cleanup.policy compact -> delete" in output
    assert topic_configs(admin, "market.equities.reference_data.asx")["cleanup.policy"] == "compact"


def test_destroying_a_kept_stack_forgets_its_topics_and_subjects_but_deletes_none(new_stack, admin, registry):
    stack = new_stack("kept")
    stack.up()
    subjects = subjects_in_registry(registry)
    assert len(subjects) == 6
    stack.run("destroy", "--yes")
    assert len(topics_on_cluster(admin)) == 6
    assert subjects_in_registry(registry) == subjects
    assert parse_export(json.loads(stack.run("stack", "export").stdout)).empty
    # Brought back under management, they are adopted as they are: nothing created twice.
    up = stack.up()
    assert "already exists on the cluster: this stack adopts it" in up.stdout
    stack.up("--expect-no-changes")


def test_a_topic_deleted_outside_k2_is_reported_and_stays_in_the_stack(new_stack, admin):
    stack = new_stack("vanished")
    stack.up()
    topic = "market.equities.quotes.asx"
    admin.delete_topics([topic])[topic].result(timeout=60)
    wait_for(lambda: topic not in topics_on_cluster(admin), f"Kafka to delete {topic}", 60, every=0.2)
    preview = stack.run("preview")
    assert f"{topic} is managed by this stack but missing from the cluster" in preview.stdout
    assert topic in parse_export(json.loads(stack.run("stack", "export").stdout)).topics
    # What the message says to do brings it back.
    stack.run("refresh", "--yes")
    stack.up()
    assert topics_on_cluster(admin)[topic] == 30


def test_ownership_comes_from_the_state_not_the_outputs(new_stack, admin):
    stack = new_stack("ownership")
    stack.up()
    # An update whose exports fail still leaves the state the record of what the stack manages.
    state = json.loads(stack.run("stack", "export").stdout)
    for resource in state["deployment"]["resources"]:
        if resource["type"] == "pulumi:pulumi:Stack":
            resource["outputs"] = {}
    (stack.project / "state.json").write_text(json.dumps(state))
    stack.run("stack", "import", "--file", "state.json")
    stack.set_topology(SHIPPED[:SHIPPED.index("  equities:")] + SHIPPED[SHIPPED.index("  crypto:"):])
    up = stack.up()
    assert "market.equities.trades.asx is no longer in topics.yaml; it is kept" in up.stdout
    assert len(topics_on_cluster(admin)) == 6
