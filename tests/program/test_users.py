"""The apps' users in the program, under mocks: one AppUser per app where the environment manages users (its
generated password, Kafka credential and credential source), the sources' place from k2:userSources, and the
user of an app gone from topics.yaml kept until its principal is decommissioned."""

from __future__ import annotations

import pytest

from k2infra.model import load_topology
from k2infra.observed.stack_record import StackRecord
from tests.program.conftest import DYNAMIC, LOCAL, PROD, run_program

USER = "kafka:index/userScramCredential:UserScramCredential"
PROD = {**PROD, "k2:tls": "true"}


def test_prod_declares_each_apps_user_password_and_source_and_dev_none(project):
    assert run_program(project, LOCAL).of_type(USER) == []  # dev: no authorizer, no users to manage
    run = run_program(project, PROD, stack="prod")
    apps = load_topology(project / "topics.yaml", "prod").apps
    users = {r.name: r for r in run.of_type(USER)}
    assert sorted(users) == sorted(f"{a.name}/user" for a in apps)
    feed = users["asx-feed/user"]
    assert (feed.inputs["username"], feed.inputs["scramMechanism"]) == ("asx-feed", "SCRAM-SHA-512")
    assert feed.provider and "pulumi:providers:kafka::kafka" in feed.provider
    source = run.named("asx-feed/credentials")
    assert source.typ == DYNAMIC
    assert source.inputs["source"] == f"file:{project.resolve()}/.k2/credentials/prod/asx-feed.json"
    assert (source.inputs["username"], source.inputs["mechanism"]) == ("asx-feed", "SCRAM-SHA-512")
    assert run.named("asx-feed/password").typ == DYNAMIC


def test_the_stack_setting_puts_the_sources_in_secrets_manager(project):
    run = run_program(project, {**PROD, "k2:userSources": "secretsmanager:k2/prod/"}, stack="prod")
    assert run.named("iceberg-writer/credentials").inputs["source"] == "secretsmanager:k2/prod/iceberg-writer"
    with pytest.raises(Exception, match=r"k2:userSources: 'relative/dir' is neither"):
        run_program(project, {**PROD, "k2:userSources": "relative/dir"}, stack="prod")


def test_the_user_of_an_app_gone_from_topics_yaml_stays_until_decommissioned(project, cluster):
    cluster.state = StackRecord(users={"old-feed": "old-feed", "asx-feed": "asx-feed"})
    run = run_program(project, PROD, stack="prod")
    assert "old-feed/user" in {r.name for r in run.of_type(USER)}
    text = (project / "topics.yaml").read_text()
    (project / "topics.yaml").write_text(text.replace("    access_control: true ", "    decommission: [User:old-feed]\n"
                                                      "    access_control: true ", 1))
    run = run_program(project, PROD, stack="prod")
    assert "old-feed/user" not in {r.name for r in run.of_type(USER)}
    assert "asx-feed/user" in {r.name for r in run.of_type(USER)}
