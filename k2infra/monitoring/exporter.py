"""The stack's topics and consumer groups as Prometheus metrics: a custom Collector, one sample per scrape.

kafka_exporter's names, so its dashboards and queries work unchanged, for the stack's topics only:

    kafka_brokers, kafka_topic_partitions{topic}
    kafka_topic_partition_current_offset{topic,partition}, kafka_topic_partition_oldest_offset{topic,partition}
    kafka_topic_partition_leader{topic,partition}, kafka_topic_partition_under_replicated_partition{topic,partition}
    kafka_consumergroup_lag{consumergroup,topic,partition}, kafka_consumergroup_lag_sum{consumergroup,topic}
    kafka_consumergroup_current_offset{consumergroup,topic,partition}   with --group-offsets only

and K2's own:

    k2_topic_info{topic,asset_class,data_type,exchange,retained} 1   join it to sum anything per exchange
    k2_topic_missing{topic}                                1: in the stack, not on the cluster
    k2_subject_info{subject,asset_class,data_type} 1, k2_subject_registered{subject}
    k2_subject_expected_version{subject}, k2_subject_latest_version{subject}
    k2_subject_in_sync{subject,asset_class,data_type}      1: the registry's latest is the stack's version
    k2_up, k2_registry_up, k2_scrape_duration_seconds, k2_scrape_problems

and, for an aggregating region's stack (outputs with `replication` flows; k2infra.monitoring.replication):

    k2_replication_up{flow,source_region}
    k2_replication_records_behind{flow,source_region,topic}, k2_replication_seconds_behind{flow,source_region,topic}
    k2_replication_partitions_unknown{flow,source_region,topic}

A scrape that cannot reach the cluster (or the registry) reports k2_up 0 (k2_registry_up 0) and
leaves out what it could not see, instead of failing the scrape. Served in Prometheus's text format by
exposition.MetricsServer (prometheus_client's exposition costs several times more per sample).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TextIO

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.samples import Sample

from k2infra.monitoring.exposition import MetricsServer
from k2infra.monitoring.registry import RegistryUnreachable, SubjectChecker, SubjectState
from k2infra.monitoring.replication import FlowLag, replication_metrics
from k2infra.monitoring.sample import Snapshot
from k2infra.monitoring.target import Target, TargetError


class Sampler(Protocol):
    def sample(self, topics: Iterable[str]) -> Snapshot: ...


class FlowSampler(Protocol):
    def sample(self) -> list[FlowLag]: ...


class K2Collector(Collector):
    """Samples the cluster (ClusterSampler) and checks the registry (SubjectChecker) on every collect()."""

    def __init__(self, target: Target, sampler: Sampler, checker: SubjectChecker | None,
                 reload: Callable[[], Target] | None = None, reload_every: float = 300, log: TextIO = sys.stderr,
                 group_offsets: bool = False, replication: FlowSampler | None = None):
        self.target, self.sampler, self.checker = target, sampler, checker
        self.replication = replication  # the flows into the stack's region (outputs' replication), if any
        self.group_offsets = group_offsets  # also kafka_consumergroup_current_offset (a sample per group partition)
        self._reload, self._reload_every, self._loaded = reload, reload_every, time.monotonic()
        self._log = log
        self._was_up: dict[str, bool] = {}
        self._lock = threading.Lock()
        self._registry_thread = ThreadPoolExecutor(1, thread_name_prefix="k2-registry")
        self._replication_thread = ThreadPoolExecutor(1, thread_name_prefix="k2-replication")

    def describe(self) -> list[Metric]:
        return []  # no sample at registration: every scrape samples

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        with self._lock:
            self._maybe_reload()
            target = self.target
            registry = self._registry_thread.submit(self._subjects, target)  # while Kafka answers
            flows = self._replication_thread.submit(self.replication.sample) if self.replication else None
            snapshot = self.sampler.sample(t.name for t in target.topics)
            subjects, registry_error = registry.result()
            lags = flows.result() if flows else None
            self._note("Kafka", snapshot.error)
            self._note("the schema registry", registry_error)
            for lag in lags or []:
                self._note(f"flow {lag.flow}", lag.error)
        yield from metrics(target, snapshot, subjects, registry_error is None if self.checker else None,
                           self.group_offsets, lags)
        yield _gauge("k2_scrape_duration_seconds", "Seconds this scrape took (cluster and registry).",
                     value=time.perf_counter() - started)

    def _subjects(self, target: Target) -> tuple[list[SubjectState], str | None]:
        if self.checker is None:
            return [], None
        try:
            return self.checker.check(target.subjects), None
        except RegistryUnreachable as err:
            return [], str(err)

    def _maybe_reload(self) -> None:
        if self._reload is None or time.monotonic() - self._loaded < self._reload_every:
            return
        self._loaded = time.monotonic()
        try:
            self.target = self._reload()
        except TargetError as err:
            print(f"k2 monitor exporter: keeping the last stack outputs: {err}", file=self._log, flush=True)

    def _note(self, what: str, error: str | None) -> None:
        """One line when a dependency stops or starts answering, not one per scrape."""
        up = error is None
        if self._was_up.get(what, True) != up:
            print(f"k2 monitor exporter: {error}; reporting it as down" if error else
                  f"k2 monitor exporter: {what} answers again", file=self._log, flush=True)
        self._was_up[what] = up


def metrics(target: Target, snapshot: Snapshot, subjects: list[SubjectState],
            registry_up: bool | None, group_offsets: bool = False,
            flows: list[FlowLag] | None = None) -> Iterator[Metric]:
    """The metric families of one scrape (pure: from what the sample and the registry check saw)."""
    topics = target.topics
    info = GaugeMetricFamily("k2_topic_info", "The stack's topics, 1 each; join on topic to group by exchange.",
                             labels=["topic", "asset_class", "data_type", "exchange", "retained"])
    for t in topics:
        info.add_metric([t.name, t.asset_class, t.data_type, t.exchange, str(t.retained).lower()], 1)
    yield info
    yield _gauge("k2_up", "1 if this scrape reached the Kafka cluster, else 0.", value=int(snapshot.up))
    if registry_up is not None:
        yield _gauge("k2_registry_up", "1 if this scrape reached the schema registry, else 0.", value=int(registry_up))
    yield _gauge("k2_scrape_problems", "Parts of this scrape that failed while the cluster answered "
                 "(a group's offsets, a partition's offsets).", value=len(snapshot.problems))
    if snapshot.up:
        yield from _cluster(topics, snapshot, group_offsets)
    if registry_up:
        yield from _subjects(subjects)
    if flows is not None:
        yield from replication_metrics(flows)


def _cluster(topics: list, snapshot: Snapshot, group_offsets: bool) -> Iterator[Metric]:
    yield _gauge("kafka_brokers", "Brokers in the cluster's metadata.", value=snapshot.brokers)
    missing = GaugeMetricFamily("k2_topic_missing", "1 if the stack's topic is missing from the cluster.",
                                labels=["topic"])
    count = GaugeMetricFamily("kafka_topic_partitions", "Partitions of the topic.", labels=["topic"])
    current = _partition_family("kafka_topic_partition_current_offset", "Latest (end) offset of the partition.")
    oldest = _partition_family("kafka_topic_partition_oldest_offset", "Earliest offset of the partition.")
    leader = _partition_family("kafka_topic_partition_leader", "Leader broker id of the partition (-1: none).")
    under = _partition_family("kafka_topic_partition_under_replicated_partition",
                              "1 if the partition has fewer in-sync replicas than replicas.")
    # Samples are built directly (not through add_metric): a scrape of 3,000 partitions and 20 groups has 70,000.
    for t in topics:
        states = snapshot.partitions.get(t.name)
        missing.add_metric([t.name], 0 if states else 1)
        if not states:
            continue
        count.add_metric([t.name], len(states))
        for p, (state, end, start) in enumerate(zip(states, snapshot.latest[t.name], snapshot.earliest[t.name],
                                                    strict=True)):
            labels = {"topic": t.name, "partition": str(p)}
            if end >= 0:
                current.samples.append(Sample(current.name, labels, end))
            if start >= 0:
                oldest.samples.append(Sample(oldest.name, labels, start))
            leader.samples.append(Sample(leader.name, labels, state.leader))
            under.samples.append(Sample(under.name, labels, int(state.under_replicated)))
    yield from (missing, count, current, oldest, leader, under)
    committed = GaugeMetricFamily("kafka_consumergroup_current_offset", "The group's committed offset.",
                                  labels=["consumergroup", "topic", "partition"])
    lag = GaugeMetricFamily("kafka_consumergroup_lag", "Messages the group has not committed yet.",
                            labels=["consumergroup", "topic", "partition"])
    lag_sum = GaugeMetricFamily("kafka_consumergroup_lag_sum", "The group's lag summed over the topic's partitions.",
                                labels=["consumergroup", "topic"])
    for group, by_topic in sorted(snapshot.committed.items()):
        for topic, offsets in sorted(by_topic.items()):
            behind = snapshot.lag(group, topic)
            for p, done in sorted(offsets.items()):
                labels = {"consumergroup": group, "topic": topic, "partition": str(p)}
                if group_offsets:
                    committed.samples.append(Sample(committed.name, labels, done))
                if p in behind:
                    lag.samples.append(Sample(lag.name, labels, behind[p]))
            lag_sum.add_metric([group, topic], sum(behind.values()))
    yield from ((committed, lag, lag_sum) if group_offsets else (lag, lag_sum))


def _subjects(subjects: list[SubjectState]) -> Iterator[Metric]:
    info = GaugeMetricFamily("k2_subject_info", "The stack's subjects, 1 each.",
                             labels=["subject", "asset_class", "data_type"])
    registered = GaugeMetricFamily("k2_subject_registered", "1 if the registry has the subject.", labels=["subject"])
    expected = GaugeMetricFamily("k2_subject_expected_version", "The version the stack registered.",
                                 labels=["subject"])
    latest = GaugeMetricFamily("k2_subject_latest_version", "The registry's latest version of the subject.",
                               labels=["subject"])
    in_sync = GaugeMetricFamily("k2_subject_in_sync", "1 if the registry's latest version is the stack's.",
                                labels=["subject", "asset_class", "data_type"])
    for s in subjects:
        info.add_metric([s.subject, s.asset_class, s.data_type], 1)
        registered.add_metric([s.subject], int(s.registered))
        if s.expected_version is not None:
            expected.add_metric([s.subject], s.expected_version)
        if s.latest_version is not None:
            latest.add_metric([s.subject], s.latest_version)
        in_sync.add_metric([s.subject, s.asset_class, s.data_type], int(s.in_sync))
    yield from (info, registered, expected, latest, in_sync)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _partition_family(name: str, documentation: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=["topic", "partition"])


def registry_for(collector: K2Collector) -> CollectorRegistry:
    """A registry holding only this collector (for prometheus_client's own exposition, e.g. in tests)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def serve(collector: K2Collector, port: int, address: str = "0.0.0.0") -> MetricsServer:
    """Serve /metrics on address:port in a daemon thread; PortInUse names the port if it is taken."""
    return MetricsServer(collector.collect, port, address).start()
