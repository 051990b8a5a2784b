"""From topics.yaml to the K2 topology: topic names, partitions, configs and schema subjects.

Pure Python, no Pulumi: the Pulumi components, the policies, the `k2` CLI and the app helpers all
derive the same topology from the same file through `load_topology`.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from k2infra.model.errors import Problem, TopologyError
from k2infra.model.kafka_configs import ConfigValueError, normalise_config, suggest
from k2infra.model.schemas import AvroSchema, SchemaFileError, field_line, load_avro
from k2infra.model.source import KeyPath, SourceDoc, load_yaml
from k2infra.model.spec import EnvironmentSpec, TopologySpec

TOPIC_PREFIX = "market"
CODE = re.compile(r"^[a-z][a-z0-9_]*$")
SUBJECT_FIELDS = {"asset_class", "data_type"}


@dataclass(frozen=True)
class Topic:
    name: str
    asset_class: str
    data_type: str
    exchange: str
    partitions: int
    replication_factor: int
    config: Mapping[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "asset_class": self.asset_class,
            "data_type": self.data_type,
            "exchange": self.exchange,
            "partitions": self.partitions,
            "replication_factor": self.replication_factor,
            "config": dict(sorted(self.config.items())),
        }


@dataclass(frozen=True)
class Subject:
    subject: str
    asset_class: str
    data_type: str
    schema_file: str
    schema: str
    compatibility: str
    partition_key: str
    topics: tuple[str, ...]

    def to_dict(self, with_schema: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "subject": self.subject,
            "asset_class": self.asset_class,
            "data_type": self.data_type,
            "schema_file": self.schema_file,
            "compatibility": self.compatibility,
            "partition_key": self.partition_key,
            "topics": list(self.topics),
        }
        if with_schema:
            out["schema"] = self.schema
        return out


@dataclass(frozen=True)
class Exchange:
    code: str
    asset_class: str
    name: str
    country: str | None
    timezone: str | None
    symbols: int | None
    messages_per_second: int | None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Topology:
    environment: str
    source: Path
    topics: tuple[Topic, ...]
    subjects: tuple[Subject, ...]
    exchanges: tuple[Exchange, ...]
    protected: bool = False
    decommission: tuple[str, ...] = ()
    _by_name: dict[str, Topic] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_name.update({t.name: t for t in self.topics})

    def topic(self, name: str) -> Topic:
        return self._by_name[name]

    @property
    def asset_classes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.asset_class for t in self.topics))

    @property
    def data_types(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.data_type for t in self.topics))

    def by_exchange(self) -> dict[tuple[str, str], list[Topic]]:
        """(asset_class, exchange) -> that exchange's topics, in topic-name order."""
        return group_by_exchange(self.topics)

    def to_dict(self, with_schemas: bool = False) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "topics": [t.to_dict() for t in self.topics],
            "subjects": [s.to_dict(with_schemas) for s in self.subjects],
            "exchanges": [e.to_dict() for e in self.exchanges],
        }


def group_by_exchange(topics: Iterable[Topic]) -> dict[tuple[str, str], list[Topic]]:
    """(asset_class, exchange) -> its topics, in the order given."""
    groups: dict[tuple[str, str], list[Topic]] = {}
    for topic in topics:
        groups.setdefault((topic.asset_class, topic.exchange), []).append(topic)
    return groups


def topic_name(asset_class: str, data_type: str, exchange: str) -> str:
    return f"{TOPIC_PREFIX}.{asset_class}.{data_type}.{exchange}"


def load_topology(path: str | Path, environment: str | None = None, schemas_dir: Path | None = None) -> Topology:
    """Parse and check topics.yaml and its schemas; raise TopologyError listing every problem."""
    path = Path(path)
    doc = load_yaml(path)
    spec = parse_spec(doc)
    return derive(spec, doc, environment, schemas_dir or path.parent / "schemas")


def parse_spec(doc: SourceDoc) -> TopologySpec:
    if not isinstance(doc.data, dict):
        raise TopologyError([doc.problem((), "the file must be a mapping with asset_classes and data_types")])
    try:
        return TopologySpec.model_validate(doc.data)
    except ValidationError as err:
        raise TopologyError([_problem_from_pydantic(doc, e) for e in err.errors()]) from None


def _problem_from_pydantic(doc: SourceDoc, error: Any) -> Problem:
    loc: KeyPath = tuple(p for p in error["loc"] if p != "[key]")
    kind, value = error["type"], error.get("input")
    if kind == "extra_forbidden":
        known = _fields_at(TopologySpec, loc[:-1])
        return doc.problem(loc, f"unknown key{suggest(str(loc[-1]), known)}; allowed: {', '.join(known)}")
    if kind == "missing":
        return doc.problem(loc, "required key is missing")
    messages = {
        "int_type": "must be a whole number",
        "string_type": "must be text",
        "bool_type": "must be true or false",
        "dict_type": "must be a mapping of keys to values",
        "list_type": "must be a list",
        "greater_than_equal": "must be 1 or more",
    }
    message = messages.get(kind, error["msg"].removeprefix("Value error, "))
    if value is not None and not isinstance(value, dict | list):
        message += f", got {value!r}"
    return doc.problem(loc, message)


