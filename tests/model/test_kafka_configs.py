"""The topic-config table against Kafka 4.1.1's own definitions (LogConfig.configKeys(): each key's type and
validator, as the broker's jar prints them), and the values at each edge of a range."""

from __future__ import annotations

import pytest

from k2infra.model.kafka_configs import (
    INT_MAX,
    LONG_MAX,
    TOPIC_CONFIGS,
    ConfigValueError,
    Whole,
    conflicts,
    normalise_config,
)

# Kafka 4.1.1: LogConfig.nonInternalConfigNames().
KAFKA_TOPIC_CONFIGS = {
    "cleanup.policy", "compression.gzip.level", "compression.lz4.level", "compression.type",
    "compression.zstd.level", "delete.retention.ms", "file.delete.delay.ms", "flush.messages", "flush.ms",
    "follower.replication.throttled.replicas", "index.interval.bytes", "leader.replication.throttled.replicas",
    "local.retention.bytes", "local.retention.ms", "max.compaction.lag.ms", "max.message.bytes",
    "message.timestamp.after.max.ms", "message.timestamp.before.max.ms", "message.timestamp.type",
    "min.cleanable.dirty.ratio", "min.compaction.lag.ms", "min.insync.replicas", "preallocate",
    "remote.log.copy.disable", "remote.log.delete.on.disable", "remote.storage.enable", "retention.bytes",
    "retention.ms", "segment.bytes", "segment.index.bytes", "segment.jitter.ms", "segment.ms",
    "unclean.leader.election.enable",
}

# key: (type, smallest, largest) as Kafka 4.1.1 prints them, e.g. "segment.bytes | INT | [1048576,...]".
KAFKA_RANGES = {
    "segment.bytes": ("INT", 1_048_576, INT_MAX),
    "segment.index.bytes": ("INT", 4, INT_MAX),
    "max.message.bytes": ("INT", 0, INT_MAX),
    "min.insync.replicas": ("INT", 1, INT_MAX),
    "compression.lz4.level": ("INT", 1, 17),
    "compression.zstd.level": ("INT", -131072, 22),
    "retention.ms": ("LONG", -1, LONG_MAX),
    "segment.ms": ("LONG", 1, LONG_MAX),
    "delete.retention.ms": ("LONG", 0, LONG_MAX),
    "max.compaction.lag.ms": ("LONG", 1, LONG_MAX),
    "local.retention.ms": ("LONG", -2, LONG_MAX),
    "flush.messages": ("LONG", 1, LONG_MAX),
}


def test_the_table_has_every_key_of_kafka_and_no_other():
    assert set(TOPIC_CONFIGS) == KAFKA_TOPIC_CONFIGS


@pytest.mark.parametrize(("key", "kafka"), KAFKA_RANGES.items())
def test_whole_number_keys_have_kafkas_type_and_range(key, kafka):
    check = TOPIC_CONFIGS[key]
    assert isinstance(check, Whole)
    assert (check.kafka_type, check.minimum, check.largest) == kafka
    kind, smallest, largest = kafka
    assert normalise_config(key, smallest) == str(smallest)
    assert normalise_config(key, str(largest)) == str(largest)
    for outside in (smallest - 1, largest + 1):
        with pytest.raises(ConfigValueError, match=f"from {smallest} to {largest} .*Kafka's {kind}"):
            normalise_config(key, outside)


@pytest.mark.parametrize(("value", "accepted"), [(-1, True), (0, False), (1, True), (9, True), (10, False)])
def test_gzip_level_is_minus_one_or_one_to_nine(value, accepted):
    if accepted:
        assert normalise_config("compression.gzip.level", value) == str(value)
    else:
        with pytest.raises(ConfigValueError, match="must be -1 or a whole number from 1 to 9"):
            normalise_config("compression.gzip.level", value)


