"""The design's shared subjects: topic market.{ac}.{dt}.{exchange} -> subject market.{ac}.{dt}-value.

Confluent's default strategy would look for a subject per topic (market.equities.trades.asx-value),
which the registry does not have: every exchange of an asset class shares one subject.
"""

from __future__ import annotations

from typing import Any

from k2infra.clients.errors import UnknownNameError
from k2infra.contracts.naming import parse_topic_name
from k2infra.contracts.outputs import StackOutputs, SubjectInfo


class SharedSubjectStrategy:
    """A confluent-kafka `subject.name.strategy` (ctx, record_name) -> subject, usable on its own too.

    Topics of exchanges added after the outputs were read still resolve: the subject depends only
    on the asset class and data type, which is what lets a regex consumer decode a new exchange.
    """

    def __init__(self, outputs: StackOutputs):
        self._subjects = {(s.asset_class, s.data_type): s for s in outputs.subjects}
        self._topics = [t.name for t in outputs.topics]

    def subject_info(self, topic: str) -> SubjectInfo:
        try:
            ref = parse_topic_name(topic)
        except ValueError:
            raise UnknownNameError("topic", topic, self._topics, where="(not market.{asset_class}.{data_type}."
                                   "{exchange})") from None
        found = self._subjects.get((ref.asset_class, ref.data_type))
        if found is None:
            raise UnknownNameError("subject for", f"{ref.asset_class} {ref.data_type}",
                                   [s.subject for s in self._subjects.values()], where=f"(topic {topic})")
        return found

    def subject_for_topic(self, topic: str) -> str:
        return self.subject_info(topic).subject

    def __call__(self, ctx: Any, record_name: str | None = None) -> str:
        if ctx is None or not getattr(ctx, "topic", None):
            raise ValueError("the shared-subject strategy needs the topic (a SerializationContext)")
        if str(getattr(ctx, "field", "value")) == "key":
            raise ValueError("K2 keys are the plain UTF-8 symbol, not Avro: serialize keys with StringSerializer")
        return self.subject_for_topic(ctx.topic)
