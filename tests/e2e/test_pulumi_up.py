"""`pulumi preview` and `pulumi up` build the design's topology on a real broker and registry.

Effects are checked where they land: topics through Kafka's AdminClient, subjects through the
registry's Confluent API; never through Pulumi's own view of them.
"""

from __future__ import annotations

from k2infra.model import load_topology
from tests.conftest import FIXTURES, ROOT
from tests.e2e.conftest import DESIGN_SUBJECTS, DESIGN_TOPICS, subjects_in_registry, topic_configs, topics_on_cluster


def test_preview_then_up_creates_the_design_topology(new_stack, admin, registry):
    stack = new_stack("lifecycle", throwaway=True)
    planned = stack.preview_steps()
    creates = {step["urn"].split("::")[-1] for step in planned if step["op"] == "create"}
    assert set(DESIGN_TOPICS) | set(DESIGN_SUBJECTS) <= creates
    assert {step["op"] for step in planned} - {"read"} == {"create"}  # read: the stack's own last outputs
    assert topics_on_cluster(admin) == {}, "preview must not create anything"

    stack.up()
    assert topics_on_cluster(admin) == DESIGN_TOPICS
    expected = {t.name: t for t in load_topology(ROOT / "topics.yaml", "dev").topics}
    for name in DESIGN_TOPICS:
        assert topic_configs(admin, name) == dict(expected[name].config), name
    assert topic_configs(admin, "market.equities.reference_data.asx")["cleanup.policy"] == "compact"

    assert subjects_in_registry(registry) == DESIGN_SUBJECTS
    for subject in DESIGN_SUBJECTS:
        assert registry.get_compatibility(subject) == "BACKWARD"
        assert registry.get_versions(subject) == [1]
    latest = registry.get_latest_version("market.crypto.trades-value")
    assert '"name":"Trade"' in latest.schema.schema_str.replace(" ", "")

    outputs = stack.outputs()
    assert outputs["bootstrap_servers"] == admin_bootstrap(admin, outputs)
    assert {t["name"]: t["partitions"] for t in outputs["topics"]} == DESIGN_TOPICS
    assert sorted(s["subject"] for s in outputs["subjects"]) == DESIGN_SUBJECTS

    # Running it again changes nothing: no new topic, no new schema version, no diff.
    stack.up("--expect-no-changes")
    stack.run("refresh", "--yes")
    stack.run("preview", "--expect-no-changes")
    assert all(registry.get_versions(s) == [1] for s in DESIGN_SUBJECTS)

    # Adding an exchange is a topics.yaml edit that creates exactly its three topics.
    text = (ROOT / "topics.yaml").read_text()
    nyse = (FIXTURES / "topologies" / "nyse_and_commodities.yaml").read_text()
    block = nyse[nyse.index("      nyse:"):nyse.index("      smallx:")]
    stack.set_topology(text.replace("\n  crypto:", "\n" + block + "\n  crypto:", 1))
    before = topics_on_cluster(admin)
    stack.up()
    added = {k: v for k, v in topics_on_cluster(admin).items() if k not in before}
    assert added == {"market.equities.trades.nyse": 100, "market.equities.quotes.nyse": 100,
                     "market.equities.reference_data.nyse": 1}
    assert topic_configs(admin, "market.equities.trades.nyse")["retention.ms"] == "3600000"
    assert subjects_in_registry(registry) == DESIGN_SUBJECTS  # the new exchange shares the subjects

    # A throwaway stack's destroy removes every topic it made, and deletes its subjects softly: they leave
    # the registry's listing, while their schemas still decode old messages by id.
    trade_id = registry.get_latest_version("market.crypto.trades-value").schema_id
    stack.run("destroy", "--yes")
    assert topics_on_cluster(admin) == {}
    assert subjects_in_registry(registry) == []
    assert '"name":"Trade"' in registry.get_schema(trade_id).schema_str.replace(" ", "")


def admin_bootstrap(admin, outputs) -> str:
    # The stack reports the cluster it was given; the broker must be reachable there.
    metadata = admin.list_topics(timeout=10)
    broker = next(iter(metadata.brokers.values()))
    assert outputs["bootstrap_servers"] == f"{broker.host}:{broker.port}"
    return outputs["bootstrap_servers"]
