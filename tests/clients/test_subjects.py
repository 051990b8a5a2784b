"""The shared subject strategy: a topic's records use its asset class's subject, not one per topic."""

from __future__ import annotations

import pytest
from confluent_kafka.schema_registry import SchemaRegistryError
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from k2infra.clients import RecordEncoder, SchemaCatalog, SharedSubjectStrategy, UnknownNameError
from tests.clients.samples import trade


def test_every_topic_maps_to_the_subject_the_stack_lists_it_under(outputs, outputs_json):
    strategy = SharedSubjectStrategy(outputs)
    pairs = [(topic, s["subject"]) for s in outputs_json["subjects"] for topic in s["topics"]]
    assert len(pairs) == len(outputs_json["topics"])
    for topic, subject in pairs:
        assert strategy.subject_for_topic(topic) == subject


def test_a_topic_of_an_exchange_added_later_shares_its_asset_classes_subject(outputs):
    strategy = SharedSubjectStrategy(outputs)
    assert strategy.subject_for_topic("market.crypto.trades.kraken") == "market.crypto.trades-value"


def test_topics_without_a_subject_are_refused(outputs):
    strategy = SharedSubjectStrategy(outputs)
    with pytest.raises(UnknownNameError, match=r"unknown subject for 'fx trades' \(topic market\.fx\.trades\.ebs\); "
                                               r"known: market\.crypto\.quotes-value"):
        strategy.subject_for_topic("market.fx.trades.ebs")
    with pytest.raises(UnknownNameError, match=r"unknown topic 'market\.trades'"):
        strategy.subject_for_topic("market.trades")


def test_it_is_a_confluent_subject_name_strategy_for_values_only(outputs):
    strategy = SharedSubjectStrategy(outputs)
    value = SerializationContext("market.equities.quotes.nyse", MessageField.VALUE)
    assert strategy(value, "k2.marketdata.Quote") == "market.equities.quotes-value"
    with pytest.raises(ValueError, match="keys are the plain UTF-8 symbol"):
        strategy(SerializationContext("market.equities.quotes.nyse", MessageField.KEY), None)


def test_confluents_serializer_with_the_strategy_writes_the_same_bytes_as_the_helpers(deployed, registry):
    topic = "market.equities.trades.asx"
    context = SerializationContext(topic, MessageField.VALUE)
    shared = AvroSerializer(registry, conf={"auto.register.schemas": False, "use.latest.version": True,
                                            "subject.name.strategy": SharedSubjectStrategy(deployed)})
    helpers = RecordEncoder(SchemaCatalog(registry, deployed).for_topic(topic))
    record = trade("BHP", "asx", seq=7)
    assert shared(record, context) == helpers.encode(record)


def test_confluents_default_strategy_finds_no_subject_for_a_k2_topic(deployed, registry):
    default = AvroSerializer(registry, conf={"auto.register.schemas": False, "use.latest.version": True})
    with pytest.raises(SchemaRegistryError) as caught:
        default(trade(), SerializationContext("market.equities.trades.asx", MessageField.VALUE))
    assert caught.value.http_status_code == 404  # it looked for market.equities.trades.asx-value
