"""A schema-registry subject as a Pulumi resource (dynamic provider over the Confluent REST API).

pulumi-kafka has no subject resource, so this small provider uses confluent-kafka's
SchemaRegistryClient. It works against any Confluent-compatible registry (Confluent, Apicurio's
/apis/ccompat/v7, Redpanda). Credentials arrive as a secret input, so the state keeps them encrypted,
and the provider object itself holds none.

Keep this module's path: Pulumi stores the provider in state pickled by reference to it, and reads
it back from there for refresh and destroy.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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

from k2infra.contracts.naming import COMPATIBILITY_LEVELS
from k2infra.contracts.registry_client import registry_client_settings, tls_verify
from k2infra.model.avro_files import same_schema
from k2infra.observed.failures import registry_failure


class IncompatibleSchemaError(Exception):
    """The registry would refuse the schema under the subject's compatibility level."""


def _client(props: dict[str, Any]) -> Any:
    # Imported here so that declaring resources (and unit tests with mocks) need no registry client.
    from confluent_kafka.schema_registry import SchemaRegistryClient

    return SchemaRegistryClient(registry_client_settings(props["registry_url"], props.get("basic_auth"),
                                                         props.get("ca_cert")))


def _not_found(err: Exception) -> bool:
    """The registry's own "no such subject / version / schema" (Confluent's 404xx error codes, which
    Apicurio's ccompat API and Redpanda share). A 404 without such a code means there is no registry API
    at that URL at all: never taken for a subject that is gone."""
    code = getattr(err, "error_code", None)
    return getattr(err, "http_status_code", None) == 404 and isinstance(code, int) and code // 100 == 404


def _incompatible(err: Exception) -> bool:
    return getattr(err, "http_status_code", None) == 409


@contextmanager
def _registry_calls(url: str) -> Iterator[None]:
    """Registry failures as the Unreachable family (credentials, TLS, a wrong URL, an outage), each
    with its own message; an incompatible schema is the caller's to report."""
    try:
        yield
    except IncompatibleSchemaError:
        raise
    except Exception as err:
        failure = None if _incompatible(err) else registry_failure(url, err)
        if failure is None:
            raise
        raise failure from None


def apply_subject(props: dict[str, Any], restored: bool = False) -> dict[str, Any]:
    """Make the registry hold `props['schema']` as the latest version of the subject, safely.

    The compatibility level is set first, so the new version is checked under it; the check is run
    explicitly before registering, so an incompatible schema fails with the registry's reasons and
    registers nothing. Registering a schema the subject already has returns its id and makes no new
    version, which makes this idempotent: a rerun after a failure converges.
    """
    from confluent_kafka.schema_registry import Schema

    client = _client(props)
    subject, schema = props["subject"], Schema(props["schema"], "AVRO")
    refused = (f"subject {subject}: the new schema is not {props['compatibility']} compatible with the "
               "latest registered version; add new fields with defaults instead of changing or removing "
               "required ones")
    with _registry_calls(props["registry_url"]):
        client.set_compatibility(subject_name=subject, level=props["compatibility"])
        if _has_versions(client, subject) and not _already_registered(client, subject, schema):
            try:
                compatible = client.test_compatibility(subject, schema)
            except Exception as err:
                if not _incompatible(err):
                    raise  # not a verdict on the schema: reported by _registry_calls as what it is
                compatible = False
                refused += f" (the registry: {err})"  # its message may name the incompatible field
            if not compatible:
                raise IncompatibleSchemaError(refused)
        try:
            schema_id = client.register_schema(subject, schema)
        except Exception as err:  # another writer registered an incompatible version meanwhile
            if _incompatible(err):
                raise IncompatibleSchemaError(f"{refused} (the registry: {err})") from None
            if not restored and _not_found(err) and restore_soft_deleted(props):
                return apply_subject(props, restored=True)  # deleted softly earlier: back with its ids
            raise
        registered = client.lookup_schema(subject, schema)
    return {**props, "schema_id": schema_id, "version": registered.version}


APICURIO_CCOMPAT = "/apis/ccompat/v7"


