"""What k2infra.observed.cluster reads from a real broker that the unit tests cannot fake: whether it runs an
authorizer."""

from __future__ import annotations

from k2infra.contracts.kafka_client import librdkafka_settings
from k2infra.observed.cluster import observe_acls


def test_a_broker_without_an_authorizer_has_no_acls_to_list(platform):
    # Kafka lists no ACLs without error there, yet refuses to create any: None says "cannot enforce".
    assert observe_acls(librdkafka_settings(platform.bootstrap_servers)) is None


def test_topics_are_observed_with_their_own_configs_across_request_chunks(platform, admin, registry, monkeypatch):
    """observe_topics asks for configs CONFIGS_PER_REQUEST topics at a time (one request for 10,005 topics ran a
    512 MB broker out of memory); every topic still comes back once, with the configs set on it. Chunks of 20
    here, so that a few dozen topics cross two chunk boundaries."""
    from confluent_kafka.admin import NewTopic

    from k2infra.observed import cluster as observe
    from tests.conftest import wait_for
    from tests.e2e.conftest import empty_platform, topics_on_cluster

    monkeypatch.setattr(observe, "CONFIGS_PER_REQUEST", 20)
    count = 2 * 20 + 7
    wanted = {f"market.equities.trades.ob{i:04d}": str(3_600_000 + i) for i in range(count)}
    try:
        new = [NewTopic(name, 1, 1, config={"retention.ms": ms}) for name, ms in wanted.items()]
        for future in admin.create_topics(new, operation_timeout=120).values():
            future.result(timeout=180)
        wait_for(lambda: len(topics_on_cluster(admin, "market.equities.trades.ob")) >= count,  # created asynchronously
                 "the topics to exist", timeout=300, every=0.2)

        observed = observe.observe_topics(librdkafka_settings(platform.bootstrap_servers), timeout=60)
        assert {name: observed[name].config.get("retention.ms") for name in wanted} == wanted
        assert all(observed[name].partitions == 1 for name in wanted)
    finally:
        empty_platform(admin, registry, platform.schema_registry_url)



def test_a_single_broker_has_no_failover_to_advise_on(platform):
    """One broker has no replica to fail over to: its failure-detection settings are not read, and `k2 plan` gives
    no failover advice (the three-node test reads them: tests/e2e/test_three_nodes.py)."""
    from k2infra.observed.cluster import observe_cluster

    conf = librdkafka_settings(platform.bootstrap_servers)
    observed = observe_cluster(conf, timeout=60, brokers=True)
    assert observed.failure_detection == {}
    plain = observe_cluster(conf, timeout=60)  # the rest of the observation is as without brokers=True
    assert (observed.topics, observed.names) == (plain.topics, plain.names)
