"""The pull-request preview's AWS role, assumed inside the one CI step that needs it (scripts/ci-aws-role).

    scripts/ci-aws-role ROLE_ARN FILE     # then, in the same step: . FILE; rm FILE

A GitHub Actions job with `permissions: id-token: write` may ask the runner for a signed OIDC token
(ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN); STS trades it for the role's temporary
credentials (AssumeRoleWithWebIdentity, a call that needs no credentials). aws-actions/configure-aws-credentials
would write them to GITHUB_ENV, the environment of every later step, the comment step's included; here they go to
a file only the owner can read, which the step sources, and GitHub is asked to mask them in the log.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

from k2infra.backend.aws_access import aws_client, explain

AUDIENCE = "sts.amazonaws.com"
SESSION_SECONDS = 3600  # longer than the job's 45-minute timeout: one exchange serves the whole step
TOKEN_URL, TOKEN_BEARER = "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"


class RoleError(RuntimeError):
    """The role cannot be assumed; the message says why and what to set (never a token or a key)."""


def oidc_token(environ: Mapping[str, str]) -> str:
    """The job's GitHub OIDC token for STS."""
    url, bearer = environ.get(TOKEN_URL), environ.get(TOKEN_BEARER)
    if not url or not bearer:
        raise RoleError(f"no GitHub OIDC token can be asked for here ({TOKEN_URL} is unset): the job needs "
                        "`permissions: id-token: write`, and this runs only in GitHub Actions")
    request = urllib.request.Request(f"{url}{'&' if '?' in url else '?'}audience={AUDIENCE}",
                                     headers={"Authorization": f"bearer {bearer}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return str(json.load(response)["value"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise RoleError(f"GitHub gave no OIDC token ({type(err).__name__}): check the job's "
                        "`permissions: id-token: write`") from None


def assume(role_arn: str, token: str, region: str | None, session: str) -> dict[str, str]:
    """AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN of the role, for SESSION_SECONDS."""
    sts = aws_client("sts", region=region or "us-east-1")
    try:
        reply = sts.assume_role_with_web_identity(RoleArn=role_arn, RoleSessionName=session, WebIdentityToken=token,
                                                  DurationSeconds=SESSION_SECONDS)
    except Exception as err:
        raise RoleError(explain(err, f"assuming {role_arn} with the job's OIDC token", "secrets.K2_PREVIEW_ROLE_ARN")
                        + "; the role's trust policy must allow token.actions.githubusercontent.com for this "
                          f"repository, with audience {AUDIENCE}") from None
    credentials = reply["Credentials"]
    return {"AWS_ACCESS_KEY_ID": credentials["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"]}


def write_credentials(role_arn: str, file: Path, environ: Mapping[str, str] = os.environ,
                      echo: Callable[[str], None] = print) -> None:
    """The role's credentials as `export` lines in `file`, readable by its owner only from its creation on."""
    session = f"k2-preview-{environ.get('GITHUB_RUN_ID', 'local')}"
    credentials = assume(role_arn, oidc_token(environ), environ.get("AWS_REGION"), session)
    for value in credentials.values():
        echo(f"::add-mask::{value}")  # a GitHub workflow command: the log shows *** instead
    file.unlink(missing_ok=True)
    fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("".join(f"export {name}={shlex.quote(value)}\n" for name, value in credentials.items()))


def main(args: list[str]) -> int:
    if len(args) != 2:
        print("usage: scripts/ci-aws-role ROLE_ARN FILE", file=sys.stderr)
        return 2
    try:
        write_credentials(args[0], Path(args[1]))
    except RoleError as err:
        print(f"!!!  {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
