"""An app's SCRAM login from its credential source (k2infra.contracts.credential_sources), and a follower that
rereads the source when the brokers refuse the login, so an app keeps working after `k2 users rotate`.

librdkafka authenticates a connection once, when it opens it: a rotation leaves open connections working and
refuses the next one (SASL authentication failed). Its error callback is then called from the client's own
poll()/flush(); the follower then rereads the source (on a thread of its own, once the callback returned) and,
if the password changed, hands it to the client (`set_sasl_credentials`), which uses it for the next connection
it opens. Nothing is reread on a timer: a source is read at start and after each refusal only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from confluent_kafka import KafkaError

from k2infra.clients.errors import ClientError
from k2infra.contracts.credential_sources import CredentialSource, parse_document

log = logging.getLogger(__name__)
SCRAM_SHA_512 = "SCRAM-SHA-512"


class CredentialSourceError(ClientError):
    """The credential source cannot be read; the message names it (never its content)."""


@dataclass(frozen=True)
class SaslLogin:
    username: str
    password: str = field(repr=False)  # never in a repr, a log or a traceback's locals
    mechanism: str = SCRAM_SHA_512


def read_source(source: str | CredentialSource) -> SaslLogin:
    """The login a source holds now: a file's path (or file:...), secretsmanager:<name>, or a secret's ARN."""
    try:
        where = source if isinstance(source, CredentialSource) else CredentialSource.parse(source)
    except ValueError as err:
        raise CredentialSourceError(str(err)) from None
    text = _read_file(where) if where.kind == "file" else _read_secret(where)
    try:
        data = parse_document(text, where.url)
    except ValueError as err:
        raise CredentialSourceError(str(err)) from None
    return SaslLogin(data["username"], data["password"], str(data.get("sasl_mechanism") or SCRAM_SHA_512))


def _read_file(where: CredentialSource) -> str:
    try:
        return Path(where.name).read_text()
    except OSError as err:
        raise CredentialSourceError(f"cannot read the credential source {where.name} ({err.strerror or err}): is "
                                    "the app's user managed on this stack (manage_users), and was `pulumi up` run?"
                                    ) from None


def _read_secret(where: CredentialSource) -> str:
    from k2infra.backend.aws_access import aws_client, aws_error

    try:
        reply = aws_client("secretsmanager", region=where.region).get_secret_value(SecretId=where.name)
    except Exception as err:
        reason = ": ".join(filter(None, aws_error(err)[:2])) if hasattr(err, "response") else type(err).__name__
        raise CredentialSourceError(f"cannot read the credential source {where.url} ({reason}): the app's AWS "
                                    "identity needs secretsmanager:GetSecretValue on it") from None
    return str(reply.get("SecretString") or "")


class _SaslClient(Protocol):
    def set_sasl_credentials(self, username: str, password: str) -> None: ...


class SourceFollower:
    """librdkafka's error_cb for a client logged in from a credential source (see the module's docstring)."""

    def __init__(self, source: str, login: SaslLogin, then: Callable[[KafkaError], Any] | None = None):
        self.source, self._login, self._then = source, login, then
        self._client: _SaslClient | None = None
        self._worker: threading.Thread | None = None
        self.refreshed = 0  # how many times a new password was handed to the client

    def attach(self, client: _SaslClient) -> None:
        self._client = client

    def __call__(self, error: KafkaError) -> None:
        if error.code() == KafkaError._AUTHENTICATION and not (self._worker and self._worker.is_alive()):
            # Not from inside the callback: confluent-kafka aborts the process when a client method is called
            # from a callback that its poll()/flush() is serving. A thread does it as soon as they let go.
            self._worker = threading.Thread(target=self.refresh, name="k2-credential-source", daemon=True)
            self._worker.start()
        if self._then is not None:
            self._then(error)

    def wait(self, timeout: float | None = None) -> None:
        """Until a reread in progress is done (tests, and an app that wants to know)."""
        if self._worker is not None:
            self._worker.join(timeout)

    def refresh(self) -> bool:
        """Reread the source; True if the client was given a new login. A source that cannot be read now is
        logged and retried on the next refusal: the client keeps its login."""
        try:
            login = read_source(self.source)
        except CredentialSourceError as err:
            log.warning("the brokers refused the login and %s", err)
            return False
        if login == self._login or self._client is None:
            return False
        self._client.set_sasl_credentials(login.username, login.password)
        self._login = login
        self.refreshed += 1
        log.info("the brokers refused the login: using the new password of %s from %s", login.username,
                 self.source)
        return True


def follow_source(config: MutableMapping[str, Any], source: str | None, login: SaslLogin | None
                  ) -> SourceFollower | None:
    """Install a SourceFollower as `config`'s error_cb (calling the caller's own after it), if the login came
    from a source; attach it to the client once made."""
    if source is None or login is None:
        return None
    follower = SourceFollower(source, login, config.get("error_cb"))
    config["error_cb"] = follower
    return follower
