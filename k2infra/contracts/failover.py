"""How fast a cluster notices a dead broker: the settings that bound the trades producer's stall at a failover.

An acks=all producer (the trades profile) gets no acknowledgement from a partition whose leader died until the
KRaft controller fences that broker and elects new leaders. The controller fences a broker that has not
heartbeated for `broker.session.timeout.ms` (Kafka's default 9 s, so stalls of 9 to 12 s); if the dead node was
also the active controller, the other voters first wait `controller.quorum.fetch.timeout.ms` (2 s) before they
elect a new one. The goal (issue 21) is a stall under 3 s.

K2 sets these on the multi-node clusters it runs (`k2 local up --nodes 3`). A single node (the dev platform, docker
mode) has no replica to fail over to, so Kafka's defaults stay: a short session there could only fence the one
broker while it is busy (a burst of topic creations delays its heartbeats). In prod K2 does not own the brokers:
`recommendations` says what to set and `stall_bound_ms` what a cluster's values allow, which `k2 plan` reports.
"""

from __future__ import annotations

from collections.abc import Mapping

STALL_GOAL_MS = 3000

# A broker heartbeats every 500 ms and is fenced after 2 s without one: four missed heartbeats, so a broker
# starved for a moment on a busy machine is not fenced, while a dead one is gone from every ISR within 2 s.
BROKER_SETTINGS: dict[str, int] = {
    "broker.heartbeat.interval.ms": 500,
    "broker.session.timeout.ms": 2000,
    # The voters elect a new controller 1 s after the active one stops answering (2 s by default).
    "controller.quorum.fetch.timeout.ms": 1000,
    # A follower that is alive but stopped fetching leaves the ISR after 10 s instead of 30 s, so acks=all
    # writes are not held by it for long; dead brokers leave it at once when fenced.
    "replica.lag.time.max.ms": 10000,
}

KAFKA_DEFAULTS: dict[str, int] = {
    "broker.heartbeat.interval.ms": 2000,
    "broker.session.timeout.ms": 9000,
    "controller.quorum.fetch.timeout.ms": 2000,
    "replica.lag.time.max.ms": 30000,
}

# Electing new leaders and the producer's metadata refresh after the fencing: measured well under 1 s here.
_AFTER_FENCING_MS = 500


def stall_bound_ms(settings: Mapping[str, str | int | None]) -> int:
    """The longest stall a cluster's settings allow when a broker (not the controller) dies: the controller fences
    it at most a session timeout after the kill (its last heartbeat came before it), then elects new leaders."""
    return _value(settings, "broker.session.timeout.ms") + _AFTER_FENCING_MS


def recommendations(settings: Mapping[str, str | int | None]) -> dict[str, tuple[int, int]]:
    """key -> (the cluster's value, K2's) for each failure-detection setting slower than K2's; a key the cluster
    does not report counts at Kafka's default."""
    return {key: (have, wanted) for key, wanted in BROKER_SETTINGS.items()
            if (have := _value(settings, key)) > wanted}


def _value(settings: Mapping[str, str | int | None], key: str) -> int:
    raw = settings.get(key)
    return int(raw) if raw not in (None, "") else KAFKA_DEFAULTS[key]


def slow_failover_warning(settings: Mapping[str, int]) -> str | None:
    """What `k2 plan` says of a cluster whose settings let a dead broker stall acks=all producers past the goal;
    None when they do not, or when the brokers reported nothing."""
    if "broker.session.timeout.ms" not in settings:
        return None
    bound = stall_bound_ms(settings)
    if bound <= STALL_GOAL_MS:
        return None
    advice = ", ".join(f"{key}={wanted} (now {have})" for key, (have, wanted) in recommendations(settings).items())
    return (f"failover: when a broker dies, acks=all producers (trades) stall up to {bound / 1000:.1f} s until it "
            f"is fenced (goal: under {STALL_GOAL_MS / 1000:.0f} s); set on the brokers and controllers: {advice} "
            "(docs/failover.md)")
