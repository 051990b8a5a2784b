"""The stack outputs: what `pulumi stack output --json` holds for a K2 stack, defined once.

The program builds its exports from these models and the app helpers validate with them. Keys a
later program adds are ignored (apps outlive stacks); `outputs_version` tells a compatible future
shape (same major, e.g. 1.4) from an incompatible one (2.0), which is refused with what to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

OUTPUTS_VERSION = "1.2"  # major.minor: a minor bump only adds keys (1.1: retained_subjects; 1.2: regions)
# A stack publishes the oldest version whose keys it uses: one without regions keeps 1.1's outputs to the letter, so
# an upgrade of K2 changes nothing in its preview or in what its apps read.
REGIONLESS_VERSION = "1.1"
REGION_KEYS = ("region", "replication")
HINT = "expected the JSON that `pulumi stack output --json` prints for a K2 stack"

Text = Annotated[StrictStr, Field(min_length=1)]
Count = Annotated[StrictInt, Field(ge=0)]


class StackOutputsError(ValueError):
    """The outputs are missing, malformed or of an incompatible version; the message lists every problem."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class TopicInfo(_Record):
    name: Text
    asset_class: Text
    data_type: Text
    exchange: Text
    partitions: Count
    replication_factor: Count | None = None
    # Since 1.2, with regions: where the exchange's feed is produced; mirrored: this region's copy of it.
    home_region: Text | None = None
    mirrored: bool | None = None


class FlowInfo(_Record):
    """A MirrorMaker 2 flow into the stack's region (since 1.2): the exact topics it copies from `source`."""

    source: Text
    target: Text
    topics: tuple[Text, ...] = ()
    source_bootstrap_servers: Text | None = None  # the home region's cluster, from its stack's outputs


class SubjectInfo(_Record):
    subject: Text
    asset_class: Text
    data_type: Text
    partition_key: Text = "symbol"
    # The registered schema the stack deployed; None (topology-only source) means the latest version.
    schema_id: Count | None = None
    version: Count | None = None
    compatibility: Text | None = None
    topics: tuple[Text, ...] = ()
    schema_file: Text | None = None
    schema_text: Text | None = Field(default=None, alias="schema")  # the Avro schema as registered (JSON text)

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, serialize_by_alias=True)


class ExchangeInfo(_Record):
    code: Text
    asset_class: Text
    name: Text | None = None
    country: Text | None = None
    timezone: Text | None = None
    symbols: Count | None = None
    messages_per_second: Count | None = None


# Outputs an app cannot work without when they come from a deployed stack.
CLUSTER_KEYS = ("bootstrap_servers", "schema_registry_url")