@pytest.mark.parametrize(("value", "millis"), [
    ("1h", "3600000"), ("7d", "604800000"), ("500ms", "500"), (" 2 w ", "1209600000"),
    ("15250284452w", "9223372036569600000"),  # the most weeks a long holds
])
def test_durations_within_a_long(value, millis):
    assert normalise_config("retention.ms", value) == millis


@pytest.mark.parametrize("value", ["15250284453w", "106751991167301d", "99999999999999w", "9223372036854775808",
                                   10**30, "1e3", "+5", "1_000", "\u0661", "1.0", 1.0, True, "7 days", ""])
def test_what_is_no_long_or_not_written_as_k2_takes_it_is_refused(value):
    with pytest.raises(ConfigValueError, match="must be a whole number from -1 to 9223372036854775807 milliseconds"):
        normalise_config("retention.ms", value)


@pytest.mark.parametrize(("value", "normalised"), [
    ("delete", "delete"), ("compact", "compact"), ("delete,compact", "compact,delete"),
    (" compact , delete ", "compact,delete"), ("delete,delete", "delete"),
])
def test_cleanup_policy_is_a_list_of_compact_and_delete(value, normalised):
    assert normalise_config("cleanup.policy", value) == normalised


@pytest.mark.parametrize("value", ["", ",", "Delete", "compacted", "delete;compact", True])
def test_other_cleanup_policies_are_refused(value):
    with pytest.raises(ConfigValueError, match="must be delete, compact or compact,delete"):
        normalise_config("cleanup.policy", value)


@pytest.mark.parametrize(("key", "value", "normalised"), [
    ("compression.type", "zstd", "zstd"), ("message.timestamp.type", "LogAppendTime", "LogAppendTime"),
    ("preallocate", True, "true"), ("remote.storage.enable", "FALSE", "false"),
    ("min.cleanable.dirty.ratio", 0.5, "0.5"), ("min.cleanable.dirty.ratio", "1e-1", "1e-1"),
    ("min.cleanable.dirty.ratio", 0, "0"), ("leader.replication.throttled.replicas", "*", "*"),
    ("follower.replication.throttled.replicas", "0:101, 1:102", "0:101,1:102"),
])
def test_other_types_take_kafkas_values(key, value, normalised):
    assert normalise_config(key, value) == normalised


@pytest.mark.parametrize(("key", "value", "message"), [
    ("compression.type", "LZ4", "must be one of uncompressed, zstd, lz4, snappy, gzip, producer"),
    ("message.timestamp.type", "createtime", "must be one of CreateTime, LogAppendTime"),
    ("preallocate", "yes", "must be true or false"),
    ("preallocate", 1, "must be true or false"),
    ("min.cleanable.dirty.ratio", "NaN", "must be a decimal number between 0 and 1"),
    ("min.cleanable.dirty.ratio", float("inf"), "must be a decimal number between 0 and 1"),
    ("min.cleanable.dirty.ratio", "0x1p-1", "must be a decimal number between 0 and 1"),
    ("min.cleanable.dirty.ratio", 1.01, "must be a decimal number between 0 and 1"),
    ("leader.replication.throttled.replicas", "0:101,all", "partition:broker pairs"),
    ("segment.bytz", 1, "unknown topic config 'segment.bytz' (did you mean 'segment.bytes'?)"),
])
def test_other_types_refuse_what_kafka_would(key, value, message):
    with pytest.raises(ConfigValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        normalise_config(key, value)


def test_a_message_never_echoes_more_than_a_short_excerpt():
    with pytest.raises(ConfigValueError) as raised:
        normalise_config("retention.ms", "1" * 1_000_000)
    assert len(str(raised.value)) < 300


def test_compaction_lags_must_not_cross():
    assert conflicts({"min.compaction.lag.ms": "10", "max.compaction.lag.ms": "10"}) == []
    [(key, message)] = conflicts({"min.compaction.lag.ms": "11", "max.compaction.lag.ms": "10"})
    assert key == "min.compaction.lag.ms" and "is above max.compaction.lag.ms 10" in message
