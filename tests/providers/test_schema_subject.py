"""The subject provider tells an incompatible schema from a registry it cannot use, and a missing subject from
a wrong registry URL. The registry's answers are the exceptions confluent-kafka raises for them; the real
registry is exercised in tests/e2e."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka.schema_registry.common._httpx_compat import httpx
from confluent_kafka.schema_registry.error import SchemaRegistryError

from k2infra.observed.failures import AuthenticationFailed, NotFound, Unreachable
from k2infra.providers import schema_subject
from k2infra.providers.schema_subject import IncompatibleSchemaError, SchemaSubjectProvider, apply_subject

URL = "http://127.0.0.1:8081/apis/ccompat/v7"
SCHEMA = '{"type": "record", "name": "T", "fields": [{"name": "a", "type": "int"}]}'
PROPS = {"subject": "market.equities.trades-value", "schema": SCHEMA, "compatibility": "BACKWARD",
         "registry_url": URL, "basic_auth": None}
NO_SUBJECT = SchemaRegistryError(404, 40401, "Subject 'market.equities.trades-value' not found.")
NO_API = SchemaRegistryError(404, None, None)  # type: ignore[arg-type]  # a path that is not a registry API


class Registry:
    """Answers each call from `answers` (a value, or an exception to raise); records the calls made."""

    def __init__(self, **answers: Any) -> None:
        self.answers = {"set_compatibility": None, "get_versions": [1], "register_schema": 2, **answers}
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        def call(*_args: Any, **_kwargs: Any) -> Any:
            self.calls.append(name)
            answer = self.answers[name]
            if isinstance(answer, BaseException):
                raise answer
            return answer

        return call


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch):
    def install(**answers: Any) -> Registry:
        fake = Registry(**answers)
        monkeypatch.setattr(schema_subject, "_client", lambda _props: fake)
        return fake

    return install


def connection_refused() -> BaseException:
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError as err:
            raise httpx.ConnectError("[Errno 111] Connection refused") from err
    except httpx.ConnectError as err:
        return err


def test_an_explicit_not_compatible_is_incompatible(registry):
    fake = registry(lookup_schema=NO_SUBJECT, test_compatibility=False)
    with pytest.raises(IncompatibleSchemaError, match="not BACKWARD compatible"):
        apply_subject(PROPS)
    assert "register_schema" not in fake.calls


def test_a_409_is_incompatible_with_the_registrys_reason(registry):
    conflict = SchemaRegistryError(409, 409, "Incompatible artifact: reader type: STRING not compatible with "
                                             "writer type: INT at /fields/0/type")
    fake = registry(lookup_schema=NO_SUBJECT, test_compatibility=conflict)
    with pytest.raises(IncompatibleSchemaError, match=r"not BACKWARD compatible.*/fields/0/type"):
        apply_subject(PROPS)
    assert "register_schema" not in fake.calls


def test_a_network_error_during_the_check_is_unreachable_not_incompatible(registry):
    fake = registry(lookup_schema=NO_SUBJECT, test_compatibility=connection_refused())
    with pytest.raises(Unreachable) as caught:
        apply_subject(PROPS)
    assert not isinstance(caught.value, IncompatibleSchemaError)
    assert str(caught.value).startswith(f"cannot reach the schema registry at {URL} (")
    assert "register_schema" not in fake.calls


def test_refused_credentials_are_an_authentication_failure(registry):
    registry(set_compatibility=SchemaRegistryError(401, 40101, "Unauthorized"))
    with pytest.raises(AuthenticationFailed, match="k2:schemaRegistryPassword"):
        apply_subject(PROPS)


def test_a_wrong_registry_url_is_not_found_naming_it(registry):
    registry(set_compatibility=NO_API)
    with pytest.raises(NotFound, match=rf"no schema registry API at {URL} \(HTTP 404\)"):
        apply_subject(PROPS)


def test_a_first_version_is_registered_when_the_subject_does_not_exist(registry):
    fake = registry(get_versions=NO_SUBJECT, lookup_schema=type("Registered", (), {"version": 1})())
    assert apply_subject(PROPS)["version"] == 1
    assert "test_compatibility" not in fake.calls and "register_schema" in fake.calls


def test_refresh_forgets_a_subject_only_when_the_registry_says_it_is_gone(registry):
    registry(get_latest_version=NO_SUBJECT)
    assert SchemaSubjectProvider().read(PROPS["subject"], PROPS).id is None
    registry(get_latest_version=NO_API)  # a wrong URL: the subject is not gone, the question went nowhere
    with pytest.raises(NotFound):
        SchemaSubjectProvider().read(PROPS["subject"], PROPS)


def test_delete_of_a_subject_already_gone_succeeds_but_a_wrong_url_fails(registry):
    registry(delete_subject=NO_SUBJECT)
    SchemaSubjectProvider().delete(PROPS["subject"], PROPS)
    registry(delete_subject=NO_API)
    with pytest.raises(NotFound):
        SchemaSubjectProvider().delete(PROPS["subject"], PROPS)
