"""One exchange's topics: a topic per data type, named market.{asset_class}.{data_type}.{exchange}."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kafka as kafka

from k2infra.model import Topic


class ExchangeTopics(pulumi.ComponentResource):
    """Groups an exchange's topics, so a preview reads per exchange like the design's dashboards."""

    def __init__(self, asset_class: str, exchange: str, topics: Sequence[Topic], *, environment: str,
                 protect: bool = False, opts: pulumi.ResourceOptions | None = None):
        # The props make the environment visible to policy packs, which see no stack config.
        props = {"asset_class": asset_class, "exchange": exchange, "environment": environment}
        super().__init__("k2:market:ExchangeTopics", f"{asset_class}.{exchange}", props, opts)
        self.topics: dict[str, kafka.Topic] = {
            topic.name: kafka.Topic(
                topic.name,
                name=topic.name,
                partitions=topic.partitions,
                replication_factor=topic.replication_factor,
                config=dict(topic.config),
                opts=pulumi.ResourceOptions(parent=self, protect=protect),
            )
            for topic in topics
        }
        self.register_outputs({"topics": list(self.topics)})

    def outputs(self, specs: Sequence[Topic]) -> list[pulumi.Output[dict]]:
        """Plain descriptions for stack outputs, resolved from the applied resources."""
        return [
            pulumi.Output.all(self.topics[t.name].name, self.topics[t.name].partitions).apply(
                lambda values, t=t: {
                    "name": values[0],
                    "asset_class": t.asset_class,
                    "data_type": t.data_type,
                    "exchange": t.exchange,
                    "partitions": values[1],
                    "replication_factor": t.replication_factor,
                }
            )
            for t in specs
        ]
