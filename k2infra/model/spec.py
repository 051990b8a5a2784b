"""The shape of topics.yaml, as pydantic models.

These models check types and spelling only; cross-references (a data type named in an override,
a schema file on disk) are checked in derive.py and checks.py, where the whole file is in view.
"""

from __future__ import annotations

import zoneinfo
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, field_validator

from k2infra.contracts.naming import SUBJECT_PATTERN, Compatibility
from k2infra.model.kafka_configs import INT_MAX
from k2infra.model.monitoring_spec import MonitoringSpec

# Kafka counts partitions and in-sync replicas in INTs (so K2 its volumes too), a replication factor in an INT16.
Count = Annotated[StrictInt, Field(ge=1, le=INT_MAX)]
Replicas = Annotated[StrictInt, Field(ge=1, le=2**15 - 1)]
ConfigValue = StrictStr | StrictInt | StrictBool | float
TopicConfig = dict[StrictStr, ConfigValue]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataTypeOverride(_Spec):
    """One exchange's departure from a data type's defaults (the design's NYSE with 1-hour retention)."""

    partitions: Count | None = None
    config: TopicConfig = {}


class ExchangeSpec(_Spec):
    name: StrictStr
    partitions: Count
    country: StrictStr | None = None
    timezone: StrictStr | None = None
    trading_hours: StrictStr | None = None
    description: StrictStr | None = None
    # Volume figures feed the advisory partition-sizing policies; they change no resource.
    symbols: Count | None = None
    messages_per_second: Count | None = None
    overrides: dict[StrictStr, DataTypeOverride] = {}

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is not None and not (len(value) == 2 and value.isalpha() and value.isupper()):
            raise ValueError("must be a two-letter upper-case ISO 3166 country code, such as AU or US")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                zoneinfo.ZoneInfo(value)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown IANA time zone {value!r} (e.g. Australia/Sydney, UTC)") from None
        return value


class AssetClassSpec(_Spec):
    description: StrictStr | None = None
    exchanges: dict[StrictStr, ExchangeSpec] = {}
    # Data type -> .avsc file (under schemas/) when this asset class needs its own schema.
    schemas: dict[StrictStr, StrictStr] = {}


class DataTypeSpec(_Spec):
    description: StrictStr | None = None
    partition_key: StrictStr = "symbol"
    schema_name: StrictStr
    # A fixed partition count for every exchange (reference data: 1); else the exchange's count.
    partitions: Count | None = None
    config: TopicConfig = {}


class DefaultsSpec(_Spec):
    replication_factor: Replicas = 1
    min_insync_replicas: Count = 1


class QuotaSpec(_Spec):
    """Kafka client quotas for an app's user (k2infra/model/quotas.py): rates such as 10MB/s, a request share."""

    produce: StrictStr | None = None
    fetch: StrictStr | None = None
    request_percentage: StrictInt | StrictFloat | None = None


class EnvironmentSpec(_Spec):
    replication_factor: Replicas | None = None
    min_insync_replicas: Count | None = None
    # Caps every topic's partitions, e.g. to keep a laptop's broker small.
    max_partitions: Count | None = None
    # Protected environments never delete a topic, even one listed for decommissioning.
    protected: StrictBool = False
    # Kafka ACLs for the apps (needs an authorizer on the brokers; a plain dev cluster has none).
    access_control: StrictBool = False
    # Each app's SCRAM user, its password generated and kept as a secret (k2infra/model/users.py). Unset: as
    # access_control, since brokers that enforce ACLs authenticate every client, and a cluster without them
    # (a plain dev broker) has no SASL users to manage.
    manage_users: StrictBool | None = None
    # Topics and subjects (full names) that may be deleted because their exchange, asset class or data
    # type was removed. A subject is deleted only once no topic uses it, and only softly.
    decommission: list[StrictStr] = []
    # The apps' default quotas here; an app's own quota wins key by key.
    quotas: QuotaSpec | None = None


class SchemaRegistrySpec(_Spec):
    compatibility: Compatibility = "BACKWARD"
    subject_pattern: StrictStr = SUBJECT_PATTERN


class SubscriptionSpec(_Spec):
    """The design's subscription patterns: one exchange (asset_class + one exchange), an asset class, a data
    type, a filtered set (asset_class with data_types and/or exchanges), or an explicit list of topics."""

    asset_class: StrictStr | None = None
    data_types: list[StrictStr] | None = None
    exchanges: list[StrictStr] | None = None
    topics: list[StrictStr] | None = None


