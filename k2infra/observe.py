"""What the cluster and the registry hold right now (no Pulumi): the other half of a plan.

Every failure to use the cluster or the registry is raised as `Unreachable`, the class callers catch,
or as one of its subclasses when the address answered but the settings do not work with it: the
credentials were refused, TLS failed, or there is no such topic or registry API. Each message names
the address and what to do.
"""

from __future__ import annotations

import re
import ssl
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from k2infra.contracts.naming import is_market_topic
from k2infra.contracts.settings import librdkafka_mechanism
from k2infra.model.plan import ObservedTopic


class Unreachable(RuntimeError):
    """The cluster or registry could not be used; the message names the address and what to do.

    Raised as such when it did not answer (down, wrong address, timed out, or an error this module does
    not tell apart); the subclasses say the address answered but the settings do not work with it.
    """


class Misconfigured(Unreachable):
    """The address answered, but refused these settings: retrying will not help until they change."""


class AuthenticationFailed(Misconfigured):
    """The credentials were refused (Kafka SASL, registry HTTP 401)."""


class NotAuthorized(AuthenticationFailed):
    """The credentials were accepted but lack the rights (Kafka ACLs, registry HTTP 403)."""


class TlsFailed(Misconfigured):
    """The TLS handshake failed: a certificate not trusted, or TLS against a listener without it."""


class NotFound(Misconfigured):
    """The address answered but has no such thing: a topic, or a registry API at that URL."""


def client_config(bootstrap_servers: str, protocol: str = "PLAINTEXT", sasl_mechanism: str | None = None,
                  sasl_username: str | None = None, sasl_password: str | None = None,
                  ca_pem: str | None = None) -> dict[str, Any]:
    """librdkafka settings for the stack's cluster (the same values the kafka provider gets)."""
    conf: dict[str, Any] = {"bootstrap.servers": bootstrap_servers, "security.protocol": protocol}
    if sasl_mechanism:
        conf |= {"sasl.mechanism": librdkafka_mechanism(sasl_mechanism),
                 "sasl.username": sasl_username or "", "sasl.password": sasl_password or ""}
    if ca_pem:
        conf["ssl.ca.pem"] = ca_pem
    return conf


# What to do, per failure; the messages use the stack config keys (the k2 CLI adds its own hints).
KAFKA_CREDENTIALS = ("check k2:saslMechanism, k2:saslUsername and the secret k2:saslPassword "
                     "(pulumi config set --secret k2:saslPassword <password>)")
KAFKA_ACLS = "grant the SASL user (k2:saslUsername) access to the cluster and the market.* topics, or use another user"
KAFKA_TLS = ("check k2:caCert (the PEM of the CA that signed the brokers' certificates: pulumi config set --secret "
             "k2:caCert -- \"$(cat ca.pem)\") and that the listener at that address speaks TLS (k2:tls)")
KAFKA_DOWN = ("start the cluster (for the dev stack: bin/k2 local up) or correct k2:bootstrapServers; if it is "
              "running, check that k2:tls and k2:saslMechanism match its listener")
REGISTRY_CREDENTIALS = "check k2:schemaRegistryUsername and the secret k2:schemaRegistryPassword"
REGISTRY_RIGHTS = ("give the registry user (k2:schemaRegistryUsername) read and write access to the market.* "
                   "subjects, or use another user")
REGISTRY_TLS = ("its certificate must be valid for that host and signed by a CA this machine trusts; use http:// in "
                "k2:schemaRegistryUrl only if the registry serves plain HTTP")
REGISTRY_PATH = ("check k2:schemaRegistryUrl: it must be the base URL of the Confluent-compatible API "
                 "(Apicurio: http://<host>:<port>/apis/ccompat/v7)")
REGISTRY_DOWN = "start it (for the dev stack: bin/k2 local up) or correct k2:schemaRegistryUrl"

# librdkafka's error names (KafkaError.name()), by what they mean for the user.
_KAFKA_AUTHENTICATION = {"_AUTHENTICATION", "SASL_AUTHENTICATION_FAILED", "UNSUPPORTED_SASL_MECHANISM",
                         "ILLEGAL_SASL_STATE"}