class StackOutputs(_Record):
    """A K2 stack's outputs. bootstrap_servers and schema_registry_url are None only for a view
    derived from topics.yaml alone (no cluster); a deployed stack's JSON must have both."""

    outputs_version: Text = OUTPUTS_VERSION
    stack: Text | None = None
    environment: Text | None = None
    bootstrap_servers: Text | None = Field(default=None, validate_default=True)
    schema_registry_url: Text | None = Field(default=None, validate_default=True)
    security_protocol: Text = "PLAINTEXT"
    sasl_mechanism: Text | None = None  # never a password: apps take credentials from their own store
    topics: tuple[TopicInfo, ...]
    subjects: tuple[SubjectInfo, ...]
    exchanges: tuple[ExchangeInfo, ...] = ()
    # The stack's ownership record: topics kept after leaving topics.yaml, and everything it manages.
    retained_topics: tuple[Text, ...] = ()
    managed_topics: tuple[Text, ...] = ()
    retained_subjects: tuple[Text, ...] = ()  # since 1.1: kept while retained topics use them
    region: Text | None = None  # since 1.2: the stack's region (topics.yaml regions:, k2:region)
    replication: tuple[FlowInfo, ...] = ()  # since 1.2: the flows into the region
    _source: str = PrivateAttr(default="stack outputs")

    @property
    def source(self) -> str:
        """Where these outputs came from, for error messages."""
        return self._source

    @field_validator("outputs_version")
    @classmethod
    def _version(cls, value: str) -> str:
        major = value.split(".", 1)[0]
        if major != OUTPUTS_VERSION.split(".", 1)[0]:
            raise PydanticCustomError(
                "outputs_version", "is {value}, which this k2infra cannot read (it reads {ours}.x): use the "
                "k2infra release that matches the stack", {"value": value, "ours": major_of(OUTPUTS_VERSION)})
        return value

    @field_validator(*CLUSTER_KEYS, mode="before")
    @classmethod
    def _cluster(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and (info.context or {}).get("deployed"):
            raise PydanticCustomError("missing", "is missing")
        return value

    @classmethod
    def parse(cls, data: object, source: str) -> StackOutputs:
        """A deployed stack's outputs (the parsed JSON); StackOutputsError lists every problem."""
        if not isinstance(data, Mapping):
            raise StackOutputsError(f"{source}: not a JSON object but {type(data).__name__}; {HINT}")
        if not data:
            raise StackOutputsError(f"{source}: no outputs at all: has the stack been deployed (`pulumi up`)?")
        try:
            outputs = cls.model_validate(data, context={"deployed": True})
        except ValidationError as err:
            problems = "; ".join(_problem(e) for e in err.errors())
            raise StackOutputsError(f"{source}: {problems} ({HINT})") from None
        if not outputs.exchanges:  # older stacks: the exchanges are implied by the topics
            codes = dict.fromkeys((t.exchange, t.asset_class) for t in outputs.topics)
            outputs = outputs.model_copy(update={"exchanges": tuple(ExchangeInfo(code=c, asset_class=a)
                                                                    for c, a in codes)})
        return outputs.from_source(source)

    def from_source(self, source: str) -> StackOutputs:
        self._source = source
        return self

    def with_cluster(self, bootstrap_servers: str, schema_registry_url: str) -> StackOutputs:
        """The same topology on a given cluster: for tools and tests that have topics.yaml but no stack."""
        copy = self.model_copy(update={"bootstrap_servers": bootstrap_servers,
                                       "schema_registry_url": schema_registry_url})
        return copy.from_source(self.source)

    def require_cluster(self) -> tuple[str, str]:
        """(bootstrap servers, registry URL), or an error naming what is missing from the source."""
        if self.bootstrap_servers and self.schema_registry_url:
            return self.bootstrap_servers, self.schema_registry_url
        missing = [k for k in CLUSTER_KEYS if not getattr(self, k)]
        raise StackOutputsError(
            f"{self.source}: no {' and no '.join(missing)}: producers and consumers need the stack "
            "outputs of a deployed stack (set K2_STACK_OUTPUTS or pass source=...), or "
            "outputs.with_cluster(bootstrap_servers, schema_registry_url)")

    def to_json_data(self) -> dict[str, Any]:
        """The outputs as the program exports them (records omit absent values)."""
        data = self.model_dump(mode="json", by_alias=True, exclude={"topics", "subjects", "exchanges"})
        for key in ("topics", "subjects", "exchanges"):
            data[key] = [record_json(r) for r in getattr(self, key)]
        if not any(data.get(key) for key in REGION_KEYS):
            for key in REGION_KEYS:
                data.pop(key, None)
            if data.get("outputs_version") == OUTPUTS_VERSION:
                data["outputs_version"] = REGIONLESS_VERSION
        return data


def record_json(record: BaseModel) -> dict[str, Any]:
    """One topic, subject or exchange as JSON data, without the values it does not have."""
    return record.model_dump(mode="json", by_alias=True, exclude_none=True)


def major_of(version: str) -> str:
    return version.split(".", 1)[0]


_MESSAGES = {
    "int_type": "must be a whole number", "int_parsing": "must be a whole number",
    "greater_than_equal": "must be a whole number",
    "string_type": "must be non-empty text", "string_too_short": "must be non-empty text",
    "list_type": "must be a list", "tuple_type": "must be a list",
    "model_type": "must be an object", "model_attributes_type": "must be an object", "dict_type": "must be an object",
}


def _problem(error: Any) -> str:
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"]).lstrip(".")
    kind = error["type"]
    if kind == "missing":
        return f"{where} is missing"
    message = _MESSAGES.get(kind)
    if message is None:
        return f"{where} {error['msg']}"
    return f"{where} {message}, got {error.get('input')!r}"
