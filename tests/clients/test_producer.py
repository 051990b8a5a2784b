"""The producer without a broker: what is refused before sending, and how failures reach the caller.

The cluster address is a port nothing listens on, so librdkafka really fails each message when its
message.timeout.ms runs out: the same path a broker outage takes.
"""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError

from k2infra.clients import (
    DataType,
    DeliveryError,
    MarketDataProducer,
    RecordError,
    UnknownNameError,
    load_stack_outputs,
)
from tests.clients.samples import quote, trade

TRADES = "market.equities.trades.asx"
UNREACHABLE = {"message.timeout.ms": 300, "log_level": 0}


@pytest.fixture
def offline(outputs_json, registry, deployed):
    outputs = load_stack_outputs({**outputs_json, "bootstrap_servers": "127.0.0.1:9"})

    def make(data_type=DataType.TRADES, **options) -> MarketDataProducer:
        return MarketDataProducer(outputs, data_type, registry=registry, config=UNREACHABLE, **options)

    return make


def test_a_record_that_does_not_fit_never_reaches_librdkafka(offline):
    producer = offline()
    with pytest.raises(RecordError, match="field 'price'"):
        producer.produce(TRADES, trade(price="n/a"))
    producer.produce(TRADES, trade())
    assert producer.flush(10) == 0
    stats = producer.stats  # only the good record was queued, and it failed: no broker listens
    assert (stats.produced, stats.delivered, stats.failed, stats.pending) == (1, 0, 1, 0)


@pytest.mark.parametrize(("record", "field", "problem"), [
    (trade(exchange="binance"), "exchange", "is 'binance' but the topic is market.equities.trades.asx"),
    (trade(symbol=""), "symbol", "the partition key is empty"),
])
def test_records_that_contradict_their_topic_are_refused(offline, record, field, problem):
    producer = offline()
    with pytest.raises(RecordError) as caught:
        producer.produce(TRADES, record)
    assert (caught.value.field, problem in str(caught.value)) == (field, True)
    assert producer.stats.produced == 0


def test_a_topic_of_another_data_type_is_refused(offline):
    with pytest.raises(ValueError, match="holds quotes; this producer has the trades profile"):
        offline(DataType.TRADES).produce("market.equities.quotes.asx", quote())


def test_a_topic_the_stack_does_not_have_is_refused(offline):
    with pytest.raises(UnknownNameError, match=r"unknown topic 'market\.equities\.trades\.lse'"):
        offline().produce("market.equities.trades.lse", trade(exchange="lse"))


def test_the_producer_builds_its_data_types_topics(offline):
    assert offline(DataType.QUOTES).topic("crypto", "coinbase") == "market.crypto.quotes.coinbase"


def test_failures_reach_the_callback_and_the_counters(offline):
    failures = []
    producer = offline(on_delivery_failure=failures.append)
    for seq in range(3):
        producer.produce(TRADES, trade(seq=seq))
    assert producer.flush(10) == 0
    assert [f.error.code() for f in failures] == [KafkaError._MSG_TIMED_OUT] * 3
    assert {(f.topic, f.key) for f in failures} == {(TRADES, "BHP")}
    stats = producer.close()  # every failure went to the callback: nothing left to raise
    assert (stats.produced, stats.delivered, stats.failed, stats.pending) == (3, 0, 3, 0)


def test_without_a_callback_close_raises_the_failures(offline):
    producer = offline()
    producer.produce(TRADES, trade())
    with pytest.raises(DeliveryError, match=r"1 delivery failure\(s\), first: market.equities.trades.asx key 'BHP'"):
        producer.close(10)


def test_a_per_message_callback_sees_each_report(offline):
    reports = []
    producer = offline(delivery_reports="all")
    producer.produce(TRADES, trade(), on_delivery=lambda err, msg: reports.append((err.code(), msg.key())))
    assert producer.close(10).failed == 1
    assert reports == [(KafkaError._MSG_TIMED_OUT, b"BHP")]


def test_a_per_message_callback_needs_every_report(offline):
    with pytest.raises(ValueError, match="needs delivery_reports='all'"):
        offline().produce(TRADES, trade(), on_delivery=print)


def test_leaving_a_with_block_by_an_exception_keeps_that_exception(offline):
    with pytest.raises(KeyError, match="original"), offline() as producer:
        producer.produce(TRADES, trade())
        raise KeyError("original")
    assert producer.stats.failed == 1  # flushed on the way out, and counted


def test_an_event_left_in_librdkafkas_queue_is_not_a_pending_message(offline):
    """librdkafka's queue length also counts events not served yet (an unreachable broker's error event arrives
    at any time): with every message failed, none is pending, whatever len() says."""
    producer = offline(on_delivery_failure=lambda failure: None)
    producer.produce(TRADES, trade())
    assert producer.flush(10) == 0

    class QueuedEvent:  # the real producer, with one event in its queue
        def __init__(self, inner):
            self.inner = inner

        def __len__(self):
            return 1

        def __getattr__(self, name):
            return getattr(self.inner, name)

    producer._producer = QueuedEvent(producer._producer)
    assert producer.stats.pending == 0
    stats = producer.close(10)  # no "message(s) still undelivered"
    assert (stats.produced, stats.delivered, stats.failed, stats.pending) == (1, 0, 1, 0)
