"""The one reader of a stack's state: the `pulumi` CLI, asked for the state (`pulumi stack export`), the
outputs (`pulumi stack output --json`) or the decrypted config (`pulumi config --show-secrets`) of one stack.
Pure (a subprocess; no Pulumi package).

Used by the program's guard (which topics and subjects the stack manages), the monitor's target, the app
helpers' LiveStack (the outputs) and the operator commands' login (the secret config). Each caller words a
failure for its reader from StackStateError's kind.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

Kind = Literal["no-cli", "timeout", "failed", "not-json"]


class StackStateError(RuntimeError):
    """The CLI is missing, did not answer in time, failed (stderr, stdout) or printed something not JSON."""

    def __init__(self, message: str, kind: Kind, stdout: str = "", stderr: str = ""):
        super().__init__(message)
        self.kind, self.stdout, self.stderr = kind, stdout, stderr


def read_state(stack: str, *, cwd: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None,
               timeout: float = 600) -> Any:
    """`pulumi stack export --stack STACK`: the stack's deployment (resources, their inputs and outputs)."""
    return _json(_pulumi(["stack", "export", "--stack", stack], cwd, env, timeout))


def read_outputs(stack: str, *, cwd: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None,
                 timeout: float = 120) -> Any:
    """`pulumi stack output --json --stack STACK`: the stack's outputs (K2's hold no secrets)."""
    return _json(_pulumi(["stack", "output", "--json", "--stack", stack, "--non-interactive"], cwd, env, timeout),
                 empty="{}")


def read_secret_config(stack: str, *, cwd: str | os.PathLike[str] | None = None,
                       env: Mapping[str, str] | None = None, timeout: float = 120) -> dict[str, str]:
    """`pulumi config --json --show-secrets --stack STACK`, decrypted: each key's value. Read through a pipe, so
    the values never reach a command line or a log; a caller keeps only the keys it needs."""
    data = _json(_pulumi(["config", "--json", "--show-secrets", "--stack", stack, "--non-interactive"], cwd, env,
                         timeout), empty="{}")
    if not isinstance(data, dict):
        raise StackStateError("`pulumi config --json` printed no mapping", "not-json")
    return {str(k): str(v["value"]) for k, v in data.items() if isinstance(v, dict) and v.get("value") is not None}


def _pulumi(args: list[str], cwd: str | os.PathLike[str] | None, env: Mapping[str, str] | None,
            timeout: float) -> str:
    cli = shutil.which("pulumi", path=(env or {}).get("PATH") or os.environ.get("PATH"))
    if cli is None:
        raise StackStateError("the pulumi CLI is not on PATH", "no-cli")
    try:
        done = subprocess.run([cli, *args], cwd=Path(cwd) if cwd is not None else None, capture_output=True,
                              text=True, timeout=timeout, env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired as err:
        raise StackStateError(str(err), "timeout") from None
    except OSError as err:
        raise StackStateError(str(err), "failed", stderr=str(err)) from None
    if done.returncode != 0:
        raise StackStateError(done.stderr.strip()[-500:], "failed", done.stdout, done.stderr)
    return done.stdout


def _json(text: str, empty: str = "") -> Any:
    try:
        return json.loads(text or empty)
    except ValueError as err:
        raise StackStateError(str(err), "not-json", stdout=text) from None
