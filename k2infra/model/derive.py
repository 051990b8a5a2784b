"""From a checked TopologySpec to the K2 topology: topic names, partitions, configs and subjects.

Pure Python, no Pulumi: the components, the policies, the `k2` CLI and the app helpers all derive the
same topology from the same file through `load_topology`. Every problem is collected, not just the first.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from k2infra.contracts.naming import subject_name, topic_name
from k2infra.model.access import App, derive_apps
from k2infra.model.checks import check_codes, check_partition_key, check_subject_pattern, read_schema, relative
from k2infra.model.data_loss import RULE_KEYS, Acknowledgement, floor_problem, reason_problem, scope_problem
from k2infra.model.entities import Exchange, Subject, Topic
from k2infra.model.errors import Problem, TopologyError
from k2infra.model.kafka_configs import ConfigValueError, conflicts, normalise_config, shown, suggest
from k2infra.model.legacy import derive_legacy
from k2infra.model.monitoring_spec import resolve_monitoring
from k2infra.model.namespace import check_decommission, check_topic_names
from k2infra.model.parse import parse_spec
from k2infra.model.quotas import effective_quota
from k2infra.model.region_access import apps_in_region
from k2infra.model.regions import check_regions, in_region
from k2infra.model.replication_access import flows_from, replication_apps, replication_principals
from k2infra.model.source import KeyPath, SourceDoc, load_yaml
from k2infra.model.spec import EnvironmentSpec, TopologySpec
from k2infra.model.topology import Topology
from k2infra.model.users import AppUser, app_users, check_user_entries

# Topic configs an environment sets on every topic (key -> its setting in environments.<env> and defaults).
# Such a key in a data type's or an override's config is an error, not a warning: min.insync.replicas (like the
# replication factor, which only an environment can set) is a safety setting, and a warning scrolled past would
# leave a reviewer believing a topic keeps 3 in-sync copies when it keeps the environment's 2.
ENVIRONMENT_KEYS = {"min.insync.replicas": "min_insync_replicas"}


def load_topology(path: str | Path, environment: str | None = None, schemas_dir: Path | None = None, *,
                  region: str | None = None) -> Topology:
    """Parse and check topics.yaml and its schemas; raise TopologyError listing every problem. `region`: the
    stack's (k2:region), whose home and mirrored topics it holds; None: every exchange."""
    return next(load_topologies(path, [environment], schemas_dir, region=region))


def load_topologies(path: str | Path, environments: Iterable[str | None] | None = None,
                    schemas_dir: Path | None = None, *, region: str | None = None) -> Iterator[Topology]:
    """Each environment's topology (every environment the file declares when None), from one parse of the file.

    Schema files are read from `schemas_dir` (default: schemas/ beside the file) and only inside the file's
    directory, or inside `schemas_dir` when the caller gives one.
    """
    path = Path(path)
    doc = load_yaml(path)
    spec = parse_spec(doc)
    inside = (schemas_dir,) if schemas_dir else ()
    every: list[str | None] = [*spec.environments] or [None]
    for environment in every if environments is None else environments:
        yield derive(spec, doc, environment, schemas_dir or path.parent / "schemas", inside, region)


