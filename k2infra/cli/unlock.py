"""`k2 unlock`: the stale locks an update killed midway left in a file backend (k2infra.backend.stack_locks)."""

from __future__ import annotations

import os

import typer

from k2infra.cli.common import TOPICS, ConfigOption, StackRequired, err, fail, out
from k2infra.contracts.settings import project_name


def unlock(stack: StackRequired, config: ConfigOption = TOPICS) -> None:
    """Remove the stale locks an update killed midway left in a file backend, so a rerun can converge.

    Only locks taken on this host by a process that has ended are removed; a lock of a running update, or
    one taken on another machine, is shown and kept (exit 1). The backend is $PULUMI_BACKEND_URL.
    """
    from k2infra.backend.stack_locks import backend_directory, remove_stale, stack_locks

    url = os.environ.get("PULUMI_BACKEND_URL", "")
    try:
        backend = backend_directory(url)
        project = project_name(config.parent)  # SettingsError (a ValueError) names the file
    except ValueError as error:
        fail(f"k2 unlock: {error}")
    removed, kept = remove_stale(stack_locks(backend, project, stack))
    for lock in removed:
        out.print(f"removed stale lock {lock.describe()}: that process has ended", highlight=False)
    for lock in kept:
        err.print(f"kept lock {lock.describe()}: its update may still be running (on this or another host); "
                  "wait for it, or check that it has ended before `pulumi cancel`", highlight=False)
    if not removed and not kept:
        out.print(f"stack {stack}: no locks")
    if kept:
        raise typer.Exit(1)
