"""The failure-detection contract: the stall a cluster's settings allow, and what `k2 plan` advises."""

from __future__ import annotations

from k2infra.contracts.containers import kafka_env
from k2infra.contracts.failover import (
    BROKER_SETTINGS,
    KAFKA_DEFAULTS,
    STALL_GOAL_MS,
    recommendations,
    slow_failover_warning,
    stall_bound_ms,
)


def test_k2s_settings_meet_the_goal_and_kafkas_defaults_do_not():
    assert stall_bound_ms(BROKER_SETTINGS) < STALL_GOAL_MS < stall_bound_ms(KAFKA_DEFAULTS)
    assert stall_bound_ms({}) == stall_bound_ms(KAFKA_DEFAULTS)  # what a cluster does not say is Kafka's default
    # A broker is fenced only after several missed heartbeats: a busy moment is not a death.
    assert BROKER_SETTINGS["broker.session.timeout.ms"] >= 4 * BROKER_SETTINGS["broker.heartbeat.interval.ms"]


def test_recommendations_name_only_the_settings_slower_than_k2s():
    assert recommendations(BROKER_SETTINGS) == {}
    assert recommendations({**BROKER_SETTINGS, "broker.session.timeout.ms": "9000"}) == {
        "broker.session.timeout.ms": (9000, 2000)}
    assert set(recommendations({})) == set(BROKER_SETTINGS)


def test_the_warning_names_the_stall_and_each_setting_to_change():
    warning = slow_failover_warning(KAFKA_DEFAULTS)
    assert warning is not None
    assert "stall up to 9.5 s" in warning and "goal: under 3 s" in warning
    assert "broker.session.timeout.ms=2000 (now 9000)" in warning
    assert "broker.heartbeat.interval.ms=500 (now 2000)" in warning
    assert "docs/failover.md" in warning
    assert slow_failover_warning(BROKER_SETTINGS) is None
    assert slow_failover_warning({}) is None  # nothing reported: no advice from guesses


def test_single_brokers_keep_kafkas_defaults():
    """Docker mode's one broker has no replica to fail over to: a short session would only risk fencing it."""
    env = kafka_env(9092)
    assert not [line for line in env if line.split("=")[0] in
                {f"KAFKA_{key.upper().replace('.', '_')}" for key in BROKER_SETTINGS}]
