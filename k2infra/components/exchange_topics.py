"""One exchange's topics: a topic per data type, named market.{asset_class}.{data_type}.{exchange}."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import pulumi
import pulumi_kafka as kafka

from k2infra.contracts.naming import EXCHANGE_TOPICS_TYPE
from k2infra.contracts.outputs import TopicInfo
from k2infra.model import Topic


class ExchangeTopics(pulumi.ComponentResource):
    """Groups an exchange's topics, so a preview reads per exchange like the design's dashboards."""

    def __init__(self, asset_class: str, exchange: str, topics: Sequence[Topic], *, environment: str,
                 adopt: Collection[str] = (), protect: bool = False, deletable: Collection[str] = (),
                 opts: pulumi.ResourceOptions | None = None):
        # The props make the environment visible to policy packs, which see no stack config.
        props = {"asset_class": asset_class, "exchange": exchange, "environment": environment}
        super().__init__(EXCHANGE_TOPICS_TYPE, f"{asset_class}.{exchange}", props, opts)
        self.specs = list(topics)
        self.topics: dict[str, kafka.Topic] = {
            topic.name: kafka.Topic(
                topic.name,
                name=topic.name,
                partitions=topic.partitions,
                replication_factor=topic.replication_factor,
                config=dict(topic.config),
                # A topic already on the cluster is imported (adopted) rather than created again. Pulumi
                # keeps it on the cluster when it deletes it (destroy, rename, program bug) unless the
                # decommission path released it.
                opts=pulumi.ResourceOptions(parent=self, protect=protect, retain_on_delete=topic.name not in deletable,
                                            import_=topic.name if topic.name in adopt else None),
            )
            for topic in topics
        }
        self.register_outputs({**props, "topics": list(self.topics)})

    def applied(self, only: Collection[str]) -> list[tuple[Topic, pulumi.Output[int]]]:
        """The topics named in `only`, each with its partition count as applied (for the stack outputs)."""
        return [(t, self.topics[t.name].partitions) for t in self.specs if t.name in only]


def topic_records(applied: Sequence[tuple[Topic, pulumi.Output[int]]]) -> pulumi.Output[list[TopicInfo]]:
    """The stack-output records of the topics, once all are applied.

    One gather over every topic rather than an Output.all per topic: the SDK tracks each Output it makes
    and re-waits on all of them, which made exports a visible share of a 10,000-topic preview.
    """
    def describe(partitions: list[int]) -> list[TopicInfo]:
        return [TopicInfo(name=t.name, asset_class=t.asset_class, data_type=t.data_type, exchange=t.exchange,
                          partitions=p, replication_factor=t.replication_factor, home_region=t.home_region,
                          mirrored=t.mirrored or None)
                for (t, _), p in zip(applied, partitions, strict=True)]

    return pulumi.Output.all(*(p for _, p in applied)).apply(describe)
