"""The hostile-input catalogue (issue 20): each case builds a project, runs one `k2` command on it and says what
the command must answer, written against the behaviour the issue demands.

A refused input exits 1 with a located message: a line of output names the file (`file:N:` where the file has
lines: N is the number of a line holding one of `line`'s texts) and, on that same line, the key (`key`, a regular
expression); the output also matches every pattern of `says` (case-insensitive regular expressions, kept short:
the wording is the fix's). An accepted input exits 0. No case may print a traceback, outgrow the memory limit or
outlast its timeout (tests/hostile/run.py). `never`: texts that must not be echoed (a marker deep in a file that
is not K2's). The accepted cases keep the catalogue from passing by refusing everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.hostile import inputs as i
from tests.hostile.run import TIMEOUT

# The classes of input, and this catalogue's own.
NAMESPACE = "namespace"  # decommissioning, releasing or migrating what is not K2's
NAMES = "names"  # names and principals
EXHAUSTION = "exhaustion"  # memory, time, a file that never ends
TRACEBACK = "traceback"  # decoding, reader and recursion errors, format specs
OUTSIDE = "outside"  # files outside the repository
VALUES = "values"  # settings out of range or silently changed
ACKNOWLEDGEMENT = "acknowledgement"  # blanket acknowledgements of data loss
SECRET = "secret"  # what the messages echo
YAML = "yaml"  # YAML's own traps: tags, 1.1 booleans, merge keys, tabs, BOMs, keys that are not text
CLASSES = (NAMESPACE, NAMES, EXHAUSTION, TRACEBACK, OUTSIDE, VALUES, ACKNOWLEDGEMENT, SECRET, YAML)

ANY_LINE = ("",)  # located at a line, whichever it is
VALIDATE = ("validate",)
DEV = ("validate", "--stack", "dev")
PROD = ("validate", "--stack", "prod")


@dataclass(frozen=True)
class Case:
    id: str
    kind: str
    build: tuple[i.Step, ...]
    command: tuple[str, ...] = VALIDATE  # --config <project>/<config> is added
    exit: tuple[int, ...] = (1,)  # the exit codes allowed
    file: str | None = "topics.yaml"  # the file a refusal names (None: none to name, e.g. a bad --stack)
    line: tuple[str, ...] = ()  # at the line of one of these texts of `file` (empty: no line to name)
    key: str = ""  # regex: the key the located line names
    says: tuple[str, ...] = ()  # regexes (case-insensitive) the output matches
    never: tuple[str, ...] = ()  # texts the output must not hold
    config: str = "topics.yaml"  # --config, relative to the project (or absolute)
    timeout: float = TIMEOUT
    slow: bool = False  # large inputs: deselect with -m "not slow"
    located_when_accepted: bool = False  # a stated warning is allowed instead of a refusal, but located
    not_created: str | None = None  # a path (@OUTSIDE@/...) the command must not create


def accepted(id: str, kind: str, build: tuple[i.Step, ...], command: tuple[str, ...] = VALIDATE,
             says: tuple[str, ...] = ("OK for",), **more: Any) -> Case:
    return Case(id, kind, build, command, exit=(0,), says=says, **more)


DECOMMISSION = r"environments\.(dev|prod)\.decommission"
SECRET_MARKER = "MARKER-DEEP-IN-A-PRIVATE-FILE"
PRIVATE = "-----BEGIN PRIVATE KEY-----\n" + "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" * 120 + SECRET_MARKER + "\n"
LONG_EXCHANGE = 249 - len("market.crypto.reference_data.")  # the longest derived name is exactly 249


def _decommission(id: str, name: str, says: str, env: str = "dev") -> Case:
    return Case(id, NAMESPACE, (i.decommission(name, env=env),), line=("decommission:",), key=DECOMMISSION,
                says=(says,))


def _legacy(id: str, name: str, says: str, also_decommission: bool = True) -> Case:
    steps: tuple[i.Step, ...] = (i.legacy(name),)
    if also_decommission:
        steps += (i.decommission(name),)
    return Case(id, NAMESPACE, steps, line=(i.q(name), "decommission:"),
                key=rf"legacy_topics|{DECOMMISSION}", says=(says,))


NOT_K2 = r"namespace|not K2|K2's|market\.|legacy"

NAMESPACE_CASES = [
    _decommission("decommission-consumer-offsets", "__consumer_offsets", "internal"),
    _decommission("decommission-transaction-state-prod", "__transaction_state", "internal", env="prod"),
    _decommission("decommission-schemas-topic", "_schemas", "internal"),
    _decommission("decommission-connect-offsets", "connect-offsets", "internal"),
    _decommission("decommission-mm2-internal", "mm2-offset-syncs.x.internal", "internal"),
    _decommission("decommission-other-team", "payments.orders.v1", NOT_K2),
    _decommission("decommission-other-team-subject", "payments.orders-value", NOT_K2),
    _decommission("decommission-star", "*", NOT_K2 + "|pattern"),
    _decommission("decommission-trailing-newline", "market.crypto.trades.kraken\n", r"name|" + NOT_K2),
    _legacy("legacy-consumer-offsets-decommissioned", "__consumer_offsets", "internal"),
    _legacy("legacy-schemas", "_schemas", "internal", also_decommission=False),
    _legacy("legacy-connect-configs-decommissioned", "connect-configs", "internal"),
    _legacy("legacy-mm2-heartbeats-decommissioned", "heartbeats", r"internal|" + NOT_K2),
    _legacy("legacy-other-team-decommissioned", "payments.orders.v1", NOT_K2),
    _legacy("legacy-trailing-newline", "market.orders.raw\n", r"name"),
    # Kafka's metric names treat '.' and '_' alike: this legacy topic's metrics are market.crypto.trades.binance's.
    # Refused before any collision is looked for: no name of the legacy shapes collides with one of four parts.
    _legacy("legacy-metric-collision", "market.crypto.trades_binance", r"collid|clash|not named as the design's legacy",
            also_decommission=False),
    accepted("decommission-removed-exchange", NAMESPACE,
             (i.decommission("market.crypto.trades.kraken", "market.metals.trades-value"),)),
    accepted("decommission-declared-legacy-topic", NAMESPACE, (i.decommission("market.trades.raw"),)),
]

PRINCIPAL = r"apps\.asx-feed\.principal"

NAMES_CASES = [
    Case("exchange-trailing-newline", NAMES, (i.exchange(i.q("kraken\n")),), line=('"kraken\\n":',),
         key=r"exchanges\.kraken", says=(r"code|lower-case",)),
    Case("data-type-trailing-newline", NAMES,
         (i.Edit('  trades:\n    description: "Trade', '  "trades\\n":\n    description: "Trade'),),
         line=('"trades\\n":',), key=r"data_types\.trades", says=(r"code|lower-case",)),
    Case("asset-class-trailing-newline", NAMES,
         (i.Edit("  crypto:\n    description", '  "crypto\\n":\n    description'),),
         line=('"crypto\\n":',), key=r"asset_classes\.crypto", says=(r"code|lower-case",)),
    Case("exchange-homoglyph", NAMES, (i.exchange("\u0430sx", asset_class="equities"),), line=("\u0430sx:",),
         key=r"exchanges\.", says=(r"code|lower-case",)),
    Case("principal-trailing-newline", NAMES, (i.principal("asx-feed", "User:asx-feed\n"),),
         line=('principal: "User:asx-feed\\n"',), key=PRINCIPAL, says=("principal",)),
    Case("principal-anonymous", NAMES, (i.principal("asx-feed", "User:ANONYMOUS"),), line=("User:ANONYMOUS",),
         key=PRINCIPAL, says=("ANONYMOUS",)),
    Case("principal-anonymous-acl-prod", NAMES, (i.principal("iceberg-writer", "User:ANONYMOUS"),),
         command=("acl", "--stack", "prod"), line=("User:ANONYMOUS",), key=r"apps\.iceberg-writer\.principal",
         says=("ANONYMOUS",)),
    Case("principal-star", NAMES, (i.principal("asx-feed", "User:*"),), line=('"User:*"',), key=PRINCIPAL,
         says=(r"\*|principal",)),
    Case("principal-group-type", NAMES, (i.principal("asx-feed", "Group:feeds"),), line=("Group:feeds",),
         key=PRINCIPAL, says=("principal",)),
    Case("group-star", NAMES, (i.app_setting("asx-market-maker", 'group: "*"'),), line=('group: "*"',),
         key=r"apps\.asx-market-maker\.group", says=(r"\*|wildcard|every group",)),
    Case("group-star-acl-prod", NAMES, (i.app_setting("crypto-arbitrage", 'group: "*"'),),
         command=("acl", "--stack", "prod"), line=('group: "*"',), key=r"apps\.crypto-arbitrage\.group",
         says=(r"\*|wildcard|every group",)),
    Case("transactional-id-star", NAMES, (i.app_setting("asx-feed", 'transactional_id: "*"'),),
         line=('transactional_id: "*"',), key=r"apps\.asx-feed\.transactional_id",
         says=(r"\*|wildcard|every transactional",)),
    Case("app-name-trailing-newline", NAMES,
         (i.Edit("apps:\n", 'apps:\n  "reader\\n":\n    principal: "User:reader"\n'
                            "    consumes:\n      - {asset_class: crypto}\n"),),
         line=('"reader\\n":',), key=r"apps\.reader", says=(r"name|group",)),
    Case("subscription-topic-star", NAMES,
         (i.Edit("      - {topics: [market.equities.reference_data.asx,", '      - {topics: ["*",'),),
         line=('{topics: ["*",',), key=r"apps\.reference-loader\.consumes", says=(r"\*",)),
    Case("topic-name-250", NAMES, (i.exchange("b" * (LONG_EXCHANGE + 1)),), line=("b" * (LONG_EXCHANGE + 1),),
         key=r"asset_classes\.crypto\.exchanges\.b+", says=("249",)),
    accepted("topic-name-249", NAMES, (i.exchange("b" * LONG_EXCHANGE),), command=("topology", "--json"),
             says=(rf'"market\.crypto\.reference_data\.b{{{LONG_EXCHANGE}}}"',)),
    Case("legacy-name-250", NAMES, (i.legacy("market." + "t" * 243),), line=("t" * 243,),
         key=r"legacy_topics\.market\.t+", says=("249",)),
    # market.crypto.trades.quotes_z and market.crypto_trades.quotes.z: one metric name, market_crypto_trades_quotes_z.
    Case("metric-collision-derived-topics", NAMES, (i.exchange("quotes_z"), i.asset_class("crypto_trades", "z")),
         line=("      quotes_z:", "      z:", "  crypto_trades:"),
         key=r"exchanges\.(quotes_)?z|asset_classes\.crypto_trades", says=(r"collid|clash",)),
    accepted("exchange-with-underscore", NAMES, (i.exchange("binance_us"),)),
    Case("exchange-key-number", NAMES, (i.exchange("123"),), line=("      123:",), key=r"exchanges\.\[?123",
         says=("text",)),
    Case("exchange-key-null", NAMES, (i.exchange("~"),), line=("      ~:", "    exchanges:"),
         key=r"exchanges\.(None|null|~)", says=("text",)),
    Case("stack-name-traversal", NAMES, (), command=("validate", "--stack", "../../outside/x"), file=None,
         says=(r"stack|environment",)),
]

EXHAUSTION_CASES = [
    Case("alias-bomb", EXHAUSTION, (i.Append("laughs:\n" + i.alias_bomb()),), line=ANY_LINE,
         says=(r"alias|anchor",)),
    Case("alias-bomb-in-a-description", EXHAUSTION,
         (i.Edit('    description: "Trade execution events"\n',
                 "    description:\n" + i.alias_bomb(indent="      ")),), line=ANY_LINE, says=(r"alias|anchor",)),
    Case("alias-bomb-in-stack-file", EXHAUSTION,
         (i.stack_file("bomb:\n" + i.alias_bomb() + "config:\n  k2:environment: *l8\n"),), command=DEV,
         file="Pulumi.dev.yaml", line=ANY_LINE, says=(r"alias|anchor",)),
    Case("schema-dev-zero", EXHAUSTION, (i.crypto_schema("/dev/zero"),), line=("schemas: {trades:",),
         key=r"asset_classes\.crypto\.schemas\.trades", says=(r"outside|regular file",)),
    Case("schema-symlink-to-dev-zero", EXHAUSTION,
         (i.Symlink("schemas/zero.avsc", "/dev/zero"), i.crypto_schema("zero.avsc")), line=("schemas: {trades:",),
         key=r"asset_classes\.crypto\.schemas\.trades", says=(r"outside|regular file",)),
    # Inside the repository but not a regular file: the message names the file itself.
    Case("schema-fifo", EXHAUSTION, (i.Fifo("schemas/pipe.avsc"), i.crypto_schema("pipe.avsc")),
         file="schemas/pipe.avsc", says=("regular file",)),
    Case("shared-schema-fifo", EXHAUSTION, (i.Fifo("schemas/quote.avsc"),), file="schemas/quote.avsc",
         says=("regular file",)),
    Case("topics-fifo", EXHAUSTION, (i.Fifo("topics.yaml"),), says=("regular file",)),
    Case("config-dev-zero", EXHAUSTION, (), config="/dev/zero", file="/dev/zero", says=("regular file",)),
    Case("stack-file-fifo", EXHAUSTION, (i.Fifo("Pulumi.dev.yaml"),), command=DEV, file="Pulumi.dev.yaml",
         says=("regular file",)),
    Case("stack-file-dev-zero", EXHAUSTION, (i.Symlink("Pulumi.dev.yaml", "/dev/zero"),), command=DEV,
         file="Pulumi.dev.yaml", says=(r"regular file|outside",)),
    Case("topics-20mb", EXHAUSTION, (i.Write("topics.yaml", i.with_comments(20)),),
         says=(r"\bMB\b|size|large|bytes",), slow=True),
    Case("description-20mb", EXHAUSTION, (i.Write("topics.yaml", i.with_long_description(20)),),
         says=(r"\bMB\b|size|large|bytes",), slow=True),
    # Accepted (parsed once, in time linear in the size) or refused by a size limit. `k2 validate` parsed it three
    # times (the environments, then once for each): 13 s on main, 4 s for one parse, on an idle machine.
    Case("comments-5mb", EXHAUSTION, (i.Write("topics.yaml", i.with_comments(5)),), exit=(0, 1),
         says=(r"OK for|MB|size|large|bytes",), timeout=TIMEOUT / 4, slow=True),
    Case("description-1mb", EXHAUSTION, (i.Write("topics.yaml", i.with_long_description(1)),), exit=(0, 1),
         timeout=TIMEOUT / 2),
    # Parsed once per command, whatever the number of environments: 300 parses of 300 KB take minutes; one parse
    # and 300 derivations (30 ms each) about 10 s.
    accepted("environments-300", EXHAUSTION, (i.Write("topics.yaml", i.many_environments(300, comments_kb=300)),),
             says=("OK for env299",), timeout=TIMEOUT / 2, slow=True),
    Case("deep-flow-sequence", EXHAUSTION,
         (i.Edit('    description: "Trade execution events"', "    description: " + i.deep_flow(5000)),),
         line=ANY_LINE, says=(r"nest|deep",)),
    Case("deep-flow-mapping", EXHAUSTION,
         (i.Edit('    description: "Trade execution events"', "    description: " + i.deep_flow_mapping(5000)),),
         line=ANY_LINE, says=(r"nest|deep",)),
    Case("deep-block-sequence", EXHAUSTION,
         (i.Edit('    description: "Trade execution events"', "    description:\n      " + "- " * 3000 + "x"),),
         line=ANY_LINE, says=(r"nest|deep",)),
    Case("deep-stack-file", EXHAUSTION, (i.stack_file(i.STACK_OK + "  k2:deep: " + i.deep_flow(5000) + "\n"),),
         command=DEV, file="Pulumi.dev.yaml", line=ANY_LINE, says=(r"nest|deep",)),
    Case("schema-deep-json", EXHAUSTION, (i.Write("schemas/deep.avsc", i.deep_avro(20_000)),
                                          i.crypto_schema("deep.avsc")),
         file="schemas/deep.avsc", says=(r"nest|deep",)),
    # Valid Avro, if deep: accepted, or refused with a located message.
    Case("schema-deep-700", EXHAUSTION, (i.Write("schemas/deep.avsc", i.deep_avro(700)),
                                         i.crypto_schema("deep.avsc")), exit=(0, 1), file="schemas/deep.avsc"),
    Case("schema-2mb", EXHAUSTION, (i.Write("schemas/big.avsc", i.trade_schema(doc="x" * 2_000_000)),
                                    i.crypto_schema("big.avsc")), exit=(0, 1), file="schemas/big.avsc"),
    Case("many-small-aliases", EXHAUSTION,
         (i.Edit('    description: "Trade execution events"\n',
                 "    description: &d Trades\n" + "    x-copies:\n" + "      - *d\n" * 20_000),),
         exit=(1,), line=ANY_LINE),
]

TRACEBACK_CASES = [
    Case("topics-non-utf8", TRACEBACK, (i.Edit('name: "Binance"', b'name: "Binanc\xe9"'),),
         line=('name: "Binanc',), says=("UTF-8",)),
    Case("topics-utf16", TRACEBACK, (i.Write("topics.yaml", i.SHIPPED.encode("utf-16")),), line=ANY_LINE,
         says=("UTF-8",)),
    Case("schema-non-utf8", TRACEBACK,
         (i.Write("schemas/latin1.avsc", i.trade_schema(doc="Caf\u00e9").encode().replace("\u00e9".encode(), b"\xe9")),
          i.crypto_schema("latin1.avsc")), file="schemas/latin1.avsc", line=('"Caf',), says=("UTF-8",)),
    Case("stack-file-non-utf8", TRACEBACK, (i.stack_file(i.STACK_OK.encode() + b"  k2:note: caf\xe9\n"),),
         command=DEV, file="Pulumi.dev.yaml", line=("k2:note",), says=("UTF-8",)),
    Case("topics-nul-byte", TRACEBACK, (i.Edit('name: "Binance"', 'name: "Bin\x00ance"'),),
         line=('name: "Bin',), says=(r"NUL|\\x00|\\0|character|byte",)),
    Case("schema-nul-byte", TRACEBACK,
         (i.Write("schemas/nul.avsc", i.trade_schema(doc="nul\x00here").replace("\\u0000", "\x00")),
          i.crypto_schema("nul.avsc")), file="schemas/nul.avsc", line=('"nul',),
         says=(r"NUL|\\x00|\\0|character|byte",)),
    Case("stack-file-nul-byte", TRACEBACK, (i.stack_file(i.STACK_OK + "  k2:note: a\x00b\n"),), command=DEV,
         file="Pulumi.dev.yaml", line=("k2:note",), says=(r"NUL|\\x00|\\0|character|byte",)),
    Case("subject-pattern-format-spec", TRACEBACK, (i.subject_pattern("market.{asset_class:x}.{data_type}-value"),),
         line=("subject_pattern:",), key=r"schema_registry\.subject_pattern", says=(r"format|spec|placeholder",)),
    Case("subject-pattern-conversion", TRACEBACK,
         (i.subject_pattern("market.{asset_class!r}.{data_type}-value"),), command=("topology", "--stack", "dev"),
         line=("subject_pattern:",), key=r"schema_registry\.subject_pattern",
         says=(r"conversion|format|placeholder",)),
    Case("subject-pattern-attribute", TRACEBACK,
         (i.subject_pattern("market.{asset_class.__class__}.{data_type}-value"),), line=("subject_pattern:",),
         key=r"schema_registry\.subject_pattern", says=(r"placeholder|format",)),
    Case("subject-pattern-unbalanced", TRACEBACK, (i.subject_pattern("market.{asset_class.{data_type}-value"),),
         line=("subject_pattern:",), key=r"schema_registry\.subject_pattern", says=(r"pattern|placeholder",)),
    Case("legacy-key-format-spec", TRACEBACK,
         (i.Edit('  market.trades.raw:\n    data_type: trades\n    key: "{exchange}.{symbol}"',
                 '  market.trades.raw:\n    data_type: trades\n    key: "{exchange:>9}.{symbol}"'),),
         line=('key: "{exchange:>9}',), key=r"legacy_topics\.market\.trades\.raw\.key", says=(r"format|spec",)),
]

OUTSIDE_SECRET = "@OUTSIDE@/credentials.avsc"
OUTSIDE_CASES = [
    Case("schema-etc-passwd", OUTSIDE, (i.crypto_schema("../../../../../../../../etc/passwd"),),
         line=("schemas: {trades:",), key=r"asset_classes\.crypto\.schemas\.trades", says=("outside",),
         never=("root:x:0:0",)),
    Case("schema-relative-outside", OUTSIDE, (i.Write(OUTSIDE_SECRET, PRIVATE),
                                              i.crypto_schema("../../outside/credentials.avsc")),
         line=("schemas: {trades:",), key=r"asset_classes\.crypto\.schemas\.trades", says=("outside",),
         never=(SECRET_MARKER,)),
    Case("schema-absolute-path", OUTSIDE, (i.Copy("schemas/trade.avsc", "@OUTSIDE@/trade.avsc"),
                                           i.crypto_schema("@OUTSIDE@/trade.avsc")),
         line=("schemas: {trades:",), key=r"asset_classes\.crypto\.schemas\.trades", says=("outside",)),
    Case("schema-symlink-outside", OUTSIDE, (i.Copy("schemas/trade.avsc", "@OUTSIDE@/trade.avsc"),
                                             i.Symlink("schemas/vendor.avsc", "@OUTSIDE@/trade.avsc"),
                                             i.crypto_schema("vendor.avsc")),
         line=("schemas: {trades:",), key=r"asset_classes\.crypto\.schemas\.trades", says=("outside",)),
    Case("shared-schema-symlink-outside", OUTSIDE, (i.Copy("schemas/quote.avsc", "@OUTSIDE@/quote.avsc"),
                                                    i.Symlink("schemas/quote.avsc", "@OUTSIDE@/quote.avsc")),
         line=('schema_name: "quote"',), key=r"data_types\.quotes\.schema_name", says=("outside",)),
    Case("schema-directory-symlink-outside", OUTSIDE, (i.Copy("schemas/trade.avsc", "@OUTSIDE@/lib/trade.avsc"),
                                                       i.Symlink("schemas/lib", "@OUTSIDE@/lib"),
                                                       i.crypto_schema("lib/trade.avsc")),
         line=("schemas: {trades:",), key=r"asset_classes\.crypto\.schemas\.trades", says=("outside",)),
    Case("schema-name-traversal", OUTSIDE, (i.Copy("schemas/trade.avsc", "@OUTSIDE@/trade.avsc"),
                                            i.Edit('schema_name: "trade"', 'schema_name: "../../outside/trade"')),
         line=('schema_name: "../../outside/trade"',), key=r"data_types\.trades\.schema_name", says=("outside",)),
    Case("schema-is-a-directory", OUTSIDE, (i.crypto_schema("."),), file="schemas",
         says=(r"regular file|directory",)),
    Case("topics-is-a-directory", OUTSIDE, (i.Directory("topics.yaml"),),
         says=(r"regular file|directory",)),
    Case("topics-missing", OUTSIDE, (i.Remove("topics.yaml"),), says=(r"no such|not found|cannot read",)),
    accepted("schema-symlink-inside", OUTSIDE, (i.Symlink("schemas/alias.avsc", "trade.avsc"),
                                                i.crypto_schema("alias.avsc"))),
    accepted("schema-in-a-subdirectory", OUTSIDE, (i.Copy("schemas/trade.avsc", "schemas/crypto/trade.avsc"),
                                                   i.crypto_schema("crypto/trade.avsc"))),
]

VALUES_CASES = [
    Case("partitions-10e30", VALUES, (i.Edit("partitions: 40", f"partitions: {10**30}"),),
         line=(f"partitions: {10**30}",), key=r"binance\.partitions", says=(r"range|at most|large|maximum|limit",)),
    Case("partitions-2-31", VALUES, (i.Edit("partitions: 40", f"partitions: {2**31}"),),
         line=(f"partitions: {2**31}",), key=r"binance\.partitions", says=(r"range|at most|large|maximum|limit",)),
    Case("override-partitions-10e30", VALUES,
         (i.Edit("        symbols: 2000\n", f"        symbols: 2000\n        overrides:\n          trades: "
                                           f"{{partitions: {10**30}}}\n"),),
         line=(f"{{partitions: {10**30}}}",), key=r"overrides\.trades\.partitions",
         says=(r"range|at most|large|maximum|limit",)),
    Case("replication-factor-10e30", VALUES,
         (i.Edit("  dev:\n    replication_factor: 1", f"  dev:\n    replication_factor: {10**30}"),),
         line=(f"replication_factor: {10**30}",), key=r"environments\.dev\.replication_factor",
         says=(r"range|at most|large|maximum|limit",)),
    Case("partitions-infinite", VALUES, (i.Edit("partitions: 40", "partitions: .inf"),), line=("partitions: .inf",),
         key=r"binance\.partitions", says=("whole number",)),
    Case("retention-99999999999999w", VALUES, (i.trades_retention('"99999999999999w"'),),
         line=('retention.ms: "99999999999999w"',), key=r"data_types\.trades\.config\.retention\.ms",
         says=(r"range|at most|long|9223372036854775807|large",)),
    Case("retention-10e30", VALUES, (i.trades_retention(str(10**30)),), line=(f"retention.ms: {10**30}",),
         key=r"data_types\.trades\.config\.retention\.ms", says=(r"range|at most|long|9223372036854775807|large",)),
    accepted("retention-largest-long", VALUES, (i.trades_retention(str(2**63 - 1)),)),
    Case("retention-minus-2", VALUES, (i.trades_retention("-2"),), line=("retention.ms: -2",),
         key=r"data_types\.trades\.config\.retention\.ms", says=(r"-1",)),
    Case("segment-bytes-2-31", VALUES, (i.trades_config("segment.bytes", str(2**31)),),
         line=(f"segment.bytes: {2**31}",), key=r"data_types\.trades\.config\.segment\.bytes",
         says=(r"range|at most|2147483647|large",)),
    accepted("segment-bytes-largest-int", VALUES, (i.trades_config("segment.bytes", str(2**31 - 1)),)),
    Case("max-message-bytes-2-31", VALUES, (i.trades_config("max.message.bytes", str(2**31)),),
         line=(f"max.message.bytes: {2**31}",), key=r"data_types\.trades\.config\.max\.message\.bytes",
         says=(r"range|at most|2147483647|large",)),
    Case("dirty-ratio-nan", VALUES, (i.trades_config("min.cleanable.dirty.ratio", ".nan"),),
         line=("min.cleanable.dirty.ratio: .nan",), key=r"config\.min\.cleanable\.dirty\.ratio",
         says=(r"between 0 and 1|range",)),
    Case("dirty-ratio-infinite", VALUES, (i.trades_config("min.cleanable.dirty.ratio", ".inf"),),
         line=("min.cleanable.dirty.ratio: .inf",), key=r"config\.min\.cleanable\.dirty\.ratio",
         says=(r"between 0 and 1|range",)),
    Case("segment-bytes-boolean", VALUES, (i.trades_config("segment.bytes", "true"),), line=("segment.bytes: true",),
         key=r"config\.segment\.bytes", says=("whole number",)),
    # prod's min_insync_replicas (2) would replace it: refused, or said as a located warning, never silent.
    Case("min-insync-in-config-overridden", VALUES, (i.trades_config("min.insync.replicas", "3"),), exit=(0, 1),
         line=("min.insync.replicas: 3",), key=r"data_types\.trades\.config\.min\.insync\.replicas",
         says=(r"min_insync_replicas|environment|overrid",), located_when_accepted=True),
    Case("min-insync-in-exchange-override", VALUES,
         (i.Edit("        symbols: 2000\n", "        symbols: 2000\n        overrides:\n          trades: "
                                           "{config: {min.insync.replicas: 1}}\n"),),
         exit=(0, 1), line=("min.insync.replicas: 1}",), key=r"overrides\.trades\.config\.min\.insync\.replicas",
         says=(r"min_insync_replicas|environment|overrid",), located_when_accepted=True),
    Case("monitoring-imbalance-infinite", VALUES, (i.monitoring("  partition_imbalance: {above: .inf}\n"),),
         command=("monitor", "rules", "--stack", "prod"), line=("partition_imbalance:",),
         key=r"monitoring\.partition_imbalance\.above", says=(r"finite|range|number|inf",)),
]

ACK = r"acknowledged_data_loss\.\[?0\]?"
ACKNOWLEDGEMENT_CASES = [
    Case("acknowledge-every-topic", ACKNOWLEDGEMENT, (i.acknowledgement(["*"]),), line=('- topics: ["*"]',),
         key=rf"{ACK}\.topics", says=(r"pattern|wide|exact",)),
    Case("acknowledge-every-market-topic", ACKNOWLEDGEMENT, (i.acknowledgement(["market.*"]),),
         line=('- topics: ["market.*"]',), key=rf"{ACK}\.topics", says=(r"pattern|wide|exact",)),
    Case("acknowledge-a-whole-asset-class", ACKNOWLEDGEMENT, (i.acknowledgement(["market.crypto.*"]),),
         line=('- topics: ["market.crypto.*"]',), key=rf"{ACK}\.topics", says=(r"pattern|wide|exact",)),
    Case("acknowledge-a-character-class", ACKNOWLEDGEMENT, (i.acknowledgement(["market.[a-z]*"]),),
         line=('- topics: ["market.[a-z]*"]',), key=rf"{ACK}\.topics", says=(r"pattern|wide|exact",)),
    Case("acknowledge-retention-1ms", ACKNOWLEDGEMENT, (i.acknowledgement(["market.crypto.trades.binance"], "1ms"),),
         line=("    to: 1ms",), key=rf"{ACK}\.to", says=(r"minimum|at least|retention",)),
    Case("acknowledge-retention-0", ACKNOWLEDGEMENT, (i.acknowledgement(["market.crypto.trades.binance"], "0"),),
         line=("    to: 0",), key=rf"{ACK}\.to", says=(r"minimum|at least|retention",)),
    Case("acknowledge-reason-dot", ACKNOWLEDGEMENT,
         (i.acknowledgement(["market.crypto.trades.binance"], reason="."),), line=('reason: "."',),
         key=rf"{ACK}\.reason", says=("reason",)),
    Case("acknowledge-reason-punctuation", ACKNOWLEDGEMENT,
         (i.acknowledgement(["market.crypto.trades.binance"], reason="!!! ???"),), line=('reason: "!!! ???"',),
         key=rf"{ACK}\.reason", says=("reason",)),
    Case("acknowledge-reason-blank", ACKNOWLEDGEMENT,
         (i.acknowledgement(["market.crypto.trades.binance"], reason="   "),), line=('reason: "   "',),
         key=rf"{ACK}\.reason", says=("reason",)),
    accepted("acknowledge-one-topic", ACKNOWLEDGEMENT,
             (i.acknowledgement(["market.crypto.trades.binance"], "3d", "K2-142: binance trades are in the lake"),)),
    accepted("acknowledge-one-data-type", ACKNOWLEDGEMENT, (i.acknowledgement(["market.*.trades.*"]),)),
]

SECRET_CASES = [
    # Valid JSON, not valid Avro: the parser's message quotes the type it could not read.
    Case("schema-error-echoes-a-secret", SECRET,
         (i.Write("schemas/leak.avsc", i.trade_schema({"name": "k", "type": {"type": "opaque", "doc": PRIVATE}})),
          i.crypto_schema("leak.avsc")), file="schemas/leak.avsc", says=(r"Avro|schema",), never=(SECRET_MARKER,)),
    Case("schema-error-echoes-a-default", SECRET,
         (i.Write("schemas/leak.avsc", i.trade_schema({"name": "k", "type": "int", "default": PRIVATE})),
          i.crypto_schema("leak.avsc")), file="schemas/leak.avsc", says=(r"Avro|schema",), never=(SECRET_MARKER,)),
    Case("schema-symlink-to-a-private-file", SECRET,
         (i.Write(OUTSIDE_SECRET, PRIVATE), i.Symlink("schemas/creds.avsc", OUTSIDE_SECRET),
          i.crypto_schema("creds.avsc")),
         line=("schemas: {trades:",), key=r"asset_classes\.crypto\.schemas\.trades", says=("outside",),
         never=(SECRET_MARKER,)),
    Case("schema-not-json-with-a-secret", SECRET, (i.Write("schemas/leak.avsc", PRIVATE),
                                                    i.crypto_schema("leak.avsc")),
         file="schemas/leak.avsc", line=ANY_LINE, says=("JSON",), never=(SECRET_MARKER,)),
    Case("stack-file-syntax-error-with-a-secret", SECRET,
         (i.stack_file(i.STACK_OK + "  k2:saslUsername: " + "s" * 3000 + SECRET_MARKER + " [\n  ]: x\n"),),
         command=DEV, file="Pulumi.dev.yaml", line=ANY_LINE, says=("YAML",), never=(SECRET_MARKER,)),
]

YAML_CASES = [
    Case("python-object-tag", YAML,
         (i.Edit('    description: "Trade execution events"',
                 '    description: !!python/object/apply:os.system ["touch @OUTSIDE@/pwned"]'),),
         line=("!!python/object",), key=r"data_types\.trades\.description", not_created="@OUTSIDE@/pwned"),
    Case("python-name-tag", YAML,
         (i.Edit('    description: "Trade execution events"', "    description: !!python/name:os.system ''"),),
         line=("!!python/name",), key=r"data_types\.trades\.description"),
    Case("stack-file-python-tag", YAML,
         (i.stack_file(i.STACK_OK + '  k2:note: !!python/object/apply:os.system ["touch @OUTSIDE@/pwned"]\n'),),
         command=DEV, file="Pulumi.dev.yaml", line=ANY_LINE, not_created="@OUTSIDE@/pwned"),
    # Under YAML 1.1, NO is false: refused where it is read so (a country must be text), or read as the text NO.
    Case("yaml-1.1-norway", YAML,
         (i.Write("topics.yaml", "%YAML 1.1\n---\n" + i.SHIPPED.replace('country: "MT"', "country: NO")),),
         exit=(0, 1), line=("country: NO", "%YAML"), key=r"binance\.country|YAML"),
    accepted("country-no-is-norway", YAML, (i.Edit('country: "MT"', "country: NO"),)),
    accepted("exchange-code-no", YAML, (i.exchange("no", asset_class="equities"),), command=("topology", "--json"),
             says=(r'"market\.equities\.trades\.no"',)),
    accepted("exchange-code-on", YAML, (i.exchange("on"),), command=("topology", "--json"),
             says=(r'"market\.crypto\.quotes\.on"',)),
    Case("merge-key", YAML,
         (i.Edit('    config:\n      compression.type: "lz4"\n      retention.ms: "604800000"   # 7 days\n'
                 '      cleanup.policy: "delete"\n\n  quotes:',
                 '    config: &base\n      compression.type: "lz4"\n      retention.ms: "604800000"\n'
                 '      cleanup.policy: "delete"\n\n  quotes:'),
          i.Edit('    config:\n      compression.type: "lz4"\n      retention.ms: "604800000"   # 7 days\n'
                 '      cleanup.policy: "delete"\n',
                 "    config:\n      <<: *base\n")),
         exit=(0, 1), line=ANY_LINE, says=(r"OK for|alias|anchor|merge",)),
    Case("tab-indentation", YAML, (i.Edit("        partitions: 40", "\tpartitions: 40"),), line=ANY_LINE,
         says=(r"tab|syntax",)),
    accepted("tab-in-a-value", YAML, (i.Edit('name: "Binance"', 'name: "Binance\tspot"'),)),
    accepted("crlf-line-endings", YAML, (i.Write("topics.yaml", i.crlf),)),
    accepted("byte-order-mark", YAML, (i.Write("topics.yaml", "\ufeff" + i.SHIPPED),)),
    accepted("unicode-description", YAML,
             (i.Edit('"Cryptocurrency spot and derivatives markets"', '"Marchés crypto — 東京, Zürich 📈"'),)),
    accepted("comments-everywhere", YAML,
             (i.Write("topics.yaml", "\n".join(f"{line}  # c" if line.strip() and not line.startswith("#")
                                               and '"' not in line and "{" not in line else line
                                               for line in i.SHIPPED.splitlines()) + "\n# the end\n"),)),
    Case("top-level-list", YAML, (i.Write("topics.yaml", "- asset_classes\n- data_types\n"),), says=("mapping",)),
    Case("empty-file", YAML, (i.Write("topics.yaml", ""),), says=("mapping",)),
    Case("list-for-a-mapping", YAML,
         (i.Edit("    exchanges:\n      binance:\n", "    exchanges: [binance]\n    x-old:\n      binance:\n"),),
         line=("exchanges: [binance]",), key=r"asset_classes\.crypto\.exchanges", says=("mapping",)),
    Case("stack-file-a-list", YAML, (i.stack_file("- config\n- k2:environment\n"),), command=DEV,
         file="Pulumi.dev.yaml", says=("mapping",)),
    Case("stack-environment-unknown", YAML, (i.stack_file("config:\n  k2:environment: staging\n"),),
         command=DEV, line=("environments:",), key="environments", says=("staging",)),
    accepted("stack-file-ok", YAML, (i.stack_file("# dev, commented\n" + i.STACK_OK),), command=DEV,
             says=("OK for dev",)),
]

SHIPPED_CASES = [
    accepted("shipped-validate", YAML, ()),
    accepted("shipped-validate-prod", YAML, (), command=PROD, says=("OK for prod",)),
    accepted("shipped-topology-json", YAML, (), command=("topology", "--stack", "prod", "--json"),
             says=(r'"market\.crypto\.trades\.binance"',)),
    accepted("shipped-acl-prod", YAML, (), command=("acl", "--stack", "prod"), says=("User:iceberg-writer",)),
    accepted("shipped-monitor-rules-prod", YAML, (), command=("monitor", "rules", "--stack", "prod"),
             says=("groups:",)),
    accepted("shipped-monitor-dashboard", YAML, (), command=("monitor", "dashboard", "--stack", "dev"),
             says=('"panels"',)),
]

CASES: list[Case] = [*NAMESPACE_CASES, *NAMES_CASES, *EXHAUSTION_CASES, *TRACEBACK_CASES, *OUTSIDE_CASES,
                     *VALUES_CASES, *ACKNOWLEDGEMENT_CASES, *SECRET_CASES, *YAML_CASES, *SHIPPED_CASES]