def restore_soft_deleted(props: dict[str, Any]) -> bool:
    """Bring back a subject that K2 deleted softly, with its versions and ids, before declaring it again.

    A Confluent registry does this by itself on the next registration. Apicurio's Confluent API refuses to
    register under a soft-deleted subject (404): its soft delete disables the versions, so they are
    enabled again through its own API. Returns whether anything was restored.
    """
    import httpx

    url = str(props["registry_url"])
    if not url.rstrip("/").endswith(APICURIO_CCOMPAT):
        return False
    auth = tuple(props["basic_auth"].split(":", 1)) if props.get("basic_auth") else None
    native = url.rstrip("/").removesuffix(APICURIO_CCOMPAT) + "/apis/registry/v3"
    versions = f"{native}/groups/default/artifacts/{props['subject']}/versions"
    with httpx.Client(auth=auth, timeout=30, verify=tls_verify(url, props.get("ca_cert"))) as http:  # type: ignore[arg-type]
        listed = http.get(versions)
        if listed.status_code == 404:
            return False  # never registered
        listed.raise_for_status()
        disabled = [v["version"] for v in listed.json().get("versions", []) if v.get("state") == "DISABLED"]
        for version in disabled:
            http.put(f"{versions}/{version}/state", json={"state": "ENABLED"}).raise_for_status()
    return bool(disabled)


def _has_versions(client: Any, subject: str) -> bool:
    try:
        return bool(client.get_versions(subject))
    except Exception as err:
        if _not_found(err):
            return False
        raise


def _already_registered(client: Any, subject: str, schema: Any) -> bool:
    try:
        client.lookup_schema(subject, schema)
        return True
    except Exception as err:
        if _not_found(err):
            return False
        raise


class SchemaSubjectProvider(ResourceProvider):
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        if news.get("compatibility") not in COMPATIBILITY_LEVELS:
            failures.append(CheckFailure("compatibility", f"must be one of {list(COMPATIBILITY_LEVELS)}"))
        if not news.get("subject"):
            failures.append(CheckFailure("subject", "must not be empty"))
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        watched = ("subject", "compatibility", "registry_url", "basic_auth")
        changed = [k for k in watched if olds.get(k) != news.get(k)]
        if not same_schema(olds.get("schema"), news.get("schema")):
            changed.append("schema")
        return DiffResult(
            changes=bool(changed),
            replaces=["subject"] if "subject" in changed else [],
            delete_before_replace=False,
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = apply_subject(props)
        return CreateResult(props["subject"], outs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(apply_subject(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        client = _client(props)
        with _registry_calls(props["registry_url"]):
            try:
                latest = client.get_latest_version(id_)
                level = client.get_compatibility(id_)
            except Exception as err:
                if _not_found(err):
                    return ReadResult(None, {})
                raise
        # Keep our own spelling of an unchanged schema: registries may return it reformatted.
        schema = props.get("schema") if same_schema(props.get("schema"), latest.schema.schema_str) \
            else latest.schema.schema_str
        outs = {**props, "subject": id_, "schema": schema, "compatibility": level,
                "schema_id": latest.schema_id, "version": latest.version}
        return ReadResult(id_, outs)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        # Soft delete only: the subject leaves the registry's listings, while its schemas stay readable by
        # id, so messages kept on retained topics still decode. Never a permanent delete.
        with _registry_calls(props["registry_url"]):
            try:
                _client(props).delete_subject(id_, permanent=False)
            except Exception as err:
                if not _not_found(err):
                    raise


class SchemaSubject(Resource):
    """One subject with its schema and compatibility level. Outputs: schema_id, version."""

    schema_id: pulumi.Output[int]
    version: pulumi.Output[int]

    def __init__(
        self,
        name: str,
        *,
        subject: str,
        schema: str,
        compatibility: str,
        registry_url: pulumi.Input[str],
        basic_auth: pulumi.Input[str] | None = None,
        ca_cert: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        props = {
            "subject": subject,
            "schema": schema,
            "compatibility": compatibility,
            "registry_url": registry_url,
            "basic_auth": pulumi.Output.secret(basic_auth) if basic_auth is not None else None,
            # The registry's CA (PEM; the stack's k2:caCert, kept secret as it came): a change of CA is no change
            # of the subject, so diff does not watch it.
            "ca_cert": pulumi.Output.secret(ca_cert) if ca_cert is not None else None,
            "schema_id": None,
            "version": None,
        }
        secret_outputs = pulumi.ResourceOptions(additional_secret_outputs=["basic_auth", "ca_cert"])
        opts = pulumi.ResourceOptions.merge(opts, secret_outputs)
        super().__init__(SchemaSubjectProvider(), name, props, opts)