_KAFKA_AUTHORIZATION = {"TOPIC_AUTHORIZATION_FAILED", "CLUSTER_AUTHORIZATION_FAILED", "GROUP_AUTHORIZATION_FAILED"}
_KAFKA_NOT_FOUND = {"UNKNOWN_TOPIC_OR_PART", "_UNKNOWN_TOPIC", "_UNKNOWN_PARTITION", "_NOENT"}
_KAFKA_DOWN = {"_TRANSPORT", "_TIMED_OUT", "_ALL_BROKERS_DOWN", "_RESOLVE", "REQUEST_TIMED_OUT", "_TIMED_OUT_QUEUE",
               "NETWORK_EXCEPTION", "_DESTROY", "LEADER_NOT_AVAILABLE", "BROKER_NOT_AVAILABLE"}
_TLS_TEXT = re.compile(r"SSL handshake failed|SSL routines|certificate verify failed|ssl\.", re.IGNORECASE)
# "sasl_plaintext://127.0.0.1:9093/bootstrap: " before, "(after 301ms in state AUTH_REQ)" after the reason.
_BROKER_PREFIX = re.compile(r"^(?:\S+://)?\S+?/(?:bootstrap|\d+): ")
_STATE_SUFFIX = re.compile(r"\s*\(after \d+ms in state \w+\)$")


def _kafka_kind(name: str, text: str) -> str:
    """auth, denied, tls, not-found, down or other."""
    if name in _KAFKA_AUTHENTICATION:
        return "auth"
    if name in _KAFKA_AUTHORIZATION:
        return "denied"
    if name == "_SSL" or (name in {"_TRANSPORT", "_INVALID_ARG"} and _TLS_TEXT.search(text)):
        return "tls"
    if name in _KAFKA_NOT_FOUND:
        return "not-found"
    return "down" if name in _KAFKA_DOWN else "other"


_PRECEDENCE = ("auth", "denied", "tls", "not-found", "other", "down")  # the most telling first


def kafka_failure(servers: str, error: Any, reported: Sequence[Any] = (),
                  what: str = "the requested topics") -> Unreachable:
    """The Unreachable (or subclass) for a failed Kafka call.

    `error` is what the call raised (a KafkaException, a KafkaError or a TimeoutError); `reported` are
    the KafkaErrors librdkafka passed to error_cb meanwhile: a wrong SASL password or an untrusted
    certificate shows only there, while the call itself just times out. `what` names what a
    not-found error is about.
    """
    candidates = [(e.name(), e.str()) for e in reported if hasattr(e, "name")]
    kafka_error = error.args[0] if isinstance(error, Exception) and error.args and \
        hasattr(error.args[0], "name") else error
    if hasattr(kafka_error, "name"):
        candidates.append((kafka_error.name(), kafka_error.str()))
    elif isinstance(error, TimeoutError):
        candidates.append(("_TIMED_OUT", "timed out"))
    else:
        candidates.append(("_UNKNOWN", f"{type(error).__name__}: {error}"))
    # The most telling: by kind, then a broker's own report before "n/m brokers are down" and the call's
    # generic "Local: Broker transport failure".
    kinds = [(_kafka_kind(name, text), name, text) for name, text in candidates]
    kind, name, text = min(kinds, key=lambda k: (_PRECEDENCE.index(k[0]), k[1] == "_ALL_BROKERS_DOWN"))
    reason = _STATE_SUFFIX.sub("", _BROKER_PREFIX.sub("", text)) or name
    if kind == "auth":
        return AuthenticationFailed(f"Kafka at {servers} refused the SASL credentials ({reason}): {KAFKA_CREDENTIALS}")
    if kind == "denied":
        return NotAuthorized(f"Kafka at {servers} denied access ({reason}): {KAFKA_ACLS}")
    if kind == "tls":
        return TlsFailed(f"TLS with Kafka at {servers} failed ({reason}): {KAFKA_TLS}")
    if kind == "not-found":
        return NotFound(f"Kafka at {servers} has no {what} ({reason}): check the names (bin/k2 topology), or "
                        "create the topics with pulumi up")
    if kind == "other":
        return Unreachable(f"Kafka at {servers} failed the request ({name}: {reason})")
    return Unreachable(f"cannot reach Kafka at {servers} ({reason}): {KAFKA_DOWN}")