def _fields_at(model: type[BaseModel], loc: KeyPath) -> list[str]:
    """The keys allowed at `loc`, following the spec's annotations through dicts to nested models."""
    annotation: Any = model
    for part in loc:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            annotation = annotation.model_fields[str(part)].annotation
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        annotation = _unwrap_optional(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _unwrap_optional(annotation: Any) -> Any:
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) is not dict and len(args) == 1:
        return args[0]
    return annotation


@dataclass
class _Derivation:
    """One pass over a parsed spec; collects problems instead of stopping at the first."""

    spec: TopologySpec
    doc: SourceDoc
    env_name: str
    env: EnvironmentSpec
    problems: list[Problem] = field(default_factory=list)

    @property
    def replication(self) -> int:
        return self.env.replication_factor or self.spec.defaults.replication_factor

    @property
    def min_isr(self) -> int:
        return self.env.min_insync_replicas or self.spec.defaults.min_insync_replicas

    def topics(self) -> tuple[list[Topic], list[Exchange]]:
        base = {dt: _configs(self.doc, ("data_types", dt, "config"), dts.config, self.problems)
                for dt, dts in self.spec.data_types.items()}
        topics: list[Topic] = []
        exchanges: list[Exchange] = []
        for ac, acs in self.spec.asset_classes.items():
            if not acs.exchanges:
                self.problem(("asset_classes", ac, "exchanges"), "an asset class needs at least one exchange")
            for ex, exs in acs.exchanges.items():
                exchanges.append(Exchange(ex, ac, exs.name, exs.country, exs.timezone, exs.symbols,
                                          exs.messages_per_second))
                self._check_overrides(ac, ex, exs.overrides)
                topics += [self._topic(ac, ex, exs, dt, base[dt]) for dt in self.spec.data_types]
        return topics, exchanges

    def _topic(self, ac: str, ex: str, exs: Any, dt: str, base_config: dict[str, str]) -> Topic:
        dts = self.spec.data_types[dt]
        override = exs.overrides.get(dt)
        partitions = (override and override.partitions) or dts.partitions or exs.partitions
        if self.env.max_partitions:
            partitions = min(partitions, self.env.max_partitions)
        config = dict(base_config)
        if override:
            path = ("asset_classes", ac, "exchanges", ex, "overrides", dt, "config")
            config.update(_configs(self.doc, path, override.config, self.problems))
        config["min.insync.replicas"] = str(self.min_isr)
        return Topic(topic_name(ac, dt, ex), ac, dt, ex, partitions, self.replication, config)

    def _check_overrides(self, ac: str, ex: str, overrides: Mapping[str, Any]) -> None:
        for dt in overrides:
            if dt not in self.spec.data_types:
                self.problem(("asset_classes", ac, "exchanges", ex, "overrides", dt),
                             f"unknown data type{suggest(dt, self.spec.data_types)}; "
                             f"known: {', '.join(self.spec.data_types)}")

    def check_environment(self, topics: list[Topic]) -> None:
        if self.min_isr > self.replication:
            self.problem(("environments", self.env_name), f"min_insync_replicas {self.min_isr} is above "
                         f"replication_factor {self.replication}: producers with acks=all could never write")
        declared = {t.name for t in topics}
        for index, name in enumerate(self.env.decommission):
            if name in declared:
                self.problem(("environments", self.env_name, "decommission", index),
                             f"{name} is still declared in asset_classes; remove it there before listing it "
                             "for decommissioning")

    def problem(self, path: KeyPath, message: str) -> None:
        self.problems.append(self.doc.problem(path, message))


def derive(spec: TopologySpec, doc: SourceDoc, environment: str | None, schemas_dir: Path) -> Topology:
    problems: list[Problem] = []
    env_name, env = _environment(spec, doc, environment, problems)
    run = _Derivation(spec, doc, env_name, env, problems)
    _check_codes(spec, doc, problems)
    _check_registry(spec, doc, problems)
    topics, exchanges = run.topics()
    run.check_environment(topics)
    subjects = list(_subjects(spec, doc, schemas_dir, topics, problems))
    if problems:
        raise TopologyError(problems)
    return Topology(
        environment=env_name,
        source=doc.file,
        topics=tuple(sorted(topics, key=lambda t: t.name)),
        subjects=tuple(sorted(subjects, key=lambda s: s.subject)),
        exchanges=tuple(exchanges),
        protected=env.protected,
        decommission=tuple(env.decommission),
    )


