"""Partition counts against the design's "Partition Strategy".

Partitions can be added later but never removed without recreating the topic (and losing its data),
so counts are held to the guideline table's range when declared, and checked against an exchange's
stated volume (topics.yaml `symbols`, `messages_per_second`) as advice.
"""

from __future__ import annotations

from collections.abc import Iterator

from k2infra.model import ExchangeSpec
from policy.context import Deployment
from policy.design import (
    FAR_FACTOR,
    GUIDELINE_PARTITIONS,
    REFERENCE_DATA,
    TARGET_SYMBOLS_PER_PARTITION,
    partitions_for_symbols,
    volume_band,
)
from policy.resources import TopicResource, violation


def guideline_bounds(topic: TopicResource, deployment: Deployment) -> Iterator[str]:
    """Market-event topics: within the table's range. Below it only under an environment's cap
    (environments.<env>.max_partitions keeps a laptop's broker small)."""
    if topic.data_type == REFERENCE_DATA or topic.partitions is None:
        return
    low, high = GUIDELINE_PARTITIONS
    cap = deployment.topology.max_partitions(topic.environment) if deployment.topology else None
    capped = cap is not None and topic.partitions <= cap
    if topic.partitions > high or (topic.partitions < low and not capped):
        where = (f"{topic.exchange_key}.partitions (or its overrides.{topic.data_type}.partitions)"
                 if topic.exchange else "the topic's partitions")
        yield violation(topic.name, f"{topic.partitions} partitions is outside the design's guideline range "
                        f"{low}-{high}", f"set {where} in topics.yaml to a count from {low} to {high}, "
                        "sized by the design's table for the exchange's symbols and message rate")


def reference_data_single(topic: TopicResource, deployment: Deployment) -> Iterator[str]:
    """One partition keeps every instrument's updates in one ordered, compacted log; more only on
    purpose, which is an exchange override in topics.yaml that states exactly this count."""
    if topic.data_type != REFERENCE_DATA or topic.partitions in (None, 1):
        return
    topology = deployment.topology
    override = (topology.partitions_override(topic.asset_class, topic.exchange, REFERENCE_DATA)
                if topology else None)
    if override != topic.partitions:
        yield violation(topic.name, f"reference data has {topic.partitions} partitions, not 1, and "
                        "topics.yaml states no such override for this exchange",
                        f"set data_types.{REFERENCE_DATA}.partitions: 1 in topics.yaml; if more are meant, "
                        f"say so for this exchange: {topic.exchange_key}.overrides.{REFERENCE_DATA}."
                        f"partitions: {topic.partitions}")


def symbols_per_partition(topic: TopicResource, deployment: Deployment) -> Iterator[str]:
    exchange = _volume(topic, deployment)
    if exchange is None or not exchange.symbols or not topic.partitions:
        return
    per_partition = exchange.symbols / topic.partitions
    if per_partition > TARGET_SYMBOLS_PER_PARTITION:
        needed = partitions_for_symbols(exchange.symbols)
        yield violation(topic.name, f"{exchange.symbols} symbols over {topic.partitions} partitions is "
                        f"{per_partition:.0f} per partition, above the design's target of "
                        f"{TARGET_SYMBOLS_PER_PARTITION}",
                        f"raise {topic.exchange_key}.partitions to {needed} or more in topics.yaml "
                        "(partitions can be added, never removed)")


def partitions_for_rate(topic: TopicResource, deployment: Deployment) -> Iterator[str]:
    exchange = _volume(topic, deployment)
    if exchange is None or not exchange.messages_per_second or not topic.partitions:
        return
    band = volume_band(exchange.messages_per_second)
    low, high = band.partitions
    problem = (f"{topic.partitions} partitions is far from the design's table, which recommends "
               f"{low}-{high} for {band.name} volume ({band.rates} messages/s; topics.yaml states "
               f"{exchange.messages_per_second})")
    if topic.partitions < low / FAR_FACTOR:
        yield violation(topic.name, problem, f"raise {topic.exchange_key}.partitions to {low}-{high} in "
                        "topics.yaml, or correct its messages_per_second")
    elif topic.partitions > high * FAR_FACTOR:
        # Lowering means recreating the topic and losing its data: advise it only before the first deploy.
        yield violation(topic.name, problem, f"correct {topic.exchange_key}.messages_per_second if it is "
                        "understated; if not, and the topic is not deployed yet, set its partitions to "
                        f"{low}-{high}")


def _volume(topic: TopicResource, deployment: Deployment) -> ExchangeSpec | None:
    if topic.data_type == REFERENCE_DATA or deployment.topology is None:
        return None
    return deployment.topology.exchange(topic.asset_class, topic.exchange)
