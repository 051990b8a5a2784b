"""The registry client's settings carry the stack's CA (PEM text, as `k2:caCert` holds it) to clients that read a
CA only from a file: for an https registry only, from a file that holds exactly that CA."""

from __future__ import annotations

from pathlib import Path

from k2infra.contracts.registry_client import registry_client_settings, tls_verify
from k2infra.local.security import issue_certificates


def test_an_https_registry_gets_the_ca_as_a_file_and_basic_auth():
    ca_pem, _ = issue_certificates()
    conf = registry_client_settings("https://127.0.0.1:8443/apis/ccompat/v7", "k2-deployer:s", ca_pem)
    assert Path(conf["ssl.ca.location"]).read_text() == ca_pem
    assert conf["basic.auth.user.info"] == "k2-deployer:s"
    assert tls_verify("https://127.0.0.1:8443", ca_pem) is not True


def test_a_plain_registry_gets_no_ca():
    ca_pem, _ = issue_certificates()
    assert "ssl.ca.location" not in registry_client_settings("http://127.0.0.1:8081/apis/ccompat/v7", None, ca_pem)
    assert tls_verify("http://127.0.0.1:8081", ca_pem) is True
