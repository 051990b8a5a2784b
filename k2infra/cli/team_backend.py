"""`k2 team-backend create|check`: a team's shared Pulumi backend, an S3 bucket for state and a KMS key for secrets
(k2infra.backend.team_backend). scripts/team-backend and scripts/preview call these."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from k2infra.cli.common import TOPICS, ConfigOption, fail
from k2infra.contracts.settings import SettingsError

group = typer.Typer(help="A team's shared Pulumi backend: an S3 bucket for state and a KMS key for secrets.",
                    no_args_is_help=True)


@group.command("create")
def create(bucket: Annotated[str, typer.Option(help="The state bucket.")],
           outputs_bucket: Annotated[str | None, typer.Option(help="The bucket the stacks publish their outputs "
                                                              "to (k2:publishOutputs).")] = None,
           kms_alias: Annotated[str | None, typer.Option(help="The KMS key's alias (alias/... ) for the stacks' "
                                                         "secrets.")] = None,
           region: Annotated[str | None, typer.Option(help="Default: $AWS_REGION, else $AWS_DEFAULT_REGION.")] = None,
           endpoint: Annotated[str | None, typer.Option(help="An S3/KMS-compatible endpoint (tests); default: "
                                                        "AWS.")] = None) -> None:
    """Make the state bucket, the outputs bucket and the KMS key (or find them: idempotent); print what to export."""
    from k2infra.backend.aws_access import explain
    from k2infra.backend.team_backend import create as make

    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    try:
        lines = make(bucket, region, endpoint, kms_alias, outputs_bucket)
    except Exception as error:
        fail(f"!!!  {error if isinstance(error, RuntimeError) else explain(error, 'team backend', '--bucket')}")
    for line in lines:
        typer.echo(line)


@group.command("check")
def check(stack: Annotated[list[str] | None, typer.Option("--stack", "-s", help="A stack whose secrets provider "
                                                          "to check (repeatable).")] = None,
          config: ConfigOption = TOPICS) -> None:
    """Check $PULUMI_BACKEND_URL and each stack's secrets provider before Pulumi touches them; exit 1 on a problem.

    Credentials present, the state bucket there and readable, and the stack's secrets provider usable (its KMS key
    decrypts the stack's data key, or a passphrase is set), each failure named with what to set. A protected
    environment's stack (topics.yaml) under a passphrase fails. The stacks' Pulumi.<stack>.yaml are beside the
    topology file (--config).
    """
    from k2infra.backend.team_backend import BACKEND_VAR, Report, check_backend, check_secrets

    report = Report()
    check_backend(os.environ.get(BACKEND_VAR), report)
    for name in stack or []:
        try:
            check_secrets(Path(config).parent, name, report, Path(config))
        except SettingsError as error:  # an unreadable Pulumi.<stack>.yaml, named with its line
            fail(f"!!!  {error}")
    for line in report.lines:
        typer.echo(line, err=line.startswith("!!!"))
    if report.problems:
        raise typer.Exit(1)
