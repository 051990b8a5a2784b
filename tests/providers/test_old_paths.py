"""Stacks created before the dynamic providers moved to k2infra.providers keep working: Pulumi stores each provider
in state pickled by reference to its module (k2infra.components.schema_subject, ...published_outputs), and
their refresh and destroy unpickle it from there. tests/e2e/test_upgrade.py does it on a real stack."""

from __future__ import annotations

import base64
import importlib

import dill
import pytest
from pulumi.dynamic.dynamic import serialize_provider

from k2infra.providers.published_outputs import PublishedOutputsProvider
from k2infra.providers.schema_subject import SchemaSubjectProvider

# What the previous release (9f07e56) stored in state as each resource's __provider: serialize_provider() of
# SchemaSubjectProvider() and PublishedOutputsProvider(), as k2infra.components.* defined them then.
PREVIOUS_RELEASE = {
    "k2infra.components.schema_subject": (
        "gASVQgAAAAAAAACMIWsyaW5mcmEuY29tcG9uZW50cy5zY2hlbWFfc3ViamVjdJSMFVNjaGVtYVN1YmplY3RQcm92aW"
        "RlcpSTlCmBlC4="
    ),
    "k2infra.components.published_outputs": (
        "gASVSAAAAAAAAACMJGsyaW5mcmEuY29tcG9uZW50cy5wdWJsaXNoZWRfb3V0cHV0c5SMGFB1Ymxpc2hlZE91dHB1dH"
        "NQcm92aWRlcpSTlCmBlC4="
    ),
}


@pytest.mark.parametrize("module", sorted(PREVIOUS_RELEASE))
def test_a_provider_pickled_by_the_previous_release_unpickles_as_the_moved_one(module):
    assert module.encode() in base64.b64decode(PREVIOUS_RELEASE[module])  # pickled by reference to the old path
    provider = dill.loads(base64.b64decode(PREVIOUS_RELEASE[module]))  # as pulumi.dynamic's provider host does
    moved = {"k2infra.components.schema_subject": SchemaSubjectProvider,
             "k2infra.components.published_outputs": PublishedOutputsProvider}[module]
    assert type(provider) is moved


def test_the_old_paths_re_export_the_providers_and_their_resources():
    old = importlib.import_module("k2infra.components.schema_subject")
    new = importlib.import_module("k2infra.providers.schema_subject")
    for name in ("SchemaSubjectProvider", "SchemaSubject", "IncompatibleSchemaError"):
        assert getattr(old, name) is getattr(new, name)
    old = importlib.import_module("k2infra.components.published_outputs")
    new = importlib.import_module("k2infra.providers.published_outputs")
    for name in ("PublishedOutputsProvider", "PublishedOutputs"):
        assert getattr(old, name) is getattr(new, name)


def test_an_unpickled_provider_works():
    provider = dill.loads(base64.b64decode(PREVIOUS_RELEASE["k2infra.components.schema_subject"]))
    result = provider.check({}, {"subject": "market.equities.trades-value", "compatibility": "BACKWARD"})
    assert result.failures == []
    assert [f.property for f in provider.check({}, {"subject": "", "compatibility": "NONE?"}).failures] == [
        "compatibility", "subject"]


def test_state_written_from_now_on_names_the_new_paths():
    assert b"k2infra.providers.schema_subject" in base64.b64decode(serialize_provider(SchemaSubjectProvider()))
    assert b"k2infra.providers.published_outputs" in base64.b64decode(
        serialize_provider(PublishedOutputsProvider()))
