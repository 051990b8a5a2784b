"""Users as code in the model: which environments manage the apps' SCRAM users, the located errors (a password
in topics.yaml, a user declared twice, a bad decommission entry), and what happens to the user of an app that
left topics.yaml (kept until its principal is listed for decommissioning)."""

from __future__ import annotations

import pytest

from k2infra.model import TopologyError, load_topology
from k2infra.model.users import SCRAM_MECHANISM, AppUser, plan_users
from tests.conftest import ROOT, make_project

SHIPPED = (ROOT / "topics.yaml").read_text()
DEV = "  dev:\n    replication_factor: 1\n"


def topology(tmp_path, text: str = SHIPPED, environment: str = "prod"):
    return load_topology(make_project(tmp_path, text) / "topics.yaml", environment)


def problem(tmp_path, text: str, environment: str = "dev"):
    with pytest.raises(TopologyError) as raised:
        topology(tmp_path, text, environment)
    [found] = raised.value.problems
    return found


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    return [i for i, line in enumerate(text.splitlines(), 1) if needle in line][occurrence - 1]


def test_prod_manages_a_scram_sha_512_user_per_app_named_after_its_principal(tmp_path):
    found = topology(tmp_path)
    assert [(u.app, u.username, u.mechanism) for u in found.users] == sorted(
        (a.name, a.principal.removeprefix("User:"), SCRAM_MECHANISM) for a in found.apps)
    assert len(found.users) == 8


def test_by_default_an_environment_manages_users_where_it_enforces_acls(tmp_path):
    assert topology(tmp_path, environment="dev").users == ()  # a plain dev broker: no SASL users
    secured = SHIPPED.replace(DEV, "  dev:\n    access_control: true\n    replication_factor: 1\n", 1)
    assert len(topology(tmp_path / "a", secured, "dev").users) == 8
    users_only = SHIPPED.replace(DEV, "  dev:\n    manage_users: true\n    replication_factor: 1\n", 1)
    assert len(topology(tmp_path / "b", users_only, "dev").users) == 8
    opted_out = SHIPPED.replace("    access_control: true ", "    manage_users: false\n    access_control: true ", 1)
    assert topology(tmp_path / "c", opted_out).users == ()


@pytest.mark.parametrize("key", ["password", "sasl_password", "scram_secret", "token"])
def test_a_password_in_topics_yaml_is_refused_at_its_key_without_repeating_it(tmp_path, key):
    text = SHIPPED.replace('    principal: "User:asx-feed"\n',
                           f'    principal: "User:asx-feed"\n    {key}: "hunter2-hunter2"\n', 1)
    found = problem(tmp_path, text)
    assert (found.key, found.line) == (f"apps.asx-feed.{key}", line_of(text, f"{key}: "))
    assert "never written in topics.yaml" in found.message
    assert "hunter2" not in str(found)


def test_a_user_declared_twice_is_refused_at_the_second_app(tmp_path):
    text = SHIPPED.replace('principal: "User:binance-feed"', 'principal: "User:asx-feed"', 1)
    found = problem(tmp_path, text)
    assert found.key == "apps.binance-feed.principal"
    assert found.line == line_of(text, 'principal: "User:asx-feed"', 2)
    assert "already the principal of app 'asx-feed'" in found.message


def test_a_decommissioned_user_must_be_no_apps_any_more(tmp_path):
    text = SHIPPED.replace(DEV, DEV + "    decommission: [User:asx-feed]\n", 1)
    found = problem(tmp_path, text)
    assert (found.key, found.line) == ("environments.dev.decommission.[0]", line_of(text, "decommission: [User"))
    assert "still the principal of app 'asx-feed'" in found.message
    gone = SHIPPED.replace(DEV, DEV + "    decommission: [User:old-feed]\n", 1)
    assert topology(tmp_path / "ok", gone, "dev").decommission == ("User:old-feed",)
    malformed = SHIPPED.replace(DEV, DEV + "    decommission: ['User:*']\n", 1)
    assert "list a user as User:<name>" in problem(tmp_path / "bad", malformed).message


def test_a_user_whose_app_left_is_kept_until_its_principal_is_decommissioned():
    desired = [AppUser("asx-feed", "asx-feed")]
    managed = {"asx-feed": "asx-feed", "old-feed": "old-feed"}
    kept = plan_users(desired, managed, (), "prod")
    assert [u.app for u in kept.declare] == ["asx-feed", "old-feed"]
    assert [u.app for u in kept.retained] == ["old-feed"] and kept.delete == []
    assert "list User:old-feed under environments.prod.decommission" in kept.warnings[0]
    gone = plan_users(desired, managed, ("User:old-feed", "market.crypto.trades.ftx"), "prod")
    assert [u.app for u in gone.declare] == ["asx-feed"] and [u.app for u in gone.delete] == ["old-feed"]
    assert plan_users(desired, {"asx-feed": "asx-feed"}, (), "prod").warnings == []
