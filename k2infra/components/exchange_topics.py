"""One exchange's topics: a topic per data type, named market.{asset_class}.{data_type}.{exchange}."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

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

    def outputs(self, only: Collection[str]) -> list[pulumi.Output[TopicInfo]]:
        """The stack-output records of the topics named in `only`, resolved from the applied resources."""
        return [self._output(t) for t in self.specs if t.name in only]

    def _output(self, spec: Topic) -> pulumi.Output[TopicInfo]:
        resource = self.topics[spec.name]

        def describe(values: list[Any]) -> TopicInfo:
            return TopicInfo(name=values[0], asset_class=spec.asset_class, data_type=spec.data_type,
                             exchange=spec.exchange, partitions=values[1],
                             replication_factor=spec.replication_factor)

        return pulumi.Output.all(resource.name, resource.partitions).apply(describe)
