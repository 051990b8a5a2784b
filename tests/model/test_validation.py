"""The bad-input catalogue: every way topics.yaml or a schema can be wrong gets a clear error that
names the file, the line and the key, and nothing is derived from a file with a problem."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from k2infra.model import TopologyError, load_topology
from tests.conftest import ROOT, make_project

SHIPPED = (ROOT / "topics.yaml").read_text()


@dataclass
class Case:
    id: str
    old: str | None  # text of topics.yaml to replace (None: write `new` as the whole file)
    new: str
    line_of: str | None  # the problem's line is the first line containing this text
    key: str  # the problem's key path ends with this
    message: str  # and its message contains this
    file: str = "topics.yaml"
    avsc: dict | None = None  # extra schema files: name -> text (or bytes)
    occurrence: int = 1  # which line containing `line_of` (a duplicate key is reported at the second)
    environment: str = "dev"


RETENTION = 'retention.ms: "604800000"   # 7 days'  # the first is trades'
ACK = ('acknowledged_data_loss:\n  - topics: [market.*.trades.*]\n    change: retention.ms\n    to: 1h\n'
       '    reason: "K2-142"\n')

CASES = [
    Case("yaml-syntax", 'name: "Binance"', 'name: ["Binance"', None, "", "YAML syntax error"),
    Case("duplicate-exchange", "      binance:\n", "      binance:\n        name: x\n      binance:\n",
         "      binance:", "binance", "duplicate key", occurrence=2),
    Case("duplicate-top-level", "defaults:\n", "defaults: {}\ndefaults:\n", "defaults:", "defaults", "duplicate key",
         occurrence=2),
    Case("misspelt-top-level", "schema_registry:", "schema_registy:", "schema_registy:", "schema_registy",
         "did you mean 'schema_registry'"),
    Case("misspelt-exchange-key", "        partitions: 30", "        partitons: 30", "partitons", "asx.partitons",
         "did you mean 'partitions'"),
    # A key misspelt inside a list item (found by the fuzz test: the item's index once broke the suggestion).
    Case("misspelt-subscription-key", "- {data_types: [trades]}", "- { ata_types: [trades]}", "{ ata_types",
         "consumes.[0].ata_types", "did you mean 'data_types'"),
    Case("missing-partitions", "        partitions: 30\n", "", "      asx:", "asx.partitions",
         "required key is missing"),
    Case("missing-exchange-name", '        name: "Binance"\n', "", "      binance:", "binance.name", "required key"),
    Case("partitions-zero", "partitions: 30", "partitions: 0", "partitions: 0", "asx.partitions", "1 or more"),
    Case("partitions-negative", "partitions: 40", "partitions: -4", "partitions: -4", "binance.partitions",
         "1 or more"),
    Case("partitions-text", "partitions: 30", "partitions: thirty", "thirty", "asx.partitions", "whole number"),
    Case("partitions-float", "partitions: 30", "partitions: 30.5", "30.5", "asx.partitions", "whole number"),
    Case("partitions-quoted", "partitions: 30", 'partitions: "30"', '"30"', "asx.partitions", "whole number"),
    Case("upper-case-exchange", "      asx:", "      ASX:", "ASX:", "exchanges.ASX", "lower-case"),
    Case("dotted-exchange", "      asx:", "      asx.au:", "asx.au:", "exchanges.asx.au", "lower-case"),
    Case("asset-class-without-exchanges",
         "  crypto:\n    description: \"Cryptocurrency spot and derivatives markets\"\n    exchanges:\n",
         "  crypto:\n    description: \"Cryptocurrency spot and derivatives markets\"\n    exchanges: {}\n"
         "  old_crypto:\n    exchanges:\n",
         "exchanges: {}", "crypto.exchanges", "at least one exchange"),
    Case("unknown-data-type-in-override", "        symbols: 2000\n",
         "        symbols: 2000\n        overrides:\n          trade:\n            partitions: 5\n",
         "          trade:", "overrides.trade", "did you mean 'trades'"),
    Case("missing-schema-file", 'schema_name: "quote"', 'schema_name: "quotes"', 'schema_name: "quotes"',
         "quotes.schema_name", "not found"),
    Case("schema-not-json", 'schema_name: "quote"', 'schema_name: "broken"', "[,]", "", "not valid JSON",
         file="broken.avsc", avsc={"broken.avsc": '{\n  "type": "record",\n  "name": "X",\n  "fields": [,]\n}'}),
    Case("schema-invalid-avro", 'schema_name: "quote"', 'schema_name: "badtype"', "decimalish", "",
         "invalid Avro schema", file="badtype.avsc",
         avsc={"badtype.avsc": json.dumps({"type": "record", "name": "X", "fields": [
             {"name": "symbol", "type": "string"}, {"name": "p", "type": "decimalish"}]}, indent=1)}),
    Case("schema-without-partition-key", 'schema_name: "quote"', 'schema_name: "nokey"', '"fields"', "fields",
         "no field 'symbol'", file="nokey.avsc",
         avsc={"nokey.avsc": json.dumps({"type": "record", "name": "X", "fields": [
             {"name": "ticker", "type": "string"}]}, indent=1)}),
    Case("partition-key-not-string", 'schema_name: "quote"', 'schema_name: "intkey"', '"symbol"', "symbol",
         "non-null string", file="intkey.avsc",
         avsc={"intkey.avsc": json.dumps({"type": "record", "name": "X", "fields": [
             {"name": "symbol", "type": "long"}]}, indent=1)}),
    Case("retention-not-a-number", 'retention.ms: "604800000"   # 7 days', 'retention.ms: "a week"',
         "a week", "trades.config.retention.ms", "milliseconds"),
    Case("unknown-compression", 'compression.type: "lz4"', 'compression.type: "lz5"', "lz5",
         "trades.config.compression.type", "one of uncompressed"),
    Case("unknown-config-key", 'cleanup.policy: "compact"', 'cleanup.polcy: "compact"', "cleanup.polcy",
         "reference_data.config.cleanup.polcy", "did you mean 'cleanup.policy'"),
    Case("bad-cleanup-policy", 'cleanup.policy: "compact"', 'cleanup.policy: "compacted"', '"compacted"',
         "cleanup.policy", "must be delete, compact or compact,delete"),
    Case("unknown-compatibility", 'compatibility: "BACKWARD"', 'compatibility: "BACKWARDS"', "BACKWARDS",
         "schema_registry.compatibility", "BACKWARD"),
    Case("subject-pattern-without-data-type", 'subject_pattern: "market.{asset_class}.{data_type}-value"',
         'subject_pattern: "market.{asset_class}-value"', "subject_pattern", "subject_pattern", "{data_type}"),
    Case("min-isr-above-replication", "    replication_factor: 3\n    min_insync_replicas: 2",
         "    replication_factor: 1\n    min_insync_replicas: 2", "  prod:", "environments.prod",
         "acks=all", environment="prod"),
    Case("lower-case-country", 'country: "AU"', 'country: "au"', '"au"', "asx.country", "upper-case"),
    Case("unknown-timezone", 'timezone: "Australia/Sydney"', 'timezone: "Australia/Sidney"', "Sidney",
         "asx.timezone", "time zone"),
    Case("boolean-as-partitions", "partitions: 30", "partitions: true", "partitions: true", "asx.partitions",
         "whole number"),
    Case("empty-file", None, "", None, "", "must be a mapping"),
    Case("list-at-top", None, "- asx\n- binance\n", None, "", "must be a mapping"),
    Case("decommission-of-a-declared-topic", "    protected: true",
         "    protected: true\n    decommission:\n      - market.crypto.trades.binance",
         "- market.crypto.trades.binance", "decommission.[0]", "still declared", environment="prod"),
    Case("decommission-of-a-declared-subject", "    protected: true",
         "    protected: true\n    decommission:\n      - market.crypto.trades-value",
         "- market.crypto.trades-value", "decommission.[0]", "still declared", environment="prod"),
    # Acknowledged data loss: each entry names real topics, a change K2 refuses, a valid value and a reason.
    Case("acknowledgement-of-an-unknown-change", "defaults:",
         ACK.replace("retention.ms", "retention.msx") + "defaults:", "change: retention.msx",
         "acknowledged_data_loss.[0].change", "did you mean 'retention.ms'"),
    Case("acknowledgement-of-a-harmless-change", "defaults:", ACK.replace("retention.ms", "compression.type")
         .replace("1h", "zstd") + "defaults:", "change: compression.type", "acknowledged_data_loss.[0].change",
         "is not a change K2 refuses as data loss"),
    Case("acknowledgement-with-a-bad-value", "defaults:", ACK.replace("1h", "one hour") + "defaults:",
         "to: one hour", "acknowledged_data_loss.[0].to", "must be a whole number from -1 to 9223372036854775807 "
         "milliseconds"),
    Case("acknowledgement-of-no-topic", "defaults:", ACK.replace("market.*.trades.*", "market.equities.trade.asx")
         + "defaults:", "topics: [market.equities.trade.asx]", "acknowledged_data_loss.[0].topics.[0]",
         "matches no topic in topics.yaml (did you mean 'market.equities.trades.asx'?)"),
    Case("acknowledgement-without-a-reason", "defaults:", ACK.replace('\"K2-142\"', '\"\"') + "defaults:",
         "reason:", "acknowledged_data_loss.[0].reason", "must not be empty"),
    # Hostile or careless YAML: refused where it stands, before anything expands or recurses.
    Case("yaml-anchor-and-alias", "defaults:\n  replication_factor: 1\n",
         "defaults: &base\n  replication_factor: 1\n", "defaults: &base", "defaults", "anchor &base: YAML anchors"),
    Case("yaml-alias-without-anchor", 'country: "MT"', "country: *mt", "country: *mt", "binance.country",
         "alias *mt"),
    Case("yaml-deep-nesting", "defaults:\n", "deep: " + "[" * 70 + "]" * 70 + "\ndefaults:\n", "deep:", "deep.[0].[0]",
         "nested more than 64 levels deep"),
    Case("yaml-unknown-tag", 'country: "MT"', "country: !!python/object:os.system x", "country: !!python",
         "binance.country", "the YAML tag !!python/object:os.system is not accepted"),
    Case("yaml-two-documents", "defaults:\n", "---\ndefaults:\n", "---", "", "a second YAML document"),
    Case("yaml-control-character", 'name: "Binance"', 'name: "Bin\x07ance"', "Bin\x07ance", "",
         "character U+0007 at column 19 is not allowed in YAML"),
    Case("yaml-duplicate-nested-key", "        partitions: 30\n", "        partitions: 30\n        partitions: 31\n",
         "partitions: 31", "asset_classes.equities.exchanges.asx.partitions", "duplicate key 'partitions'"),
    Case("subject-pattern-with-format-spec", 'subject_pattern: "market.{asset_class}.{data_type}-value"',
         'subject_pattern: "market.{asset_class:x}.{data_type}-value"', "subject_pattern", "subject_pattern",
         "{asset_class:x} has a format spec or conversion"),
    Case("subject-pattern-with-conversion", 'subject_pattern: "market.{asset_class}.{data_type}-value"',
         'subject_pattern: "market.{asset_class!r}.{data_type}-value"', "subject_pattern", "subject_pattern",
         "{asset_class!r} has a format spec or conversion"),
    Case("subject-pattern-with-bad-conversion", 'subject_pattern: "market.{asset_class}.{data_type}-value"',
         'subject_pattern: "market.{asset_class}.{data_type!x}-value"', "subject_pattern", "subject_pattern",
         "{data_type!x} has a format spec or conversion"),
    # Schema files: only inside the repository, and never echoed back.
    Case("schema-absolute-path", "        trading_hours: \"24/7\"\n",
         "        trading_hours: \"24/7\"\n    schemas:\n      trades: /etc/passwd\n", "trades: /etc/passwd",
         "crypto.schemas.trades", "schema file '/etc/passwd' is outside the repository (an absolute path)"),
    Case("schema-path-out-of-the-repository", "        trading_hours: \"24/7\"\n",
         "        trading_hours: \"24/7\"\n    schemas:\n      trades: ../../../../../../etc/passwd\n", "trades: ../",
         "crypto.schemas.trades", "is outside the repository ('..' leads out of it)"),
    Case("schema-name-out-of-the-repository", 'schema_name: "quote"', 'schema_name: "../../../../../../tmp/x"',
         "../../", "quotes.schema_name", "is outside the repository ('..' leads out of it)"),
    Case("schema-file-as-a-directory", 'schema_name: "quote"', 'schema_name: "dir"', None, "",
         "is a directory, not a file", file="dir.avsc", avsc={"dir.avsc/placeholder": ""}),
    Case("schema-not-utf8", 'schema_name: "quote"', 'schema_name: "latin"', "caf", "",
         "byte 0xe9 at column 13 is not UTF-8", file="latin.avsc",
         avsc={"latin.avsc": b'{"type": "record", "name": "X",\n "doc": "caf\xe9", "fields": []}'}),
    Case("schema-nested-too-deeply", 'schema_name: "quote"', 'schema_name: "deep"', None, "",
         "nested too deeply", file="deep.avsc", avsc={"deep.avsc": "[" * 100_000 + "]" * 100_000}),
    Case("schema-error-quotes-an-excerpt", 'schema_name: "quote"', 'schema_name: "leaky"', None, "",
         "invalid Avro schema: Record field is missing 'name': {'nam': 'p', 'type': 'int', 'doc': 'sec",
         file="leaky.avsc",
         avsc={"leaky.avsc": json.dumps({"type": "record", "name": "X", "fields": [
             {"nam": "p", "type": "int", "doc": "secret " * 1000}]})}),
    Case("acknowledgement-without-topics", "defaults:", ACK.replace("[market.*.trades.*]", "[]") + "defaults:",
         "topics: []", "acknowledged_data_loss.[0].topics", "must list at least one"),
    # Values in range: Kafka 4.1's own type and range for each key (k2infra/model/kafka_configs.py).
    Case("retention-in-weeks-beyond-kafkas-long", RETENTION, 'retention.ms: "99999999999999w"', "99999999999999w",
         "trades.config.retention.ms", "to 9223372036854775807 milliseconds (Kafka's LONG; -1: unlimited) or a "
         "duration like '7d', '1h', '30m'; got '99999999999999w' (60479999999999395200000 ms)"),
    Case("retention-number-beyond-kafkas-long", RETENTION, "retention.ms: 9223372036854775808",
         "9223372036854775808", "trades.config.retention.ms", "got 9223372036854775808"),
    Case("retention-of-thousands-of-digits", RETENTION, f'retention.ms: "{"9" * 5000}"', "9999999999",
         "trades.config.retention.ms", "(more digits than Kafka's largest LONG)"),
    Case("retention-below-unlimited", RETENTION, "retention.ms: -2", "retention.ms: -2",
         "trades.config.retention.ms", "from -1 to 9223372036854775807"),
    Case("retention-with-other-digits", RETENTION, 'retention.ms: "\u0661\u0662h"', "\u0661\u0662h",
         "trades.config.retention.ms", "got '\u0661\u0662h'"),
    Case("retention-as-a-fraction", RETENTION, "retention.ms: 1.5", "retention.ms: 1.5", "trades.config.retention.ms",
         "got 1.5"),
    Case("segment-bytes-beyond-kafkas-int", RETENTION, RETENTION + "\n      segment.bytes: 4294967296",
         "segment.bytes: 4294967296", "trades.config.segment.bytes",
         "must be a whole number from 1048576 to 2147483647 (Kafka's INT); got 4294967296"),
    Case("segment-bytes-below-kafkas-minimum", RETENTION, RETENTION + "\n      segment.bytes: 1024",
         "segment.bytes: 1024", "trades.config.segment.bytes", "from 1048576 to 2147483647"),
    Case("max-message-bytes-negative", RETENTION, RETENTION + "\n      max.message.bytes: -1",
         "max.message.bytes: -1", "trades.config.max.message.bytes", "from 0 to 2147483647 (Kafka's INT); got -1"),
    Case("gzip-level-zero", RETENTION, RETENTION + "\n      compression.gzip.level: 0", "compression.gzip.level",
         "trades.config.compression.gzip.level", "must be -1 or a whole number from 1 to 9"),
    Case("lz4-level-above-17", RETENTION, RETENTION + "\n      compression.lz4.level: 18", "compression.lz4.level",
         "trades.config.compression.lz4.level", "from 1 to 17"),
    Case("flush-messages-zero", RETENTION, RETENTION + "\n      flush.messages: 0", "flush.messages",
         "trades.config.flush.messages", "from 1 to 9223372036854775807 (Kafka's LONG)"),
    Case("dirty-ratio-above-one", RETENTION, RETENTION + "\n      min.cleanable.dirty.ratio: 1.5",
         "min.cleanable.dirty.ratio", "trades.config.min.cleanable.dirty.ratio", "between 0 and 1 (Kafka's DOUBLE"),
    Case("dirty-ratio-not-a-number", RETENTION, RETENTION + "\n      min.cleanable.dirty.ratio: .nan",
         "min.cleanable.dirty.ratio", "trades.config.min.cleanable.dirty.ratio", "got nan"),
    Case("compression-in-upper-case", 'compression.type: "lz4"', 'compression.type: "LZ4"', '"LZ4"',
         "trades.config.compression.type", "(as written: Kafka is case-sensitive); got 'LZ4'"),
    Case("timestamp-type-in-lower-case", RETENTION, RETENTION + "\n      message.timestamp.type: createtime",
         "createtime", "trades.config.message.timestamp.type", "one of CreateTime, LogAppendTime"),
    Case("boolean-as-yes", RETENTION, RETENTION + '\n      unclean.leader.election.enable: "yes"', '"yes"',
         "trades.config.unclean.leader.election.enable", "must be true or false (Kafka's BOOLEAN); got 'yes'"),
    Case("empty-cleanup-policy", 'cleanup.policy: "compact"', 'cleanup.policy: ""', 'cleanup.policy: ""',
         "reference_data.config.cleanup.policy", "an empty one, keeping every record forever"),
    Case("throttled-replicas-not-pairs", RETENTION, RETENTION + '\n      leader.replication.throttled.replicas: "all"',
         "throttled.replicas", "trades.config.leader.replication.throttled.replicas", "partition:broker pairs"),
    Case("compaction-lags-that-cross", 'cleanup.policy: "compact"',
         'cleanup.policy: "compact"\n      min.compaction.lag.ms: 2h\n      max.compaction.lag.ms: 1h',
         "min.compaction.lag.ms: 2h", "reference_data.config.min.compaction.lag.ms",
         "min.compaction.lag.ms 7200000 is above max.compaction.lag.ms 3600000: Kafka refuses the topic"),
    Case("unknown-key-of-a-hundred-characters", 'cleanup.policy: "compact"',
         f'cleanup.policy: "compact"\n      {"k" * 100}: 1',
         "kkkkkkkkkk", "reference_data.config." + "k" * 100,
         "unknown topic config 'kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...'"),
    Case("partitions-beyond-kafkas-int", "partitions: 40", f"partitions: {2**31}", f"partitions: {2**31}",
         "binance.partitions", "must be 2147483647 or less (the largest Kafka takes), got 2147483648"),
    Case("replication-factor-beyond-kafkas-int16", "    replication_factor: 3\n", "    replication_factor: 32768\n",
         "replication_factor: 32768", "prod.replication_factor", "must be 32767 or less", environment="prod"),
    Case("alert-threshold-infinite", "defaults:", "monitoring:\n  partition_imbalance: {above: .inf}\n\ndefaults:",
         "partition_imbalance:", "monitoring.partition_imbalance.above", "must be a finite number, got inf"),
    # Nothing silently changed: what the environment sets is refused where it would replace another value.
    Case("min-insync-replicas-in-a-data-type", RETENTION, RETENTION + "\n      min.insync.replicas: 3",
         "min.insync.replicas: 3", "trades.config.min.insync.replicas",
         "min.insync.replicas is an environment's setting, not a data type's: every topic of prod gets "
         "environments.prod.min_insync_replicas (2), which would replace this 3", environment="prod"),
    Case("min-insync-replicas-in-an-override", "        symbols: 2000\n",
         "        symbols: 2000\n        overrides:\n          trades: {config: {min.insync.replicas: 2}}\n",
         "min.insync.replicas: 2}", "overrides.trades.config.min.insync.replicas",
         "every topic of dev gets environments.dev.min_insync_replicas (1), which would replace this 2"),
    # Acknowledgements say what they accept: exact names or one data type's or one exchange's topics, a retention
    # no shorter than 1 hour (or 1 GiB per partition), a reason in words.
    Case("acknowledgement-of-every-topic", "defaults:", ACK.replace("[market.*.trades.*]", '["*"]') + "defaults:",
         'topics: ["*"]', "acknowledged_data_loss.[0].topics.[0]",
         "'*' is wider than one data type or one exchange: list exact topic names, or a pattern that writes out "
         "the data type (market.*.trades.*) or the exchange (market.*.*.asx)"),
    Case("acknowledgement-of-every-market-topic", "defaults:",
         ACK.replace("[market.*.trades.*]", "[market.equities.trades.asx, market.*]") + "defaults:",
         "topics: [market.equities.trades.asx, market.*]", "acknowledged_data_loss.[0].topics.[1]",
         "'market.*' is wider than one data type or one exchange"),
    Case("acknowledgement-of-every-segment-wildcarded", "defaults:",
         ACK.replace("market.*.trades.*", "market.*.*.*") + "defaults:", "market.*.*.*",
         "acknowledged_data_loss.[0].topics.[0]", "'market.*.*.*' is wider"),
    Case("acknowledgement-of-an-asset-class", "defaults:",
         ACK.replace("market.*.trades.*", "market.equities.*.*") + "defaults:", "market.equities.*.*",
         "acknowledged_data_loss.[0].topics.[0]", "'market.equities.*.*' is wider"),
    Case("acknowledgement-of-a-wildcard-data-type", "defaults:",
         ACK.replace("market.*.trades.*", "market.*.t*.*") + "defaults:", "market.*.t*.*",
         "acknowledged_data_loss.[0].topics.[0]", "'market.*.t*.*' is wider"),
    Case("acknowledgement-down-to-a-millisecond", "defaults:", ACK.replace("to: 1h", "to: 1ms") + "defaults:",
         "to: 1ms", "acknowledged_data_loss.[0].to",
         "retention.ms 1 is below 3600000 (1 hour), the shortest retention K2 lets an acknowledgement cut to"),
    Case("acknowledgement-down-to-a-kilobyte", "defaults:",
         ACK.replace("retention.ms", "retention.bytes").replace("to: 1h", "to: 1024") + "defaults:",
         "to: 1024", "acknowledged_data_loss.[0].to", "retention.bytes 1024 is below 1073741824 (1 GiB per partition)"),
    Case("acknowledgement-with-a-dot-for-a-reason", "defaults:", ACK.replace('"K2-142"', '"."') + "defaults:",
         'reason: "."', "acknowledged_data_loss.[0].reason",
         'must say why in words: a ticket id (K2-142) or at least two words'),
    Case("acknowledgement-with-one-word-for-a-reason", "defaults:", ACK.replace('"K2-142"', '"cleanup!!"')
         + "defaults:", 'reason: "cleanup!!"', "acknowledged_data_loss.[0].reason", "must say why in words"),
    Case("acknowledgement-with-a-novel-for-a-reason", "defaults:",
         ACK.replace('"K2-142"', f'"K2-142 {"words " * 200}"') + "defaults:", "reason: \"K2-142 words",
         "acknowledged_data_loss.[0].reason", "is 1207 characters long: keep it under 500"),
    # Strict names: full-string matches, Kafka's limits, no two topics with one metric name.
    Case("exchange-with-a-trailing-newline", "      binance:\n", '      "binance\\n":\n', '"binance\\n":',
         "exchanges.binance\n", "exchange code 'binance\\n' must be lower-case"),
    Case("data-type-with-a-trailing-newline", "  quotes:\n", '  "quotes\\n":\n', '"quotes\\n":',
         "data_types.quotes\n", "data type code 'quotes\\n' must be lower-case"),
    Case("topic-name-over-kafkas-limit", "      binance:\n", f"      {'b' * 230}:\n", "b" * 230,
         f"crypto.exchanges.{'b' * 230}", "characters long: Kafka allows at most 249 in a topic name"),
    Case("topic-names-that-collide-in-metrics", "  crypto:\n    description: \"Cryptocurrency spot and derivatives "
         "markets\"\n    exchanges:\n",
         "  crypto_trades:\n    exchanges:\n      kraken: {name: Kraken, partitions: 40}\n"
         "  crypto:\n    exchanges:\n      quotes_kraken: {name: Q, partitions: 40}\n",
         "      quotes_kraken: {name: Q", "crypto.exchanges.quotes_kraken",
         "market.crypto.trades.quotes_kraken and market.crypto_trades.quotes.kraken (at "),
    Case("exchange-named-as-mirrormakers-topics", "      binance:\n", "      internal:\n", "      internal:",
         "crypto.exchanges.internal", "is named as the internal topics of Kafka's tools are"),
    # Principals: Type:name, a type Kafka's authenticators make, never the wildcard or the unauthenticated user.
    Case("principal-with-a-trailing-newline", 'principal: "User:asx-feed"', 'principal: "User:asx-feed\\n"',
         "User:asx-feed", "apps.asx-feed.principal", "has characters no authenticated name has here"),
    Case("principal-anonymous", 'principal: "User:asx-feed"', 'principal: "User:ANONYMOUS"', "User:ANONYMOUS",
         "apps.asx-feed.principal", "the principal Kafka gives every unauthenticated client"),
    Case("principal-wildcard", 'principal: "User:asx-feed"', 'principal: "User:*"', '"User:*"',
         "apps.asx-feed.principal", "is the wildcard principal"),
    Case("principal-of-an-unknown-type", 'principal: "User:asx-feed"', 'principal: "Group:feeds"', "Group:feeds",
         "apps.asx-feed.principal", "has principal type 'Group'"),
    Case("principal-without-a-name", 'principal: "User:asx-feed"', 'principal: "User:"', '"User:"',
         "apps.asx-feed.principal", "is not a principal Type:name"),
    Case("principal-with-a-space", 'principal: "User:asx-feed"', 'principal: "User:asx feed"', "User:asx feed",
         "apps.asx-feed.principal", "has characters no authenticated name has"),
    Case("group-wildcard", 'principal: "User:iceberg-writer"\n', 'principal: "User:iceberg-writer"\n    group: "*"\n',
         'group: "*"', "apps.iceberg-writer.group", "consumer group '*' is the ACL wildcard"),
    Case("transactional-id-wildcard", 'principal: "User:binance-feed"\n',
         'principal: "User:binance-feed"\n    transactional_id: "*"\n', 'transactional_id: "*"',
         "apps.binance-feed.transactional_id", "transactional id '*' is the ACL wildcard"),
    Case("group-with-a-newline", 'principal: "User:iceberg-writer"\n',
         'principal: "User:iceberg-writer"\n    group: "lake\\nwriter"\n', 'group: "lake',
         "apps.iceberg-writer.group", "must be letters, digits"),
    Case("default-group-from-an-odd-app-name", "  iceberg-writer:\n", '  "iceberg writer":\n', '"iceberg writer":',
         "apps.iceberg writer.group", "(the app's name, its default group: set group)"),
    # What K2 may touch is K2's: a decommission lists only K2's names, in any environment.
    Case("decommission-of-an-internal-topic", "    protected: true",
         "    protected: true\n    decommission:\n      - __consumer_offsets",
         "- __consumer_offsets", "prod.decommission.[0]", "K2 never deletes it, in any environment",
         environment="prod"),
    Case("decommission-of-another-teams-topic", "    min_insync_replicas: 1\n  prod:",
         "    min_insync_replicas: 1\n    decommission: [orders.v1]\n  prod:", "decommission: [orders.v1]",
         "dev.decommission.[0]", "'orders.v1' is not K2's"),
    Case("decommission-of-connects-topic", "    min_insync_replicas: 1\n  prod:",
         "    min_insync_replicas: 1\n    decommission: [connect-offsets]\n  prod:", "connect-offsets",
         "dev.decommission.[0]", "'connect-offsets' is an internal topic of Kafka or of a tool around it"),
    Case("decommission-of-an-undeclared-legacy-topic", "    min_insync_replicas: 1\n  prod:",
         "    min_insync_replicas: 1\n    decommission: [market.orders.raw]\n  prod:", "market.orders.raw",
         "dev.decommission.[0]", "market.orders.raw is not declared under legacy_topics"),
    Case("decommission-with-a-trailing-newline", "    min_insync_replicas: 1\n  prod:",
         '    min_insync_replicas: 1\n    decommission: ["market.crypto.trades.kraken\\n"]\n  prod:',
         "kraken", "dev.decommission.[0]", "is not K2's"),
    # Legacy topics: only the design's shapes, never an internal or another team's topic.
    Case("legacy-internal-topic", "  market.trades.raw:\n", "  __consumer_offsets:\n", "  __consumer_offsets:",
         "legacy_topics.__consumer_offsets", "K2 never reads, adopts or deletes it"),
    Case("legacy-topic-of-another-team", "  market.trades.raw:\n", "  orders.v1:\n", "  orders.v1:",
         "legacy_topics.orders.v1", "is not named as the design's legacy topics are"),
    Case("legacy-topic-named-after-another-data-type", "  market.trades.raw:\n", "  market.orders.raw:\n",
         "  market.orders.raw:", "legacy_topics.market.orders.raw",
         "(market.trades.raw or market.trades, after its data type trades)"),
]


def build(tmp_path: Path, case: Case) -> Path:
    text = case.new if case.old is None else SHIPPED.replace(case.old, case.new, 1)
    assert case.old is None or text != SHIPPED, f"case {case.id} changes nothing"
    project = make_project(tmp_path, text)
    for name, content in (case.avsc or {}).items():
        (project / "schemas" / name).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            (project / "schemas" / name).write_bytes(content)
        else:
            (project / "schemas" / name).write_text(content)
    return project


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_names_file_line_and_key(tmp_path, case):
    project = build(tmp_path, case)
    with pytest.raises(TopologyError) as raised:
        load_topology(project / "topics.yaml", case.environment)
    problems = raised.value.problems
    assert any(case.message in p.message for p in problems), problems
    problem = next(p for p in problems if case.message in p.message)
    assert problem.file.name == case.file
    assert problem.key.endswith(case.key), problem
    if case.line_of is not None:
        lines = problem.file.read_text(errors="replace").splitlines()
        expected = [i for i, line in enumerate(lines, 1) if case.line_of in line][case.occurrence - 1]
        assert problem.line == expected, f"{problem} (expected line {expected})"
    assert str(problem).startswith(f"{problem.file}:")


@pytest.mark.parametrize(("topics", "change", "to", "reason"), [
    ("[market.equities.trades.asx]", "retention.ms", "1h", "K2-142"),  # an exact name; a ticket id
    ("[market.*.trades.*]", "retention.ms", "3600000", "trades are archived to Iceberg"),  # one data type
    ("[market.*.*.asx]", "retention.bytes", "1073741824", "ASX disks are full (OPS-7)"),  # one exchange
    ("[market.equities.*.asx, market.*.quotes.b?nance]", "retention.ms", "-1", "OPS-12: kept forever"),
    ("[market.*.reference_data.*]", "cleanup.policy", "delete", "reference data is reloaded daily"),
])
def test_acknowledgements_that_say_what_they_accept_pass(tmp_path, topics, change, to, reason):
    entry = f"acknowledged_data_loss:\n  - {{topics: {topics}, change: {change}, to: {to}, reason: '{reason}'}}\n"
    topology = load_topology(make_project(tmp_path, SHIPPED.replace("defaults:", entry + "defaults:", 1))
                             / "topics.yaml", "dev")
    assert [a.reason for a in topology.acknowledgements] == [reason]


def test_the_catalogue_is_large_enough():
    assert len(CASES) >= 60


def test_every_problem_is_reported_not_just_the_first(tmp_path):
    text = SHIPPED.replace('compression.type: "lz4"', 'compression.type: "lz5"').replace(
        "      asx:", "      ASX:")
    with pytest.raises(TopologyError) as raised:
        load_topology(make_project(tmp_path, text) / "topics.yaml", "dev")
    messages = [p.message for p in raised.value.problems]
    assert sum("lz5" in m for m in messages) == 3
    assert any("lower-case" in m for m in messages)


def test_unknown_environment_lists_the_known_ones():
    with pytest.raises(TopologyError, match=r"no environment 'staging'.*known: dev, prod"):
        load_topology(ROOT / "topics.yaml", "staging")
