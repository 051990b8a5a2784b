"""Where an app's SCRAM credentials are kept for it to read: one JSON document per app, written by the program
(k2infra.providers.credential_source) and read by the app helpers (k2infra.clients.credentials).

A stack's `k2:userSources` names the place for all of its apps, an app's source the place of its own:
- a directory (`file:/path/dir` or `/path/dir`): `<dir>/<app>.json`, mode 0600, on the local platform;
- `secretsmanager:<prefix>` (e.g. `secretsmanager:k2/prod/`): the AWS Secrets Manager secret `<prefix><app>`, in
  team and prod operations; an app may also name its secret by ARN (`arn:aws:secretsmanager:...`).
The document is `{"username": ..., "password": ..., "sasl_mechanism": "SCRAM-SHA-512"}`, the shape of the local
platform admin's credentials.json. A location never holds a secret: it is safe in config, outputs and logs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

SETTING = "k2:userSources"
SECRETS_MANAGER = "secretsmanager:"
ARN_PREFIX = "arn:aws:secretsmanager:"
FILE = "file:"


@dataclass(frozen=True)
class CredentialSource:
    """One app's source: a file, or a Secrets Manager secret (name or ARN)."""

    kind: Literal["file", "secretsmanager"]
    name: str  # the file's path, or the secret's name or ARN

    @classmethod
    def parse(cls, text: str) -> CredentialSource:
        """An app's source as written in its settings; ValueError saying what is wrong."""
        text = text.strip()
        if text.startswith(ARN_PREFIX):
            return cls("secretsmanager", text)
        if text.startswith(SECRETS_MANAGER):
            name = text.removeprefix(SECRETS_MANAGER)
            if not name or name.endswith("/"):
                raise ValueError(f"{text!r} names no secret: write secretsmanager:<secret name> or its ARN")
            return cls("secretsmanager", name)
        path = text.removeprefix(FILE).removeprefix("//")
        if not path:
            raise ValueError("an empty credential source: write a file's path, secretsmanager:<name> or an ARN")
        return cls("file", path)

    @property
    def url(self) -> str:
        """The source as written in settings (parse's inverse)."""
        if self.kind == "file":
            return f"{FILE}{self.name}"
        return self.name if self.name.startswith(ARN_PREFIX) else f"{SECRETS_MANAGER}{self.name}"

    @property
    def region(self) -> str | None:
        """An ARN's region (arn:aws:secretsmanager:<region>:...); else None: boto3's own (AWS_REGION)."""
        parts = self.name.split(":")
        return (parts[3] or None) if self.name.startswith(ARN_PREFIX) and len(parts) > 3 else None


def app_source(base: str, app: str) -> CredentialSource:
    """The source of `app` under a stack's `k2:userSources`; ValueError for a base that is neither."""
    base = base.strip()
    if base.startswith(ARN_PREFIX):
        raise ValueError(f"{SETTING} names the place of every app's secret, a prefix such as secretsmanager:k2/prod/, "
                         "not one secret's ARN")
    if base.startswith(SECRETS_MANAGER):
        return CredentialSource("secretsmanager", f"{base.removeprefix(SECRETS_MANAGER)}{app}")
    directory = base.removeprefix(FILE).removeprefix("//")
    if not directory.startswith("/"):
        raise ValueError(f"{SETTING}: {base!r} is neither an absolute directory nor secretsmanager:<prefix>")
    return CredentialSource("file", str(Path(directory) / f"{app}.json"))


def document(username: str, password: str, mechanism: str) -> str:
    return json.dumps({"username": username, "password": password, "sasl_mechanism": mechanism}, indent=2) + "\n"


def parse_document(text: str, where: str) -> dict[str, Any]:
    """The document's fields; ValueError naming the source (never its content, which holds the password)."""
    try:
        data = json.loads(text)
    except ValueError:
        raise ValueError(f"{where} is not a JSON credential document") from None
    if not (isinstance(data, dict) and isinstance(data.get("username"), str)
            and isinstance(data.get("password"), str)):
        raise ValueError(f"{where} holds no username and password")
    return data