def registry_failure(url: str, error: BaseException) -> Unreachable | None:
    """The Unreachable (or subclass) for a failed registry call; None for an error that is not about
    reaching the registry (a bug should surface as itself).

    Only the caller can tell an incompatible schema (HTTP 409, or is_compatible false) from the rest,
    and a 404 that means "no such subject" from one that means "no registry API at this URL".
    """
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    chain = list(_causes(error))
    for err in chain:
        if isinstance(err, SchemaRegistryError):
            status, detail = err.http_status_code, err.error_message
            said = f"HTTP {status}" + (f": {detail}" if detail else "")
            if status == 401:
                return AuthenticationFailed(f"the schema registry at {url} refused the credentials ({said}): "
                                            f"{REGISTRY_CREDENTIALS}")
            if status == 403:
                return NotAuthorized(f"the schema registry at {url} denied access ({said}): {REGISTRY_RIGHTS}")
            if status == 404 and isinstance(err.error_code, int) and err.error_code // 100 == 404:
                return NotFound(f"the schema registry at {url} has no such subject or version ({said})")
            if status == 404:  # not the registry's own "not found": no registry API at this URL
                return NotFound(f"no schema registry API at {url} ({said}): {REGISTRY_PATH}")
            return Unreachable(f"the schema registry at {url} failed the request ({said})")
    for err in chain:
        if isinstance(err, ssl.SSLError):
            return TlsFailed(f"TLS with the schema registry at {url} failed ({err}): {REGISTRY_TLS}")
    for err in chain:
        if isinstance(err, OSError) or type(err).__module__.split(".")[0] in {"httpx", "httpx2", "httpcore",
                                                                              "httpcore2"}:
            reason = str(err) or type(err).__name__
            return Unreachable(f"cannot reach the schema registry at {url} ({reason}): {REGISTRY_DOWN}")
    return None


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


class _Reported:
    """The errors librdkafka reports through error_cb, which are the only trace of some failures."""

    def __init__(self) -> None:
        self.errors: list[Any] = []

    def __call__(self, error: Any) -> None:
        self.errors.append(error)

    def decisive(self) -> bool:
        """A failure that waiting will not cure: refused credentials or TLS."""
        return any(_kafka_kind(e.name(), e.str()) in {"auth", "denied", "tls"} for e in self.errors)


@contextmanager
def _kafka_calls(servers: str, reported: _Reported, what: str = "the requested topics") -> Iterator[None]:
    from confluent_kafka import KafkaException

    try:
        yield
    except (KafkaException, TimeoutError) as err:
        raise kafka_failure(servers, err, reported.errors, what) from None


def _connect(client: Any, servers: str, reported: _Reported, timeout: float) -> Any:
    """The cluster's metadata, asked for until `timeout`; a refused login or TLS handshake ends the
    wait at once (librdkafka would keep retrying it silently)."""
    from confluent_kafka import KafkaException

    deadline = time.monotonic() + timeout
    while True:
        try:
            return client.list_topics(timeout=max(0.1, min(1.0, deadline - time.monotonic())))
        except KafkaException as err:
            client.poll(0)  # serves error_cb
            if reported.decisive() or time.monotonic() >= deadline:
                raise kafka_failure(servers, err, reported.errors) from None
            client.poll(max(0.0, min(0.2, deadline - time.monotonic())))


def _admin(conf: Mapping[str, Any], reported: _Reported) -> Any:
    from confluent_kafka.admin import AdminClient

    # log_level 0: a failure is reported once, as Unreachable, not as a stream of logs.
    settings: dict[str, Any] = {**conf, "log_level": 0, "error_cb": reported}
    return AdminClient(settings)


