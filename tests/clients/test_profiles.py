"""The design's producer and consumer settings, as librdkafka accepts them, and connection settings."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, Producer

from k2infra.clients import (
    LOW_LATENCY_CONSUMER,
    QUOTES,
    REFERENCE_DATA,
    TRADES,
    Credentials,
    StackOutputsError,
    kafka_config,
    load_stack_outputs,
    producer_profile,
    registry_config,
)

NOWHERE = {"bootstrap.servers": "127.0.0.1:9", "log_level": 0}  # nothing listens: construction only


@pytest.mark.parametrize("profile", [QUOTES, TRADES, REFERENCE_DATA], ids=lambda p: p.name)
def test_librdkafka_accepts_every_producer_setting(profile):
    # librdkafka refuses an unknown or invalid property (or an idempotence conflict) at construction.
    Producer({**NOWHERE, **profile.config}).flush(0)


def test_librdkafka_accepts_every_consumer_setting():
    Consumer({**NOWHERE, **LOW_LATENCY_CONSUMER, "group.id": "unit"}).close()


def test_quotes_favour_speed():
    assert {k: QUOTES.config[k] for k in ("acks", "compression.type", "linger.ms")} == \
        {"acks": "1", "compression.type": "lz4", "linger.ms": 0}
    assert "enable.idempotence" not in QUOTES.config


def test_trades_favour_reliability_and_order():
    config = TRADES.config
    assert (config["acks"], config["enable.idempotence"], config["compression.type"]) == ("all", True, "lz4")
    assert config["max.in.flight.requests.per.connection"] <= 5  # the bound under which idempotence keeps order


@pytest.mark.parametrize("profile", [QUOTES, TRADES, REFERENCE_DATA], ids=lambda p: p.name)
def test_every_profile_places_keys_like_the_java_client(profile):
    assert profile.config["partitioner"] == "murmur2_random"


def test_the_low_latency_consumer_commits_by_hand_and_reads_committed_data():
    assert {k: LOW_LATENCY_CONSUMER[k] for k in ("fetch.min.bytes", "fetch.wait.max.ms", "enable.auto.commit",
                                                 "isolation.level")} == \
        {"fetch.min.bytes": 1, "fetch.wait.max.ms": 100, "enable.auto.commit": False,
         "isolation.level": "read_committed"}


def test_each_data_type_has_its_profile_and_new_ones_get_the_durable_one():
    assert [producer_profile(d).name for d in ("quotes", "trades", "reference_data", "orderbook")] == \
        ["quotes", "trades", "reference_data", "trades"]


def test_a_plaintext_stack_needs_no_credentials(outputs):
    assert kafka_config(outputs, Credentials()) == {"bootstrap.servers": "127.0.0.1:9092",
                                                    "security.protocol": "PLAINTEXT"}
    assert registry_config(outputs, Credentials()) == {"url": "http://127.0.0.1:8081/apis/ccompat/v7"}


def prod_outputs(outputs_json):
    outputs_json.update(security_protocol="SASL_SSL", sasl_mechanism="scram-sha512",
                        schema_registry_url="https://registry.prod/apis/ccompat/v7")
    return load_stack_outputs(outputs_json)


def test_a_sasl_stack_without_credentials_names_the_variables_to_set(outputs_json):
    with pytest.raises(StackOutputsError, match="uses SASL_SSL: set K2_KAFKA_USERNAME and K2_KAFKA_PASSWORD"):
        kafka_config(prod_outputs(outputs_json), Credentials.from_env({}))


def test_a_sasl_stack_takes_credentials_from_the_environment(outputs_json):
    env = {"K2_KAFKA_USERNAME": "app", "K2_KAFKA_PASSWORD": "s3cret", "K2_KAFKA_CA_LOCATION": "/etc/ca.pem",
           "K2_SCHEMA_REGISTRY_USERNAME": "reg", "K2_SCHEMA_REGISTRY_PASSWORD": "pw"}
    outputs = prod_outputs(outputs_json)
    config = kafka_config(outputs, Credentials.from_env(env))
    assert {k: config[k] for k in ("security.protocol", "sasl.mechanism", "sasl.username", "ssl.ca.location")} == \
        {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "app",
         "ssl.ca.location": "/etc/ca.pem"}
    assert registry_config(outputs, Credentials.from_env(env))["basic.auth.user.info"] == "reg:pw"
