"""What Kafka accepts and reserves as names, defined once for `k2 validate`, the plan and the policy pack."""

from __future__ import annotations

import pytest

from k2infra.contracts.kafka_names import (
    client_id_problem,
    collisions,
    is_internal_topic,
    metric_name,
    principal_problem,
    topic_name_problem,
)


@pytest.mark.parametrize(("name", "problem"), [
    ("", "empty, '.' or '..'"), (".", "empty, '.' or '..'"), ("..", "empty, '.' or '..'"),
    ("x" * 250, "250 characters long: Kafka allows at most 249"),
    ("market trades", "only letters, digits"), ("market.trades\n", "only letters, digits"),
    ("märket", "only letters, digits"), ("a/b", "only letters, digits"),
])
def test_topic_names_kafka_refuses(name, problem):
    wrong = topic_name_problem(name)
    assert wrong is not None and problem in wrong


def test_topic_names_kafka_accepts():
    assert topic_name_problem("x" * 249) is None and topic_name_problem("market.trades.raw") is None
    assert topic_name_problem("A-b_c.9") is None


@pytest.mark.parametrize("name", ["__consumer_offsets", "__transaction_state", "__share_group_state",
                                  "__cluster_metadata", "_schemas", "_confluent-command", "connect-configs",
                                  "connect-offsets", "connect-status", "docker-connect-offsets",
                                  "mm2-offset-syncs.eu.internal", "mm2-configs.eu.internal", "eu.checkpoints.internal",
                                  "heartbeats", "eu.heartbeats", "app-store-changelog", "app-x-repartition",
                                  ".hidden", "market.crypto.trades.internal"])
def test_internal_topics(name):
    assert is_internal_topic(name)


@pytest.mark.parametrize("name", ["market.crypto.trades.binance", "market.trades.raw", "orders.v1",
                                  "connect-configs-archive"])
def test_other_topics_are_not_internal(name):
    assert not is_internal_topic(name)


def test_dots_and_underscores_are_one_in_metric_names():
    assert metric_name("market.equities.trades.lse_x") == metric_name("market.equities.trades_lse.x")
    assert collisions(["market.a.b_c", "market.a_b.c", "market.a.b.d"]) == {"market.a_b.c": "market.a.b_c"}
    assert collisions(["market.a.b.c"], ["market_a_b_c", "x"]) == {"market.a.b.c": "market_a_b_c"}
    assert collisions(["market.a.b.c"], ["market.a.b.c"]) == {}  # the same topic is no collision


@pytest.mark.parametrize(("principal", "problem"), [
    ("User:ANONYMOUS", "every unauthenticated client"), ("User:*", "wildcard principal"),
    ("*", "not a principal Type:name"), ("User:", "not a principal Type:name"), ("", "not a principal Type:name"),
    ("app", "not a principal Type:name"), ("Group:traders", "principal type 'Group'"),
    ("user:app", "principal type 'user'"), ("User:app\n", "has characters"), ("User:a b", "has characters"),
    ("User:a\tb", "has characters"), ("User:a\x00", "has characters"), (" User:app", "principal type ' User'"),
])
def test_principals_that_may_not_be_an_apps(principal, problem):
    wrong = principal_problem(principal)
    assert wrong is not None and problem in wrong


def test_principals_an_app_may_have():
    for principal in ("User:asx-feed", "User:CN=feed.k2.internal,OU=market", "User:svc@K2.EXAMPLE"):
        assert principal_problem(principal) is None


@pytest.mark.parametrize(("value", "problem"), [("*", "ACL wildcard"), ("", "must be letters"),
                                                ("app*", "must be letters"), ("app\n", "must be letters"),
                                                ("a b", "must be letters"), ("x" * 250, "at most 249")])
def test_group_and_transactional_ids_granted_literally(value, problem):
    wrong = client_id_problem(value)
    assert wrong is not None and problem in wrong
    assert client_id_problem("k2-migrate.dev") is None
