""".github/workflows/preview.yml, read as data: the pull request's code never runs with the secrets, and the
secrets reach only the step that needs them (docs/team-operations.md, "Previews in CI")."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.conftest import ROOT

WORKFLOW_FILE = ROOT / ".github" / "workflows" / "preview.yml"
WORKFLOW: dict[str, Any] = YAML(typ="safe").load(WORKFLOW_FILE.read_text())  # YAML 1.2: `on` stays a string
JOB: dict[str, Any] = WORKFLOW["jobs"]["preview"]
STEPS: list[dict[str, Any]] = JOB["steps"]
SECRET = re.compile(r"\bsecrets\.")
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")


def text(value: Any) -> str:
    """Every string in a step, job or mapping, for searching."""
    if isinstance(value, dict):
        return " ".join(f"{k} {text(v)}" for k, v in value.items())
    if isinstance(value, list):
        return " ".join(text(v) for v in value)
    return str(value)


def name(step: dict[str, Any]) -> str:
    return str(step.get("name") or step.get("uses") or step.get("run"))


def checkouts() -> list[dict[str, Any]]:
    return [s for s in STEPS if str(s.get("uses", "")).startswith("actions/checkout@")]


def preview_step() -> dict[str, Any]:
    [step] = [s for s in STEPS if s.get("id") == "preview"]
    return step


def test_it_runs_on_pull_request_target_for_the_topology_only():
    assert set(WORKFLOW["on"]) == {"pull_request_target"}  # not pull_request: that would run the head's workflow
    assert WORKFLOW["on"]["pull_request_target"]["paths"] == ["topics.yaml", "schemas/**"]


def test_no_secret_in_the_workflow_or_job_environment():
    for where in (WORKFLOW.get("env", {}), JOB.get("env", {})):
        assert not SECRET.search(text(where)), where
    assert not SECRET.search(text({k: v for k, v in JOB.items() if k != "steps"}))
    assert WORKFLOW["permissions"] == {}  # nothing by default; the job asks for exactly what it uses
    assert JOB["permissions"] == {"contents": "read", "id-token": "write", "pull-requests": "write"}


def test_secrets_reach_only_the_step_that_runs_scripts_preview():
    with_secrets = [name(s) for s in STEPS if SECRET.search(text(s))]
    assert with_secrets == [name(preview_step())]
    step = preview_step()
    assert set(re.findall(r"secrets\.(\w+)", text(step))) == {"K2_PREVIEW_ROLE_ARN", "K2_KAFKA_USERNAME",
                                                              "K2_KAFKA_PASSWORD"}
    assert all(SECRET.search(str(v)) is None for k, v in step.items() if k != "env")  # in its env, nowhere else
    assert "./scripts/preview" in step["run"]


def test_the_aws_role_is_assumed_inside_that_step_only():
    assert not any("configure-aws-credentials" in str(s.get("uses", "")) for s in STEPS)  # it writes GITHUB_ENV
    assert [name(s) for s in STEPS if "ci-aws-role" in text(s)] == [name(preview_step())]
    run = preview_step()["run"]
    assert run.index("./scripts/ci-aws-role") < run.index('rm -f "$credentials"') < run.index("./scripts/preview")
    assert "GITHUB_ENV" not in WORKFLOW_FILE.read_text()


def test_the_code_is_the_base_branchs_and_the_pull_request_gives_only_its_topology():
    base, head = checkouts()
    assert base["with"] == {"ref": "${{ github.sha }}", "persist-credentials": False}  # the base branch, at root
    assert head["with"]["ref"] == "${{ github.event.pull_request.head.sha }}"
    assert head["with"]["repository"] == "${{ github.event.pull_request.head.repo.full_name }}"
    assert head["with"]["path"] == JOB["env"]["PR_TOPOLOGY"] == "pull-request"
    assert head["with"]["sparse-checkout"].split() == ["/topics.yaml", "/schemas/"]
    assert head["with"]["sparse-checkout-cone-mode"] is False and head["with"]["persist-credentials"] is False
    assert STEPS.index(base) == 0  # every later step (bootstrap, setup) sees the base branch's files


def runs() -> Iterator[tuple[str, str]]:
    for step in STEPS:
        if "run" in step:
            yield name(step), step["run"]


def test_nothing_from_the_pull_request_is_executed():
    head_dir = JOB["env"]["PR_TOPOLOGY"]
    for step in STEPS:
        assert step.get("working-directory") is None and not str(step.get("uses", "")).startswith("./")
    for step_name, run in runs():
        # The directory is named once, as scripts/preview's data (--topology), never as a command or a path to run.
        mentions = [line.strip() for line in run.splitlines() if "PR_TOPOLOGY" in line or head_dir in line]
        assert mentions in ([], ['args=(--topology "$PR_TOPOLOGY")']), step_name
        assert "github.event" not in run, step_name  # no pull-request text pasted into a shell (script injection)
        for command in re.findall(r"(?m)^\s*(\.?/?[\w./-]+)", run):
            assert not command.startswith(("pull-request", "./pull-request", "$PR_TOPOLOGY")), (step_name, command)


@pytest.mark.parametrize("uses", sorted({str(s["uses"]) for s in STEPS if "uses" in s}))
def test_every_action_is_pinned_to_a_commit(uses: str):
    assert PINNED.match(uses), f"{uses}: pin to a 40-character commit SHA (with the version in a comment)"
    line = next(line for line in WORKFLOW_FILE.read_text().splitlines() if uses in line)
    assert re.search(r"#\s*v\d+\.\d+\.\d+$", line), line


def test_the_fail_step_reads_the_exit_code_from_its_env_not_from_an_expression_in_its_script():
    [fail] = [s for s in STEPS if s.get("name") == "Fail when a check failed"]
    assert "${{" not in fail["run"] and fail["env"] == {"PREVIEW_EXIT": "${{ steps.preview.outputs.exit }}"}
