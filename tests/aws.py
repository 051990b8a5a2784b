"""moto's server mode on a free loopback port, and an AWS environment that can reach nothing else.

Every test that touches S3, KMS or IAM goes through real HTTP to a moto server started here: boto3 in
the test process, the program's dynamic provider and the Pulumi CLI (gocloud.dev, AWS SDK for Go) alike.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from k2infra.local.processes import free_ports
from tests.conftest import stop, wait_for

REGION = "us-east-1"
# Every variable through which an AWS SDK could find other credentials, another endpoint or the network.
AWS_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_KMS",
                 "AWS_ENDPOINT_URL_SSM", "AWS_ENDPOINT_URL_STS")


def aws_env(endpoint: str | None, home: Path, *, credentials: bool = True) -> dict[str, str]:
    """Variables for a process that must talk to moto only: dummy keys (or none), no instance metadata,
    no shared config files, the endpoint for every service."""
    env = {
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(home / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        # moto does not return response checksums; without this the Go SDK warns on every read.
        "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
    }
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    if credentials:
        env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    return env


def point_at(moto: MotoServer, monkeypatch: Any, home: Path) -> MotoServer:
    """Only this test's environment reaches AWS, and only moto's server: dummy credentials, its endpoint."""
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in aws_env(moto.endpoint, home).items():
        monkeypatch.setenv(name, value)
    return moto


def environ_with(extra: Mapping[str, str], base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (default os.environ) without any AWS variable, plus `extra`."""
    env = {k: v for k, v in (base if base is not None else os.environ).items()
           if not (k.startswith("AWS_") or k in AWS_VARIABLES)}
    env.update(extra)
    return env


@dataclass
class MotoServer:
    """`moto_server` in a subprocess on a free loopback port."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, service: str, access_key: str = "testing", secret_key: str = "testing") -> Any:
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=access_key, aws_secret_access_key=secret_key)

    def enforce_iam(self, enforce: bool) -> None:
        """From now on, check every request's signature and IAM policies (moto's reset-auth), or stop checking."""
        body = b"0" if enforce else b"inf"
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset-auth", data=body, method="POST",
                                         headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(request, timeout=10) as reply:
            assert reply.status == 200

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=10) as reply:
            assert reply.status == 200


@contextmanager
def moto_server(directory: Path, deadline_seconds: float = 60) -> Iterator[MotoServer]:
    directory.mkdir(parents=True, exist_ok=True)
    port = free_ports(1)[0]
    log = directory / "moto.log"
    exe = Path(sys.executable).with_name("moto_server")
    with log.open("wb") as out:
        process = subprocess.Popen([str(exe), "-H", "127.0.0.1", "-p", str(port)], stdout=out,
                                   stderr=subprocess.STDOUT, env=environ_with({}))
    server = MotoServer(process, port, log)
    def answers() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited ({process.returncode}): {log.read_text()[-2000:]}")
        with urllib.request.urlopen(f"{server.endpoint}/moto-api/data.json", timeout=2):
            return True

    try:
        if not wait_for(answers, f"moto_server on port {port}", deadline_seconds, every=0.1, ignoring=(OSError,),
                        fail=False):
            raise RuntimeError(f"moto_server did not answer on port {port}: {log.read_text()[-2000:]}")
        yield server
    finally:
        stop(process)
