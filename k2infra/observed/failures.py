"""Why the cluster or the registry could not be used, named for what it is (no Pulumi).

Every failure is raised as `Unreachable`, the class callers catch, or as one of its subclasses when the
address answered but the settings do not work with it: the credentials were refused, TLS failed, or there
is no such topic or registry API. Each message names the address and what to do.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any


class Unreachable(RuntimeError):
    """The cluster or registry could not be used; the message names the address and what to do.

    Raised as such when it did not answer (down, wrong address, timed out, or an error this module does
    not tell apart); the subclasses say the address answered but the settings do not work with it.
    """


class Misconfigured(Unreachable):
    """The address answered, but refused these settings: retrying will not help until they change."""


class AuthenticationFailed(Misconfigured):
    """The credentials were refused (Kafka SASL, registry HTTP 401)."""


class NotAuthorized(Misconfigured):
    """The credentials were accepted but lack the rights (Kafka ACLs, registry HTTP 403): not an
    AuthenticationFailed, whose credentials were refused."""


class TlsFailed(Misconfigured):
    """The TLS handshake failed: a certificate not trusted, or TLS against a listener without it."""


class NotFound(Misconfigured):
    """The address answered but has no such thing: a topic, or a registry API at that URL."""


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


CONNECT_DOWN = ("check that the Kafka Connect cluster runs and that its REST API answers at that URL (curl <url>/), "
                "or correct the Connect URL the stack declares the connectors on")
CONNECT_PATH = "the URL must be the base of Kafka Connect's REST API (GET <url>/ answers its version)"


def connect_failure(url: str, error: BaseException, status: int | None = None, message: str = "") -> Unreachable:
    """The Unreachable (or subclass) for a Kafka Connect REST call that failed: no answer (`error`, an httpx or
    OS error), or an HTTP `status` with Connect's own `message`."""
    if status is None:
        reason = str(error) or type(error).__name__
        if any(isinstance(err, ssl.SSLError) for err in _causes(error)):
            return TlsFailed(f"TLS with Kafka Connect at {url} failed ({reason}): its certificate must be valid for "
                             "that host and signed by a CA this machine trusts")
        return Unreachable(f"cannot reach Kafka Connect at {url} ({reason}): {CONNECT_DOWN}")
    said = f"HTTP {status}" + (f": {message}" if message else "")
    if status == 401:
        return AuthenticationFailed(f"Kafka Connect at {url} asks for credentials ({said}): let K2's deployer "
                                    "reach its REST API (K2 sends none)")
    if status == 403:
        return NotAuthorized(f"Kafka Connect at {url} denied access ({said}): allow K2's deployer to manage "
                             "connectors named k2.*")
    if status == 404:
        return NotFound(f"no Kafka Connect REST API at {url} ({said}): {CONNECT_PATH}")
    return Unreachable(f"Kafka Connect at {url} failed the request ({said}): {CONNECT_DOWN}")


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


class ReportedErrors:
    """The errors librdkafka reports through error_cb, which are the only trace of some failures."""

    def __init__(self) -> None:
        self.errors: list[Any] = []

    def __call__(self, error: Any) -> None:
        self.errors.append(error)

    def decisive(self) -> bool:
        """A failure that waiting will not cure: refused credentials or TLS."""
        return any(_kafka_kind(e.name(), e.str()) in {"auth", "denied", "tls"} for e in self.errors)


@contextmanager
def kafka_calls(servers: str, reported: ReportedErrors, what: str = "the requested topics") -> Iterator[None]:
    from confluent_kafka import KafkaException

    try:
        yield
    except (KafkaException, TimeoutError) as err:
        raise kafka_failure(servers, err, reported.errors, what) from None
