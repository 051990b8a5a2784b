"""Which app users the program declares and where their credential sources are: the users of topics.yaml's
apps where the environment manages users, plus those the stack's state holds for apps that left topics.yaml
(kept until decommissioned, k2infra.model.users), each with its source under `k2:userSources`.

`k2:userSources` unset: a directory of 0600 files in the project, `.k2/credentials/<stack>/` (ignored by
git), which is what the local platform needs; team and prod stacks set `secretsmanager:<prefix>`.
"""

from __future__ import annotations

from pathlib import Path

import pulumi

from k2infra.contracts.credential_sources import CredentialSource, app_source
from k2infra.contracts.settings import NAMESPACE
from k2infra.model.topology import Topology
from k2infra.model.users import AppUser, plan_users
from k2infra.program import guard

DEFAULT_DIRECTORY = Path(".k2") / "credentials"


def default_source(stack: str, project: Path | None = None) -> str:
    return f"file:{(project or Path.cwd()).resolve() / DEFAULT_DIRECTORY / stack}"


def declared_users(topology: Topology, stack: str) -> list[tuple[AppUser, CredentialSource]]:
    """The users to declare, each with its source; what a decommission deletes is only warned about here."""
    record = guard.read_stack_state()  # through the module: tests replace it
    if not (topology.users or record.users):
        return []
    plan = plan_users(topology.users, record.users, topology.decommission, topology.environment)
    for warning in plan.warnings:
        pulumi.log.warn(warning)
    base = pulumi.Config(NAMESPACE).get("userSources") or default_source(stack)
    try:
        return [(user, app_source(base, user.app)) for user in plan.declare]
    except ValueError as err:
        raise pulumi.RunError(str(err)) from None
