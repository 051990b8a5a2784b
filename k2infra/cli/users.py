"""`k2 users rotate`: a new password for one app's SCRAM user, through Pulumi, so the state stays the record.

It replaces the app's generated password (`pulumi up --replace` of it, targeted with its dependents): Kafka's
credential is updated in place, then the app's credential source. From then on the brokers refuse the old
password on every new connection; open connections stay until they reconnect, when an app that rereads its
source (the producer and consumer helpers do, on the refusal) logs in with the new one. Nothing else of the
stack changes, whatever topics.yaml holds meanwhile.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from k2infra.cli.common import TOPICS, ConfigOption, StackRequired, fail, out
from k2infra.contracts.naming import APP_USER_TYPE, DYNAMIC_RESOURCE_TYPE, KAFKA_USER_TYPE

group = typer.Typer(help="The apps' SCRAM users that the stack manages (manage_users).", no_args_is_help=True)
AppOption = Annotated[str, typer.Option("--app", "-a", help="The app of topics.yaml whose password to rotate.")]


@dataclass(frozen=True)
class ManagedUser:
    app: str
    username: str
    password_urn: str
    source: str  # the credential source's location (no secret)


def managed_users(export: Mapping[str, Any]) -> dict[str, ManagedUser]:
    """`pulumi stack export` -> the app users the stack manages, by app (k2infra/components/app_user.py)."""
    resources = (export.get("deployment") or {}).get("resources") or []
    by_name: dict[str, dict[str, Any]] = {}
    for resource in resources:
        if resource.get("delete") or APP_USER_TYPE not in str(resource.get("urn", "")):
            continue
        by_name[str(resource["urn"]).rsplit("::", 1)[-1]] = resource
    found = {}
    for name, resource in by_name.items():
        app, _, child = name.rpartition("/")
        if child != "user" or resource.get("type") != KAFKA_USER_TYPE:
            continue
        password, source = by_name.get(f"{app}/password"), by_name.get(f"{app}/credentials")
        if password and source and password.get("type") == DYNAMIC_RESOURCE_TYPE:
            found[app] = ManagedUser(app, str((resource.get("inputs") or {}).get("username")), str(password["urn"]),
                                     str(source.get("id") or ""))
    return found


def rotate_args(stack: str, user: ManagedUser) -> list[str]:
    return ["up", "--stack", stack, "--yes", "--non-interactive", "--skip-preview", "--replace", user.password_urn,
            "--target", user.password_urn, "--target-dependents",
            "--message", f"k2 users rotate: a new password for {user.app}"]


@group.command()
def rotate(stack: StackRequired, app: AppOption, config: ConfigOption = TOPICS) -> None:
    """Give APP's SCRAM user a new password: the new one works, the old one is refused, the source holds it."""
    from k2infra.backend.stack_state import StackStateError, read_state

    project = config.parent
    try:
        users = managed_users(read_state(stack, cwd=project))
    except StackStateError as error:
        fail(f"k2 users rotate: cannot read the state of stack {stack}: {error}")
    user = users.get(app)
    if user is None:
        known = ", ".join(sorted(users)) or "none: is manage_users on for its environment, and was `pulumi up` run?"
        fail(f"k2 users rotate: stack {stack} manages no user for the app {app!r}; its app users: {known}")
    cli = shutil.which("pulumi")
    if cli is None:
        fail("k2 users rotate: the pulumi CLI is not on PATH (. scripts/env.sh)")
    out.print(f"rotating the password of {user.username} (app {app}) on stack {stack}", highlight=False)
    done = subprocess.run([cli, *rotate_args(stack, user)], cwd=project, env=dict(os.environ), check=False)
    if done.returncode != 0:
        fail(f"k2 users rotate: `pulumi up` failed (exit {done.returncode}); rerun it: the update converges (the "
             "credential source is written once Kafka has the new password)")
    out.print(f"{user.username} has a new password; the old one is refused on every new connection. Its credential "
              f"source {user.source} holds it: apps that reread it (the K2 helpers do, on the refusal) carry on",
              highlight=False)
