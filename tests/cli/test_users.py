"""`k2 users rotate`: which resources of the stack's state it replaces (the app's generated password, with its
dependents: the Kafka credential and the credential source), and what it says when the stack has no such user.
The rotation itself, on a real broker, is in tests/e2e/test_users.py."""

from __future__ import annotations

from typing import Any

from typer.testing import CliRunner

from k2infra.backend import stack_state
from k2infra.cli import app
from k2infra.cli.users import managed_users, rotate_args
from k2infra.observed.stack_record import parse_export
from tests.conftest import ROOT

runner = CliRunner()
BASE = "urn:pulumi:prod::k2::k2:access:AppUser"


def export(*apps: str) -> dict[str, Any]:
    resources: list[dict[str, Any]] = [{"urn": "urn:pulumi:prod::k2::pulumi:pulumi:Stack::k2-prod",
                                        "type": "pulumi:pulumi:Stack"}]
    for name in apps:
        resources += [
            {"urn": f"{BASE}::{name}", "type": "k2:access:AppUser"},
            {"urn": f"{BASE}$pulumi-python:dynamic:Resource::{name}/password", "type": "pulumi-python:dynamic:Resource",
             "inputs": {"bytes": 32}},
            {"urn": f"{BASE}$kafka:index/userScramCredential:UserScramCredential::{name}/user",
             "type": "kafka:index/userScramCredential:UserScramCredential",
             "inputs": {"username": name, "scramMechanism": "SCRAM-SHA-512"}},
            {"urn": f"{BASE}$pulumi-python:dynamic:Resource::{name}/credentials",
             "type": "pulumi-python:dynamic:Resource", "id": f"secretsmanager:k2/prod/{name}"},
        ]
    return {"version": 3, "deployment": {"resources": resources}}


def test_the_state_names_each_apps_password_and_source():
    users = managed_users(export("asx-feed", "iceberg-writer"))
    assert sorted(users) == ["asx-feed", "iceberg-writer"]
    feed = users["asx-feed"]
    assert (feed.username, feed.source) == ("asx-feed", "secretsmanager:k2/prod/asx-feed")
    assert feed.password_urn == f"{BASE}$pulumi-python:dynamic:Resource::asx-feed/password"
    args = rotate_args("prod", feed)
    assert args[:2] == ["up", "--stack"] and "--target-dependents" in args
    assert args[args.index("--replace") + 1] == args[args.index("--target") + 1] == feed.password_urn


def test_the_stack_record_keeps_the_users_it_declared():
    assert parse_export(export("asx-feed", "old-feed")).users == {"asx-feed": "asx-feed", "old-feed": "old-feed"}


def test_an_app_without_a_managed_user_is_refused_naming_those_it_has(monkeypatch):
    monkeypatch.setattr(stack_state, "read_state", lambda *args, **kwargs: export("asx-feed"))
    result = runner.invoke(app, ["users", "rotate", "--stack", "prod", "--app", "nobody",
                                 "--config", str(ROOT / "topics.yaml")])
    assert result.exit_code == 1
    assert "stack prod manages no user for the app 'nobody'; its app users: asx-feed" in result.output
    monkeypatch.setattr(stack_state, "read_state", lambda *args, **kwargs: export())
    result = runner.invoke(app, ["users", "rotate", "--stack", "prod", "--app", "asx-feed",
                                 "--config", str(ROOT / "topics.yaml")])
    assert "is manage_users on for its environment" in result.output
