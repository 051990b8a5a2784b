"""scripts/ci-aws-role: the preview step's AWS role from the job's GitHub OIDC token, against a stand-in for the
runner's token endpoint and moto's STS (real HTTP): the credentials reach only the file the step sources."""

from __future__ import annotations

import json
import stat
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from tests.aws import MotoServer, aws_env, environ_with, moto_server
from tests.conftest import ROOT

ROLE = "arn:aws:iam::123456789012:role/k2-preview"
BEARER = "runner-request-token-4b1d"


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    with moto_server(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture
def token_endpoint() -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """The runner's ACTIONS_ID_TOKEN_REQUEST_URL: answers a signed-token stand-in, records (path, Authorization)."""
    seen: list[tuple[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append((self.path, self.headers.get("Authorization", "")))
            body = json.dumps({"value": "header.payload.signature"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/_apis/idtoken?api-version=2.0", seen
    finally:
        server.shutdown()
        server.server_close()


def ci_aws_role(moto: MotoServer, home: Path, out: Path, **github: str) -> subprocess.CompletedProcess[str]:
    # No AWS credentials at all: AssumeRoleWithWebIdentity needs none, the token is the proof.
    env = environ_with({**aws_env(moto.endpoint, home, credentials=False), "GITHUB_RUN_ID": "4242", **github})
    return subprocess.run([str(ROOT / "scripts" / "ci-aws-role"), ROLE, str(out)], env=env, capture_output=True,
                          text=True, timeout=120)


def test_the_role_is_assumed_with_the_jobs_oidc_token_and_its_keys_go_to_a_private_file(
        moto: MotoServer, token_endpoint, tmp_path: Path):
    url, seen = token_endpoint
    out = tmp_path / "aws.env"
    done = ci_aws_role(moto, tmp_path, out, ACTIONS_ID_TOKEN_REQUEST_URL=url, ACTIONS_ID_TOKEN_REQUEST_TOKEN=BEARER)
    assert done.returncode == 0, done.stderr
    assert seen == [("/_apis/idtoken?api-version=2.0&audience=sts.amazonaws.com", f"bearer {BEARER}")]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    sourced = subprocess.run(["env", "-i", "bash", "-c", f'. "{out}" && env'], capture_output=True, text=True,
                             check=True)
    credentials = dict(line.split("=", 1) for line in sourced.stdout.splitlines() if line.startswith("AWS_"))
    assert set(credentials) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    # Each value is masked in the job's log; none is printed otherwise.
    assert sorted(done.stdout.splitlines()) == sorted(f"::add-mask::{v}" for v in credentials.values())
    assert BEARER not in done.stdout + done.stderr and "header.payload.signature" not in done.stdout + done.stderr
    identity = moto.client("sts", credentials["AWS_ACCESS_KEY_ID"], credentials["AWS_SECRET_ACCESS_KEY"])
    assert identity.get_caller_identity()["Arn"].endswith(":assumed-role/k2-preview/k2-preview-4242")


def test_without_the_id_token_permission_it_says_what_the_job_needs(moto: MotoServer, tmp_path: Path):
    out = tmp_path / "aws.env"
    done = ci_aws_role(moto, tmp_path, out)
    assert done.returncode == 1 and not out.exists()
    assert done.stderr == ("!!!  no GitHub OIDC token can be asked for here (ACTIONS_ID_TOKEN_REQUEST_URL is unset): "
                           "the job needs `permissions: id-token: write`, and this runs only in GitHub Actions\n")