def observe_topics(conf: Mapping[str, Any], timeout: float = 15) -> dict[str, ObservedTopic]:
    """Every market-data topic, with partitions, replication factor and its own config."""
    from confluent_kafka.admin import ConfigResource, ConfigSource

    servers, reported = conf["bootstrap.servers"], _Reported()
    with _kafka_calls(servers, reported):
        admin = _admin(conf, reported)
        metadata = _connect(admin, servers, reported, timeout)
    names = sorted(n for n in metadata.topics if is_market_topic(n))
    resources = [ConfigResource("topic", n) for n in names]
    with _kafka_calls(servers, reported):
        configs = admin.describe_configs(resources, request_timeout=timeout) if resources else {}
    observed = {}
    for name, resource in zip(names, resources, strict=True):
        topic = metadata.topics[name]
        with _kafka_calls(servers, reported, f"topic {name}"):  # deleted meanwhile: not found
            entries = configs[resource].result(timeout=timeout)
        own = {k: v.value for k, v in entries.items() if v.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value}
        replicas = len(topic.partitions[0].replicas) if topic.partitions else 0
        observed[name] = ObservedTopic(name, len(topic.partitions), replicas, own)
    return observed


def registered_versions(url: str, subjects: Iterable[str], basic_auth: str | None = None,
                        timeout: float = 10) -> dict[str, list[str]]:
    """Subject -> its registered schemas, oldest first (absent: never registered)."""
    from confluent_kafka.schema_registry import SchemaRegistryClient

    conf: dict[str, Any] = {"url": url, "timeout": timeout}
    if basic_auth:
        conf["basic.auth.user.info"] = basic_auth
    client = SchemaRegistryClient(conf)
    out: dict[str, list[str]] = {}
    try:
        existing = set(client.get_subjects())
        for subject in subjects:
            if subject in existing:
                versions = [client.get_version(subject, v).schema.schema_str for v in client.get_versions(subject)]
                out[subject] = [v for v in versions if v is not None]
    except Exception as err:
        failure = registry_failure(url, err)
        if failure is None:
            raise
        raise failure from None
    return out


def end_offsets(conf: Mapping[str, Any], partitions: Mapping[str, int], timeout: float = 15) -> dict[str, list[int]]:
    """Topic -> the end (high watermark) offset of each partition."""
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import OffsetSpec

    servers, reported = conf["bootstrap.servers"], _Reported()
    out: dict[str, list[int]] = {t: [0] * n for t, n in partitions.items()}
    with _kafka_calls(servers, reported):
        admin = _admin(conf, reported)
        _connect(admin, servers, reported, timeout)
        request = {TopicPartition(t, p): OffsetSpec.latest() for t, n in partitions.items() for p in range(n)}
        futures = admin.list_offsets(request, request_timeout=timeout).items() if request else []
    for tp, future in futures:
        with _kafka_calls(servers, reported, f"topic {tp.topic} partition {tp.partition}"):
            out[tp.topic][tp.partition] = future.result(timeout=timeout).offset
    return out


def committed_offsets(conf: Mapping[str, Any], group: str, partitions: Mapping[str, int],
                      timeout: float = 15) -> dict[str, list[int]]:
    """Topic -> a consumer group's committed offset per partition (-1: nothing committed).

    Read through a consumer of that group that never subscribes (so it joins nothing): the plain
    committed() path, which is sturdier here than the admin API's group-offsets call.
    """
    from confluent_kafka import Consumer, TopicPartition

    servers, reported = conf["bootstrap.servers"], _Reported()
    settings: dict[str, Any] = {**conf, "group.id": group, "enable.auto.commit": False, "log_level": 0,
                                "error_cb": reported}
    with _kafka_calls(servers, reported):
        consumer = Consumer(settings)
    try:
        with _kafka_calls(servers, reported, f"offsets for group {group}"):
            _connect(consumer, servers, reported, timeout)
            wanted = [TopicPartition(t, p) for t, n in partitions.items() for p in range(n)]
            result = consumer.committed(wanted, timeout=timeout) if wanted else []
        for tp in result:
            if tp.error:
                raise kafka_failure(servers, tp.error, reported.errors, f"topic {tp.topic} partition {tp.partition}")
    finally:
        consumer.close()
    out: dict[str, list[int]] = {t: [-1] * n for t, n in partitions.items()}
    for tp in result:
        out[tp.topic][tp.partition] = tp.offset if tp.offset >= 0 else -1
    return out