@dataclass
class _Derivation:
    """One pass over a parsed spec; collects problems instead of stopping at the first."""

    spec: TopologySpec
    doc: SourceDoc
    env_name: str
    env: EnvironmentSpec
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)  # what the environment changes, said (k2 validate)
    capped: list[tuple[str, int]] = field(default_factory=list)  # topics max_partitions caps: (name, asked)
    subject_pattern_ok: bool = True  # else names no subject (check_subject_pattern says why)

    @property
    def replication(self) -> int:
        return self.env.replication_factor or self.spec.defaults.replication_factor

    @property
    def min_isr(self) -> int:
        return self.env.min_insync_replicas or self.spec.defaults.min_insync_replicas

    def topics(self) -> tuple[list[Topic], list[Exchange]]:
        base = {dt: self._configs(("data_types", dt, "config"), dts.config)
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
        self._warn_capped()
        return topics, exchanges

    def _topic(self, ac: str, ex: str, exs: Any, dt: str, base_config: dict[str, str]) -> Topic:
        dts = self.spec.data_types[dt]
        exchange_path: KeyPath = ("asset_classes", ac, "exchanges", ex)
        override = exs.overrides.get(dt)
        origins: dict[str, KeyPath] = {key: ("data_types", dt, "config", key) for key in base_config}
        if override and override.partitions:
            partitions, origins["partitions"] = override.partitions, (*exchange_path, "overrides", dt, "partitions")
        elif dts.partitions:
            partitions, origins["partitions"] = dts.partitions, ("data_types", dt, "partitions")
        else:
            partitions, origins["partitions"] = exs.partitions, (*exchange_path, "partitions")
        if self.env.max_partitions and self.env.max_partitions < partitions:
            self.capped.append((topic_name(ac, dt, ex), partitions))
            partitions, origins["partitions"] = self.env.max_partitions, self._env_path("max_partitions")
        config = dict(base_config)
        if override:
            path = (*exchange_path, "overrides", dt, "config")
            config.update(self._configs(path, override.config))
            origins |= {key: (*path, key) for key in override.config}
        for key, message in conflicts(config):
            self.problem(origins[key], message)
        config["min.insync.replicas"] = str(self.min_isr)
        origins["min.insync.replicas"] = self._setting_path("min_insync_replicas")
        origins["replication_factor"] = self._setting_path("replication_factor")
        return Topic(topic_name(ac, dt, ex), ac, dt, ex, partitions, self.replication, config,
                     origins={key: self.doc.where(path) for key, path in origins.items()})

    def _configs(self, path: KeyPath, raw: Mapping[str, Any]) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in raw.items():
            if key in ENVIRONMENT_KEYS:
                self._environment_key(path, key, value)
                continue
            try:
                out[key] = normalise_config(key, value)
            except ConfigValueError as err:
                self.problem((*path, key), str(err))
        return out

    def _environment_key(self, path: KeyPath, key: str, value: object) -> None:
        """A topic config the environment sets on every topic: refused where it would be silently replaced."""
        setting = ENVIRONMENT_KEYS[key]
        where = ".".join(str(p) for p in self._setting_path(setting))
        effective = getattr(self.env, setting) or getattr(self.spec.defaults, setting)
        self.problem((*path, key), f"{key} is an environment's setting, not a data type's: every topic of "
                     f"{self.env_name} gets {where} ({effective}), which would replace this {shown(value)}. "
                     f"Remove it here and set environments.<env>.{setting} (or defaults.{setting})")

    def _warn_capped(self) -> None:
        if not self.capped:
            return
        listed = ", ".join(f"{name} ({asked})" for name, asked in self.capped[:4])
        more = f" and {len(self.capped) - 4} more" if len(self.capped) > 4 else ""
        self.warnings.append(self.doc.problem(self._env_path("max_partitions"), (
            f"caps {len(self.capped)} topics of {self.env_name} at {self.env.max_partitions} partitions, fewer than "
            f"topics.yaml gives them: {listed}{more}")))

    def _env_path(self, key: str) -> KeyPath:
        return ("environments", self.env_name, key)

    def _setting_path(self, key: str) -> KeyPath:
        """An environment's setting where it sets one, else the defaults'."""
        return self._env_path(key) if getattr(self.env, key) else ("defaults", key)

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
        subjects = {subject_name(t.asset_class, t.data_type, self.spec.schema_registry.subject_pattern)
                    for t in topics} if self.subject_pattern_ok else set()
        for index, name in enumerate(self.env.decommission):
            if name in declared or name in subjects:
                self.problem(("environments", self.env_name, "decommission", index),
                             f"{name} is still declared in topics.yaml; remove its asset class, exchange or data "
                             "type there before listing it for decommissioning")

    def acknowledgements(self, topics: list[Topic]) -> list[Acknowledgement]:
        names = [t.name for t in topics]
        out = []
        for index, ack in enumerate(self.spec.acknowledged_data_loss):
            path: KeyPath = ("acknowledged_data_loss", index)
            if ack.change not in RULE_KEYS:
                self.problem((*path, "change"), f"{ack.change!r} is not a change K2 refuses as data loss"
                             f"{suggest(ack.change, RULE_KEYS)}; acknowledgements are for: {', '.join(RULE_KEYS)}")
                continue
            try:
                to = normalise_config(ack.change, ack.to)
            except ConfigValueError as err:
                self.problem((*path, "to"), str(err))
                continue
            if floor := floor_problem(ack.change, to):
                self.problem((*path, "to"), floor)
            if reason := reason_problem(ack.reason):
                self.problem((*path, "reason"), reason)
            for position, pattern in enumerate(ack.topics):
                if scope := scope_problem(pattern):
                    self.problem((*path, "topics", position), scope)
                elif not fnmatch.filter(names, pattern):
                    self.problem((*path, "topics", position), f"{pattern!r} matches no topic in topics.yaml"
                                 f"{suggest(pattern, names)}")
            out.append(Acknowledgement(tuple(ack.topics), ack.change, to, ack.reason, self.doc.where(path)))
        return out

    def problem(self, path: KeyPath, message: str) -> None:
        self.problems.append(self.doc.problem(path, message))


def derive(spec: TopologySpec, doc: SourceDoc, environment: str | None, schemas_dir: Path,
           inside: tuple[Path, ...] = (), region: str | None = None) -> Topology:
    problems: list[Problem] = []
    env_name, env = _environment(spec, doc, environment, problems)
    run = _Derivation(spec, doc, env_name, env, problems)
    check_codes(spec, doc, problems)
    run.subject_pattern_ok = check_subject_pattern(spec, doc, problems)
    every_topic, every_exchange = run.topics()
    regions = check_regions(spec, doc, problems)
    topics, exchanges, flows = in_region(regions, region, every_topic, every_exchange, doc, problems)
    run.check_environment(every_topic)
    acknowledgements = run.acknowledgements(every_topic)
    # Apps are checked against every topic: a subscription to another region's exchange is not a mistake.
    apps = derive_apps(spec.apps, every_topic, doc, problems, (env_name, env.quotas))
    principals = replication_principals(spec.regions, apps, spec.apps, doc, problems) if regions else {}
    if region is not None:
        every_app, apps = apps, apps_in_region(apps, topics)
        if regions is not None and region in regions.regions:
            quota = effective_quota(None, env.quotas, doc, (), ("environments", env_name, "quotas"), problems)
            apps += replication_apps(region, (*flows, *flows_from(regions, region, topics)), principals,
                                     every_app, quota)
    subjects = list(_subjects(spec, doc, (schemas_dir, inside), topics, problems)) if run.subject_pattern_ok else []
    if region is not None:  # a region's registry holds the subjects of the topics it holds
        subjects = [s for s in subjects if s.topics]
    monitoring = resolve_monitoring(spec.monitoring, doc, env_name, [e.code for e in exchanges],
                                    list(spec.environments), problems)
    legacy = derive_legacy(spec, doc, every_topic, subjects, problems)
    check_topic_names(every_topic, spec.legacy_topics, doc, problems)
    check_decommission(env_name, env.decommission, spec.schema_registry.subject_pattern, spec.legacy_topics, doc,
                       problems)
    check_user_entries(env_name, env.decommission, apps, doc, problems)
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
        acknowledgements=tuple(acknowledgements),
        subject_pattern=spec.schema_registry.subject_pattern,
        apps=apps,
        access_control=env.access_control,
        users=_users(env, apps),
        monitoring=monitoring,
        legacy=legacy,
        warnings=tuple(run.warnings),
        region=region,
        replication=flows,
    )


