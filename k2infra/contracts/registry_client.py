"""The one builder of SchemaRegistryClient settings (URL, basic auth, CA) for a stack's registry: used by the
program's guard and the subject provider. The CA arrives as PEM text (the stack's `k2:caCert` secret), while the
client reads a CA only from a file: the text goes to a file named by its hash (a CA certificate is public)."""

from __future__ import annotations

import hashlib
import os
import ssl
import tempfile
from pathlib import Path
from typing import Any


def ca_file(ca_pem: str) -> str:
    """A file holding `ca_pem`, written once per distinct CA (atomically: a reader never sees half of it)."""
    path = Path(tempfile.gettempdir()) / f"k2-ca-{hashlib.sha256(ca_pem.encode()).hexdigest()[:16]}.pem"
    if not path.exists() or path.read_text() != ca_pem:
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(ca_pem)
        os.replace(tmp, path)
    return str(path)


def registry_client_settings(url: str, basic_auth: str | None = None, ca_pem: str | None = None,
                             timeout: float = 30) -> dict[str, Any]:
    """SchemaRegistryClient settings; the CA only for an https URL (a plain URL stays plain)."""
    conf: dict[str, Any] = {"url": url, "timeout": timeout}
    if basic_auth:
        conf["basic.auth.user.info"] = basic_auth
    if ca_pem and url.startswith("https"):
        conf["ssl.ca.location"] = ca_file(ca_pem)
    return conf


def tls_verify(url: str, ca_pem: str | None) -> ssl.SSLContext | bool:
    """httpx's `verify` for the registry: the stack's CA for an https URL, else the system's."""
    return ssl.create_default_context(cadata=ca_pem) if ca_pem and url.startswith("https") else True