class AppSpec(_Spec):
    """An app that reaches the market data, and exactly what it may do there."""

    principal: StrictStr  # as the brokers authenticate it, e.g. User:iceberg-writer
    description: StrictStr | None = None
    data_types: list[StrictStr] = []  # what it produces: its produce grants may not go beyond them
    produces: list[SubscriptionSpec] = []
    consumes: list[SubscriptionSpec] = []
    group: StrictStr | None = None  # its consumer group (default: the app's name)
    transactional_id: StrictStr | None = None  # for exactly-once producers (e.g. the legacy migration)
    quota: QuotaSpec | None = None  # what Kafka holds its user to (k2infra/model/quotas.py)


class DataLossAcknowledgement(_Spec):
    """A reviewed change that loses data or breaks writers (e.g. a retention cut), allowed on purpose."""

    topics: Annotated[list[StrictStr], Field(min_length=1)]  # names or patterns such as market.*.trades.*
    change: StrictStr  # the topic config key, e.g. retention.ms
    to: ConfigValue  # the new value being acknowledged, e.g. 1h
    reason: Annotated[StrictStr, Field(min_length=1)]


LegacyValue = StrictStr | StrictInt | StrictBool | float | list[StrictStr] | None


class LegacyTopicSpec(_Spec):
    """A flat topic from before the exchange topics (market.trades.raw...), which `k2 migrate` copies from.

    Not an exchange topic: no stack creates, retains or deletes it, except through
    environments.<env>.decommission. Checked against the shared schemas in k2infra/model/legacy.py.
    """

    data_type: StrictStr
    # How the legacy key was built from record fields (shared-schema names), e.g. ASX.BHP.
    key: StrictStr = "{exchange}.{symbol}"
    subject: StrictStr | None = None  # the legacy subject; default {topic}-value (the topic-name strategy)
    exchanges: dict[StrictStr, StrictStr] = {}  # legacy exchange value -> asset_class.exchange (default: the code)
    rename: dict[StrictStr, StrictStr] = {}  # legacy field -> shared-schema field
    drop: list[StrictStr] = []  # legacy fields not carried over, on purpose
    values: dict[StrictStr, LegacyValue] = {}  # shared-schema fields the legacy records lack -> their value
    record_timestamp: list[StrictStr] = []  # shared-schema fields filled from the legacy record's timestamp


class RegionSpec(_Spec):
    """A region's cluster and registry (k2infra/model/regions.py): the exchanges homed there, written
    asset_class.exchange, and the regions whose home topics it mirrors."""

    description: StrictStr | None = None
    exchanges: Annotated[list[StrictStr], Field(max_length=10_000)] = []
    aggregates: Annotated[list[StrictStr], Field(max_length=64)] = []
    # Who MirrorMaker logs in as for the flows into this region (default User:k2-mirror-<region>).
    replication_principal: StrictStr | None = None


class TopologySpec(_Spec):
    asset_classes: dict[StrictStr, AssetClassSpec]
    data_types: dict[StrictStr, DataTypeSpec]
    defaults: DefaultsSpec = DefaultsSpec()
    environments: dict[StrictStr, EnvironmentSpec] = {}
    schema_registry: SchemaRegistrySpec = SchemaRegistrySpec()
    acknowledged_data_loss: list[DataLossAcknowledgement] = []
    apps: dict[StrictStr, AppSpec] = {}
    # Alert thresholds per environment and exchange (k2 monitor rules); optional: the design's by default.
    monitoring: MonitoringSpec | None = None
    legacy_topics: dict[StrictStr, LegacyTopicSpec] = {}
    # Regional clusters and which aggregate which (MirrorMaker 2); none: one cluster holds every exchange.
    regions: Annotated[dict[StrictStr, RegionSpec], Field(max_length=64)] = {}

    def protects(self, environment: str) -> bool:
        """Whether the production rules hold for `environment` (the policy pack, `k2 team-backend check`): its
        `protected`, whatever its name. One the file does not declare counts as protected: the program refuses to
        deploy it anyway, and a misspelt or new name (prod-eu) must not be what lets a stack skip the rules."""
        declared = self.environments.get(environment)
        return declared is None or declared.protected