def _users(env: EnvironmentSpec, apps: tuple[App, ...]) -> tuple[AppUser, ...]:
    manage = env.access_control if env.manage_users is None else env.manage_users
    return app_users((a.name, a.principal) for a in apps) if manage else ()


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


def _subjects(spec: TopologySpec, doc: SourceDoc, schemas: tuple[Path, tuple[Path, ...]], topics: list[Topic],
              problems: list[Problem]) -> Iterator[Subject]:
    schemas_dir, inside = schemas
    for ac, acs in spec.asset_classes.items():
        for dt in acs.schemas:
            if dt not in spec.data_types:
                problems.append(doc.problem(("asset_classes", ac, "schemas", dt),
                                            f"unknown data type{suggest(dt, spec.data_types)}"))
        for dt, dts in spec.data_types.items():
            own = dt in acs.schemas
            file_name = acs.schemas.get(dt, f"{dts.schema_name}.avsc")
            key_path = ("asset_classes", ac, "schemas", dt) if own else ("data_types", dt, "schema_name")
            schema = read_schema(doc, schemas_dir, file_name, key_path, problems, inside)
            if schema is None:
                continue
            check_partition_key(doc, schema, dts.partition_key, ("data_types", dt, "partition_key"), problems)
            yield Subject(
                subject=subject_name(ac, dt, spec.schema_registry.subject_pattern),
                asset_class=ac,
                data_type=dt,
                schema_file=relative(schema.file, doc.file.parent),
                schema=schema.text,
                compatibility=spec.schema_registry.compatibility,
                partition_key=dts.partition_key,
                topics=tuple(sorted(t.name for t in topics if t.asset_class == ac and t.data_type == dt)),
            )


