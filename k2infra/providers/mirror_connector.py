"""A MirrorMaker 2 connector on an existing Kafka Connect cluster, as a Pulumi resource (dynamic provider over
Connect's REST API, issue 23).

Its inputs are the Connect cluster's URL, the connector's name and its config (k2infra.contracts.replication
builds them): create and update PUT the config and wait until the connector and its tasks run, delete removes
the connector, read gets its config back. A preview shows each config key that changes (`topics` when an exchange
joins a region), since the config is an input. No secret is an input: a secured region's login is a
config-provider reference the workers resolve.

Keep this module's path: Pulumi stores the provider in state pickled by reference to it, and reads it back from
there for refresh and destroy.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, unquote

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from k2infra.contracts.replication import CONNECTOR_CLASSES, CONNECTOR_PREFIX, Kind, is_k2_connector
from k2infra.observed.failures import connect_failure
from k2infra.observed.retry import retrying

READY_SECONDS = 180.0    # a connector and its tasks RUNNING after a PUT (a busy cluster rebalances first)
REQUEST_SECONDS = 30.0   # one request retried that long: a rebalance answers 409, a restarting worker not at all
HTTP_TIMEOUT = 15.0      # each request: Connect's own request timeout is 90 s, its answers come in milliseconds
TRACE_CHARS = 500


class ConnectorFailed(Exception):
    """Connect refused the config, or the connector or one of its tasks failed: the message says why and what to
    do."""


class _Busy(Exception):
    """An answer that waiting may cure: 409 (a rebalance is in progress) or 5xx (a worker's request timed out)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status, self.message = status, message


class _NotYet(Exception):
    """The connector does not run as declared yet; `why` says what is missing."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def connector_path(name: str) -> str:
    return f"/connectors/{quote(name, safe='')}"


def _message(response: Any) -> tuple[int | None, str]:
    """Connect's own error (its JSON `error_code` and `message`); (None, body) from anything else at that URL."""
    try:
        body = response.json()
    except ValueError:
        return None, response.text[:200]
    if isinstance(body, dict) and "error_code" in body:
        return body.get("error_code"), str(body.get("message", ""))
    return None, response.text[:200]


def request(url: str, method: str, path: str, body: Any = None, *, absent: bool = False) -> Any:
    """The answer's JSON (None for 204), or None when `absent` allows Connect's own 404 (no such connector).
    Rebalances (409), 5xx and dropped connections are retried for REQUEST_SECONDS; then, or for any other
    failure, the error says what to do."""
    import httpx

    def call() -> Any:
        with httpx.Client(timeout=HTTP_TIMEOUT) as http:
            response = http.request(method, url.rstrip("/") + path, json=body)
        if response.is_success:
            return response.json() if response.content else None
        code, message = _message(response)
        if response.status_code == 404 and absent and code == 404:
            return None
        if response.status_code == 400 and code == 400:  # Connect's validation: the config is wrong
            raise ConnectorFailed(_refused(url, path, message))
        if response.status_code == 409 or response.status_code >= 500:
            raise _Busy(response.status_code, message)
        raise connect_failure(url, RuntimeError(message), response.status_code, message)

    def give_up(err: Exception, _error: Any) -> Exception:
        if isinstance(err, _Busy):
            return connect_failure(url, err, err.status, err.message)
        return connect_failure(url, err)

    return retrying(call, deadline_seconds=REQUEST_SECONDS, give_up=give_up, retry_if=lambda _err: True,
                    errors=(httpx.TransportError, _Busy), error_of=lambda err: err)


def _refused(url: str, path: str, message: str) -> str:
    """Connect's validation errors list messages without their keys: the advice is read from the words."""
    advice = ""
    if re.search(r"exactly.once", message, re.IGNORECASE):  # "exactly.once.support", "exactly-once source"
        advice = ("; the Connect workers need exactly.once.source.support=enabled (KIP-618, set on every worker "
                  "and rolled), or declare the flow with exactly_once=False")
    elif "class" in message.lower() and "mirror" in message.lower():
        advice = "; the workers need MirrorMaker's jars (org.apache.kafka:connect-mirror) on their plugin path"
    connector = unquote(path.split("/")[2]) if path.count("/") >= 2 else path
    return f"Kafka Connect at {url} refused the config of connector {connector}: {message}{advice}"


def summarise_trace(trace: str) -> str:
    """A Java stack trace as its first line and its last cause, without the frames."""
    lines = [line.strip() for line in trace.splitlines()]
    said = [line for line in lines if line and not line.startswith(("at ", "..."))]
    if not said:
        return "(no trace)"
    causes = [line for line in said[1:] if line.startswith("Caused by:")]
    summary = "; ".join([said[0], *causes[-1:]])
    return summary if len(summary) <= TRACE_CHARS else summary[:TRACE_CHARS - 3] + "..."


def needs_tasks(config: dict[str, Any]) -> bool:
    """The source connector has a task once its topics exist, the heartbeat connector always one; the checkpoint
    connector has none until a listed group exists in the source region."""
    return config.get("connector.class") != CONNECTOR_CLASSES[Kind.CHECKPOINT]


def running_as_declared(name: str, config: dict[str, Any], status: dict[str, Any] | None,
                        tasks: list[dict[str, Any]] | None) -> None:
    """Returns when the connector and its tasks run with `config`; raises ConnectorFailed for a failed one and
    _NotYet otherwise. A task's config carries its connector's (MirrorMaker copies it), so tasks started before
    an update are told apart from the new ones."""
    if status is None or tasks is None:
        raise _NotYet("Connect does not list it yet")
    states = [("connector", status.get("connector", {}))] + [(f"task {t.get('id')}", t)
                                                           for t in status.get("tasks", [])]
    for what, state in states:
        if state.get("state") == "FAILED":
            raise ConnectorFailed(f"connector {name}: {what} FAILED on {state.get('worker_id', '?')}: "
                                  f"{summarise_trace(state.get('trace', ''))}")
    if needs_tasks(config) and not tasks:
        raise _NotYet("no task yet (the source connector has none while none of its topics exists in the source "
                      "region: apply the home region's stack first)")
    stale = [t for t in tasks if any(t.get("config", {}).get(k) != v for k, v in config.items())]
    if stale:
        raise _NotYet(f"{len(stale)} of {len(tasks)} tasks still run an earlier config")
    waiting = [f"{what} {state.get('state')}" for what, state in states if state.get("state") != "RUNNING"]
    if waiting or len(states) - 1 < len(tasks):
        raise _NotYet(", ".join(waiting) or "tasks not reported yet")


def wait_running(url: str, name: str, config: dict[str, Any], deadline_seconds: float = READY_SECONDS) -> None:
    path = connector_path(name)

    def check() -> None:
        running_as_declared(name, config, request(url, "GET", f"{path}/status", absent=True),
                            request(url, "GET", f"{path}/tasks", absent=True))

    def give_up(err: Exception, _error: Any) -> Exception:
        why = err.why if isinstance(err, _NotYet) else str(err)
        return ConnectorFailed(f"connector {name} on Kafka Connect at {url} not running after "
                               f"{deadline_seconds:.0f}s: {why}; see GET {url.rstrip('/')}{path}/status and the "
                               "workers' logs")

    retrying(check, deadline_seconds=deadline_seconds, give_up=give_up, retry_if=lambda _err: True,
             errors=(_NotYet,), error_of=lambda err: err)


def apply_connector(props: dict[str, Any]) -> dict[str, Any]:
    """Create or update the connector (PUT is both, so a rerun after a failure converges) and wait until it runs."""
    url, name, config = props["connect_url"], props["name"], dict(props["config"])
    request(url, "PUT", f"{connector_path(name)}/config", config)
    wait_running(url, name, config)
    return {"connect_url": url, "name": name, "config": config}


def config_changes(olds: dict[str, Any] | None, news: dict[str, Any] | None) -> list[str]:
    """The config keys added, removed or changed, sorted."""
    olds, news = olds or {}, news or {}
    return sorted(k for k in olds.keys() | news.keys() if olds.get(k) != news.get(k))


class MirrorConnectorProvider(ResourceProvider):
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        name, config = news.get("name"), news.get("config")
        if not isinstance(name, str) or not is_k2_connector(name):
            failures.append(CheckFailure("name", f"must start with {CONNECTOR_PREFIX!r}: K2 manages only the "
                                         "connectors it named"))
        if not str(news.get("connect_url", "")).startswith(("http://", "https://")):
            failures.append(CheckFailure("connect_url", "must be the http(s):// URL of Kafka Connect's REST API"))
        if not isinstance(config, dict) or not all(isinstance(v, str) for v in config.values()):
            failures.append(CheckFailure("config", "must map each setting to a string"))
        elif config.get("name", name) != name:
            failures.append(CheckFailure("config", f"config.name {config.get('name')!r} is not the name {name!r}"))
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # Another name or Connect cluster is another connector: the old one goes first, so two never copy the
        # same topics at once (they keep separate offsets, so that would duplicate records in the aggregate).
        replaces = [k for k in ("name", "connect_url") if olds.get(k) != news.get(k)]
        changed = config_changes(olds.get("config"), news.get("config"))
        return DiffResult(changes=bool(replaces or changed), replaces=replaces, delete_before_replace=True)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(props["name"], apply_connector(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(apply_connector(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        url = props["connect_url"]
        config = request(url, "GET", f"{connector_path(id_)}/config", absent=True)
        if config is None:
            return ReadResult(None, {})
        return ReadResult(id_, {"connect_url": url, "name": id_, "config": config})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        if not is_k2_connector(id_):
            raise ConnectorFailed(f"refusing to delete connector {id_!r}: K2 deletes only the connectors it named "
                                  f"({CONNECTOR_PREFIX}*)")
        url = props["connect_url"]
        request(url, "DELETE", connector_path(id_), absent=True)

        def gone() -> None:
            if id_ in (request(url, "GET", "/connectors") or []):
                raise _NotYet("still listed")

        retrying(gone, deadline_seconds=READY_SECONDS, retry_if=lambda _err: True, errors=(_NotYet,),
                 error_of=lambda err: err,
                 give_up=lambda _err, _e: ConnectorFailed(f"connector {id_} still listed by Kafka Connect at {url} "
                                                          f"{READY_SECONDS:.0f}s after its deletion"))


class MirrorConnector(Resource):
    """One MirrorMaker 2 connector on a Kafka Connect cluster. Outputs: its inputs, as Connect holds them."""

    config: pulumi.Output[dict[str, str]]

    def __init__(self, name: str, *, connect_url: pulumi.Input[str], connector: str,
                 config: pulumi.Input[dict[str, str]], opts: pulumi.ResourceOptions | None = None):
        super().__init__(MirrorConnectorProvider(), name,
                         {"connect_url": connect_url, "name": connector, "config": config}, opts)