def _environment(spec: TopologySpec, doc: SourceDoc, name: str | None,
                 problems: list[Problem]) -> tuple[str, EnvironmentSpec]:
    if name is None:
        return "default", EnvironmentSpec()
    if name in spec.environments:
        return name, spec.environments[name]
    if spec.environments:
        known = ", ".join(spec.environments)
        problems.append(doc.problem(("environments",), f"no environment {name!r}{suggest(name, spec.environments)}; "
                                    f"known: {known}"))
    return name, EnvironmentSpec()


def _check_codes(spec: TopologySpec, doc: SourceDoc, problems: list[Problem]) -> None:
    def check(path: KeyPath, what: str) -> None:
        code = str(path[-1])
        if not CODE.match(code):
            problems.append(doc.problem(path, f"{what} code {code!r} must be lower-case letters, digits and "
                                        f"underscores, starting with a letter (it becomes part of topic names "
                                        f"separated by dots), e.g. {_suggest_code(code)!r}"))

    if not spec.asset_classes:
        problems.append(doc.problem(("asset_classes",), "at least one asset class is needed"))
    if not spec.data_types:
        problems.append(doc.problem(("data_types",), "at least one data type is needed"))
    for ac, acs in spec.asset_classes.items():
        check(("asset_classes", ac), "asset class")
        for ex in acs.exchanges:
            check(("asset_classes", ac, "exchanges", ex), "exchange")
    for dt in spec.data_types:
        check(("data_types", dt), "data type")


def _suggest_code(code: str) -> str:
    cleaned = re.sub(r"[^a-z0-9_]+", "_", code.lower()).strip("_")
    return cleaned if cleaned and cleaned[0].isalpha() else f"x{cleaned}"


def _check_registry(spec: TopologySpec, doc: SourceDoc, problems: list[Problem]) -> None:
    pattern = spec.schema_registry.subject_pattern
    path = ("schema_registry", "subject_pattern")
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None}
    except ValueError as err:
        problems.append(doc.problem(path, f"not a valid pattern: {err}"))
        return
    if fields != SUBJECT_FIELDS:
        problems.append(doc.problem(path, "must use exactly the placeholders {asset_class} and {data_type} "
                                    f"(one subject per asset class and data type); found {sorted(fields)}"))


def _configs(doc: SourceDoc, path: KeyPath, raw: Mapping[str, Any], problems: list[Problem]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in raw.items():
        try:
            out[key] = normalise_config(key, value)
        except ConfigValueError as err:
            problems.append(doc.problem((*path, key), str(err)))
    return out


def _subjects(spec: TopologySpec, doc: SourceDoc, schemas_dir: Path, topics: list[Topic],
              problems: list[Problem]) -> Iterator[Subject]:
    for ac, acs in spec.asset_classes.items():
        for dt in acs.schemas:
            if dt not in spec.data_types:
                problems.append(doc.problem(("asset_classes", ac, "schemas", dt),
                                            f"unknown data type{suggest(dt, spec.data_types)}"))
        for dt, dts in spec.data_types.items():
            own = dt in acs.schemas
            file_name = acs.schemas.get(dt, f"{dts.schema_name}.avsc")
            key_path = ("asset_classes", ac, "schemas", dt) if own else ("data_types", dt, "schema_name")
            schema = _schema(doc, schemas_dir / file_name, key_path, problems)
            if schema is None:
                continue
            _check_partition_key(doc, schema, dts.partition_key, ("data_types", dt, "partition_key"), problems)
            try:
                subject = spec.schema_registry.subject_pattern.format(asset_class=ac, data_type=dt)
            except (KeyError, IndexError, ValueError):
                continue  # reported by _check_registry
            yield Subject(
                subject=subject,
                asset_class=ac,
                data_type=dt,
                schema_file=_relative(schema.file, doc.file.parent),
                schema=schema.text,
                compatibility=spec.schema_registry.compatibility,
                partition_key=dts.partition_key,
                topics=tuple(sorted(t.name for t in topics if t.asset_class == ac and t.data_type == dt)),
            )


def _schema(doc: SourceDoc, file: Path, key_path: KeyPath, problems: list[Problem]) -> AvroSchema | None:
    try:
        return load_avro(file.resolve())
    except SchemaFileError as err:
        problem = err.problem
        if problem.line is None and "not found" in problem.message:
            problems.append(doc.problem(key_path, f"schema file {file} not found"))
        else:
            problems.append(problem)
        return None


def _check_partition_key(doc: SourceDoc, schema: AvroSchema, key: str, key_path: KeyPath,
                         problems: list[Problem]) -> None:
    found = schema.field(key)
    if found is None:
        problems.append(Problem(schema.file, field_line(schema), "fields",
                                f"no field {key!r}, which {'.'.join(map(str, key_path))} in {doc.file.name} "
                                "names as the partition key"))
    elif found.get("type") != "string":
        problems.append(Problem(schema.file, field_line(schema, key), key,
                                f"the partition key field must be a non-null string, got {found.get('type')!r}"))


def _relative(file: Path, base: Path) -> str:
    try:
        return str(file.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(file)
