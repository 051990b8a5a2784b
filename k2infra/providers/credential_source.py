"""An app's credential source as a resource (dynamic provider): its login written where the app reads it, a
0600 file (the local platform) or an AWS Secrets Manager secret (team and prod operations).

A resource, so that Pulumi's state records what was written: an update stopped halfway (the Kafka user has the
new password, the source not yet) leaves the source's inputs behind the state's, and the next `pulumi up`
writes it. The password arrives as a secret input and is declared a secret output: the state keeps it
encrypted. boto3 finds AWS credentials at run time, so none reach the state. Deleting the resource (an app's
user decommissioned) removes the file, or schedules the secret's deletion (Secrets Manager's 7-day window).

Keep this module's path: Pulumi stores the provider in state pickled by reference to it.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

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

from k2infra.contracts.credential_sources import SETTING, CredentialSource, document
from k2infra.local.security import write_private

RECOVERY_DAYS = 7  # the shortest window Secrets Manager allows: a mistaken decommission can still be undone
FIELDS = ("source", "username", "password", "mechanism")


def write_source(source: CredentialSource, text: str) -> None:
    if source.kind == "file":
        path = Path(source.name)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private(path, text)
        return
    client = _secrets_client(source)
    try:
        described = client.describe_secret(SecretId=source.name)
    except client.exceptions.ResourceNotFoundException:
        client.create_secret(Name=source.name, SecretString=text,
                             Description="K2: an app's SCRAM login, written by its stack (k2 users rotate)")
        return
    if "DeletedDate" in described:  # scheduled for deletion: a decommission undone
        client.restore_secret(SecretId=source.name)
    client.put_secret_value(SecretId=source.name, SecretString=text)


def remove_source(source: CredentialSource) -> None:
    if source.kind == "file":
        Path(source.name).unlink(missing_ok=True)
        return
    client = _secrets_client(source)
    with contextlib.suppress(client.exceptions.ResourceNotFoundException):
        client.delete_secret(SecretId=source.name, RecoveryWindowInDays=RECOVERY_DAYS)


def source_exists(source: CredentialSource) -> bool:
    if source.kind == "file":
        return Path(source.name).is_file()
    client = _secrets_client(source)
    try:
        return "DeletedDate" not in client.describe_secret(SecretId=source.name)
    except client.exceptions.ResourceNotFoundException:
        return False


def _secrets_client(source: CredentialSource) -> Any:
    from k2infra.backend.aws_access import aws_client

    return aws_client("secretsmanager", region=source.region)


def _text(props: dict[str, Any]) -> str:
    return document(props["username"], props["password"], props["mechanism"])


def _explained(doing: str, props: dict[str, Any], err: Exception) -> Exception:
    from k2infra.backend.aws_access import aws_error

    if hasattr(err, "response"):
        reason = ": ".join(filter(None, aws_error(err)[:2]))
    else:
        reason = f"{type(err).__name__}: {err.strerror}" if isinstance(err, OSError) else type(err).__name__
    return Exception(f"{doing} the credential source {props['source']} ({reason}): check {SETTING} and, for "
                     "Secrets Manager, that the deployer may create, write and delete secrets there")


class CredentialSourceProvider(ResourceProvider):
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        try:
            CredentialSource.parse(str(news.get("source") or ""))
        except ValueError as err:
            return CheckResult(news, [CheckFailure("source", f"{SETTING}: {err}")])
        return CheckResult(news, [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in FIELDS if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=["source"] if "source" in changed else [],
                          delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        self._write(props)
        return CreateResult(CredentialSource.parse(props["source"]).url, props)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        self._write(news)
        return UpdateResult(news)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: a source removed by hand is gone from the state too, and the next up writes it again."""
        try:
            exists = source_exists(CredentialSource.parse(props["source"]))
        except Exception as err:
            raise _explained("reading", props, err) from None
        return ReadResult(id_, props) if exists else ReadResult(None, {})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        try:
            remove_source(CredentialSource.parse(props["source"]))
        except Exception as err:
            raise _explained("removing", props, err) from None

    def _write(self, props: dict[str, Any]) -> None:
        try:
            write_source(CredentialSource.parse(props["source"]), _text(props))
        except Exception as err:
            raise _explained("writing", props, err) from None


class AppCredentialSource(Resource):
    """One app's login where the app reads it (k2infra.clients.credentials.read_source)."""

    def __init__(self, name: str, *, source: CredentialSource, username: pulumi.Input[str],
                 password: pulumi.Input[str], mechanism: str, opts: pulumi.ResourceOptions | None = None):
        props = {"source": source.url, "username": username, "password": pulumi.Output.secret(password),
                 "mechanism": mechanism}
        secret = pulumi.ResourceOptions(additional_secret_outputs=["password"])
        super().__init__(CredentialSourceProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret))
