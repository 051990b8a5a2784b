"""Why the cluster or the registry could not be used, told apart: refused credentials, TLS, not found, an outage.

Built from the errors confluent-kafka really raises (KafkaError, SchemaRegistryError, the HTTP client's and
ssl's exceptions), and, where no broker is needed to produce them, from the real clients on a local socket.
tests/e2e/test_errors.py checks the same on the real broker and registry.
"""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.schema_registry.error import SchemaRegistryError

from k2infra.contracts.kafka_client import librdkafka_settings
from k2infra.observed.cluster import committed_offsets, end_offsets, observe_topics, registered_versions
from k2infra.observed.failures import (
    AuthenticationFailed,
    Misconfigured,
    NotAuthorized,
    NotFound,
    TlsFailed,
    Unreachable,
    kafka_failure,
    registry_failure,
)

SERVERS = "broker-1.example:9093,broker-2.example:9093"
URL = "https://registry.example/apis/ccompat/v7"
# As librdkafka words them (captured from librdkafka 2.16 against Kafka 4.1).
WRONG_PASSWORD = ("sasl_plaintext://broker-1.example:9093/bootstrap: SASL authentication error: Authentication "
                  "failed: Invalid username or password (after 301ms in state AUTH_REQ)")
UNTRUSTED = ("ssl://broker-1.example:9093/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate "
             "verify failed: broker certificate could not be verified, verify that ssl.ca.location is correctly "
             "configured or root CA certificates are installed (install ca-certificates package) "
             "(after 3ms in state SSL_HANDSHAKE)")
REFUSED = ("broker-1.example:9093/bootstrap: Connect to ipv4#10.0.0.1:9093 failed: Connection refused "
           "(after 0ms in state CONNECT)")


def raised(code: int, text: str = "") -> KafkaException:
    """What a confluent-kafka call raises."""
    return KafkaException(KafkaError(code, text or None))


def failure_for(code: int, text: str = "", *reported: KafkaError) -> Unreachable:
    return kafka_failure(SERVERS, raised(code, text), list(reported))


# --- Kafka ---------------------------------------------------------------------------------------------------


def test_a_wrong_sasl_password_reported_only_to_error_cb_is_an_authentication_failure():
    # librdkafka's metadata call only says "transport failure"; the reason arrives through error_cb.
    failure = failure_for(KafkaError._TRANSPORT, "Failed to get metadata: Local: Broker transport failure",
                          KafkaError(KafkaError._AUTHENTICATION, WRONG_PASSWORD),
                          KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))
    assert type(failure) is AuthenticationFailed
    assert str(failure) == (
        f"Kafka at {SERVERS} refused the SASL credentials (SASL authentication error: Authentication failed: "
        "Invalid username or password): check k2:saslMechanism, k2:saslUsername and the secret k2:saslPassword "
        "(pulumi config set --secret k2:saslPassword <password>)")


@pytest.mark.parametrize("code", [KafkaError.SASL_AUTHENTICATION_FAILED, KafkaError.UNSUPPORTED_SASL_MECHANISM,
                                  KafkaError._AUTHENTICATION, KafkaError.ILLEGAL_SASL_STATE])
def test_sasl_error_codes_are_authentication_failures(code):
    failure = failure_for(code)
    assert type(failure) is AuthenticationFailed and "k2:saslPassword" in str(failure) and SERVERS in str(failure)


@pytest.mark.parametrize("code", [KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.CLUSTER_AUTHORIZATION_FAILED,
                                  KafkaError.GROUP_AUTHORIZATION_FAILED])
def test_acl_denials_are_not_authorized(code):
    failure = failure_for(code)
    # Refused rights, not refused credentials: siblings under Misconfigured, so a caller tells them apart with one
    # isinstance (no `and not isinstance`).
    assert type(failure) is NotAuthorized and isinstance(failure, Misconfigured)
    assert not isinstance(failure, AuthenticationFailed)
    assert f"Kafka at {SERVERS} denied access" in str(failure) and "k2:saslUsername" in str(failure)


@pytest.mark.parametrize("code,text", [
    (KafkaError._SSL, UNTRUSTED),
    (KafkaError._TRANSPORT, "ssl://broker-1.example:9093/bootstrap: SSL handshake failed: Disconnected: SSL "
                            "connection closed by peer: connecting to a PLAINTEXT broker listener?"),
    (KafkaError._INVALID_ARG, "Failed to create admin client: failed to read certificate #0 from ssl.ca.pem: "
                              "not in PEM format?"),
])
def test_tls_failures_name_the_ca_setting(code, text):
    failure = failure_for(KafkaError._TIMED_OUT, "Failed to get metadata: Local: Timed out",
                          KafkaError(code, text))
    assert type(failure) is TlsFailed
    assert str(failure).startswith(f"TLS with Kafka at {SERVERS} failed (") and "k2:caCert" in str(failure)


@pytest.mark.parametrize("code", [KafkaError._TRANSPORT, KafkaError._TIMED_OUT, KafkaError._ALL_BROKERS_DOWN,
                                  KafkaError._RESOLVE, KafkaError.REQUEST_TIMED_OUT])
def test_outages_are_unreachable_and_say_to_start_the_cluster(code):
    failure = failure_for(code, "Failed to get metadata: Local: Broker transport failure")
    assert type(failure) is Unreachable and not isinstance(failure, Misconfigured)
    assert str(failure).startswith(f"cannot reach Kafka at {SERVERS} (")
    assert "bin/k2 local up" in str(failure) and "k2:bootstrapServers" in str(failure)


def test_an_outage_names_the_brokers_own_reason_not_the_generic_one():
    failure = failure_for(KafkaError._TRANSPORT, "Failed to get metadata: Local: Broker transport failure",
                          KafkaError(KafkaError._ALL_BROKERS_DOWN, "2/2 brokers are down"),
                          KafkaError(KafkaError._TRANSPORT, REFUSED))
    assert f"cannot reach Kafka at {SERVERS} (Connect to ipv4#10.0.0.1:9093 failed: Connection refused):" \
        in str(failure)


def test_a_future_that_timed_out_is_unreachable():
    failure = kafka_failure(SERVERS, TimeoutError())
    assert type(failure) is Unreachable and "timed out" in str(failure)


@pytest.mark.parametrize("code", [KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC,
                                  KafkaError._UNKNOWN_PARTITION])
def test_an_unknown_topic_is_not_found_naming_it(code):
    failure = kafka_failure(SERVERS, raised(code), [], "topic market.equities.trades.asx partition 3")
    assert type(failure) is NotFound
    assert str(failure).startswith(f"Kafka at {SERVERS} has no topic market.equities.trades.asx partition 3 (")


def test_a_kafka_error_of_another_kind_is_reported_as_itself():
    failure = failure_for(KafkaError.POLICY_VIOLATION, "Broker: Policy violation")
    assert type(failure) is Unreachable
    assert str(failure) == f"Kafka at {SERVERS} failed the request (POLICY_VIOLATION: Broker: Policy violation)"


def test_every_failure_is_caught_as_unreachable():
    for cls in (AuthenticationFailed, NotAuthorized, TlsFailed, NotFound):
        assert issubclass(cls, Unreachable) and issubclass(cls, Misconfigured)


# --- the schema registry -------------------------------------------------------------------------------------


def test_registry_401_is_an_authentication_failure():
    failure = registry_failure(URL, SchemaRegistryError(401, 40101, "Unauthorized"))
    assert type(failure) is AuthenticationFailed
    assert str(failure) == (f"the schema registry at {URL} refused the credentials (HTTP 401: Unauthorized): "
                            "check k2:schemaRegistryUsername and the secret k2:schemaRegistryPassword")


def test_registry_403_is_not_authorized():
    failure = registry_failure(URL, SchemaRegistryError(403, 40301, "User cannot access the resource."))
    assert type(failure) is NotAuthorized and f"the schema registry at {URL} denied access" in str(failure)


def test_registry_404_without_a_registry_code_is_a_wrong_url():
    # What confluent-kafka raises when the path is not a registry API (Apicurio without /apis/ccompat/v7).
    failure = registry_failure("http://127.0.0.1:8081", SchemaRegistryError(404, None, None))  # type: ignore[arg-type]
    assert type(failure) is NotFound
    assert str(failure).startswith("no schema registry API at http://127.0.0.1:8081 (HTTP 404): check "
                                   "k2:schemaRegistryUrl")


def test_registry_404_with_a_registry_code_is_a_missing_subject():
    failure = registry_failure(URL, SchemaRegistryError(404, 40401, "Subject 'x-value' not found."))
    assert type(failure) is NotFound
    assert str(failure) == (f"the schema registry at {URL} has no such subject or version "
                            "(HTTP 404: Subject 'x-value' not found.)")


def test_registry_server_errors_are_unreachable_with_the_status():
    failure = registry_failure(URL, SchemaRegistryError(500, 50001, "Error in the backend data store"))
    assert type(failure) is Unreachable
    assert str(failure) == (f"the schema registry at {URL} failed the request "
                            "(HTTP 500: Error in the backend data store)")


def http_client_error(cause: BaseException) -> BaseException:
    """The registry client's exception for `cause`, chained the way the HTTP client chains it."""
    from confluent_kafka.schema_registry.common._httpx_compat import httpx

    try:
        try:
            raise cause
        except BaseException as err:
            raise httpx.ConnectError(str(err)) from err
    except BaseException as err:
        return err


def test_registry_tls_failure_is_tls_failed():
    cause = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    failure = registry_failure(URL, http_client_error(cause))
    assert type(failure) is TlsFailed and f"TLS with the schema registry at {URL} failed" in str(failure)


@pytest.mark.parametrize("cause", [ConnectionRefusedError(111, "Connection refused"), TimeoutError("timed out"),
                                   socket.gaierror(-2, "Name or service not known")])
def test_registry_network_errors_are_unreachable(cause):
    failure = registry_failure(URL, http_client_error(cause))
    assert type(failure) is Unreachable
    assert str(failure).startswith(f"cannot reach the schema registry at {URL} (")
    assert "k2:schemaRegistryUrl" in str(failure)


def test_an_error_that_is_not_about_the_registry_is_left_alone():
    assert registry_failure(URL, ValueError("level must be set")) is None


# --- the real clients on a local socket ------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_kafka_on_a_closed_port_is_unreachable_from_every_call():
    servers = f"127.0.0.1:{closed_port()}"
    conf = librdkafka_settings(servers)
    for call in (lambda: observe_topics(conf, timeout=2), lambda: end_offsets(conf, {"t": 1}, timeout=2),
                 lambda: committed_offsets(conf, "g", {"t": 1}, timeout=2)):
        with pytest.raises(Unreachable) as caught:
            call()
        assert type(caught.value) is Unreachable
        assert str(caught.value).startswith(f"cannot reach Kafka at {servers} (Connect to ipv4#{servers} failed: "
                                            "Connection refused)")


def test_k2_connect_timeout_bounds_the_wait_for_a_cluster_that_does_not_answer(monkeypatch):
    servers = f"127.0.0.1:{closed_port()}"
    monkeypatch.setenv("K2_CONNECT_TIMEOUT", "0.5")
    started = time.monotonic()
    with pytest.raises(Unreachable, match=f"cannot reach Kafka at {servers}"):
        observe_topics(librdkafka_settings(servers), timeout=60)
    assert time.monotonic() - started < 30  # bounded by the variable, not the caller's 60 s (a bound, not a timing)


@pytest.mark.parametrize("value", ["soon", "0", "-1", "1e9", "nan"])
def test_a_k2_connect_timeout_that_is_not_seconds_is_named(monkeypatch, value):
    monkeypatch.setenv("K2_CONNECT_TIMEOUT", value)
    with pytest.raises(Unreachable, match=r"\$K2_CONNECT_TIMEOUT='.*' is not a number of seconds"):
        observe_topics(librdkafka_settings("127.0.0.1:9"), timeout=60)


def test_a_ca_cert_that_is_not_pem_is_tls_failed_at_once():
    with pytest.raises(TlsFailed, match=r"not in PEM format.*k2:caCert"):
        observe_topics(librdkafka_settings("127.0.0.1:9", "SSL", ca_pem="not a certificate"), timeout=2)


def test_the_registry_on_a_closed_port_is_unreachable():
    url = f"http://127.0.0.1:{closed_port()}/apis/ccompat/v7"
    with pytest.raises(Unreachable) as caught:
        registered_versions(url, ["market.equities.trades-value"], timeout=2)
    assert type(caught.value) is Unreachable
    assert str(caught.value).startswith(f"cannot reach the schema registry at {url} (")


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A TLS endpoint with a self-signed certificate nobody trusts (the handshake is all the clients get)."""
    cryptography = pytest.importorskip("cryptography")  # comes with confluent-kafka[schemaregistry] (authlib)
    del cryptography
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    directory: Path = tmp_path_factory.mktemp("tls")
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                          serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return  # closed: the tests are done
            with conn:
                try:
                    with context.wrap_socket(conn, server_side=True) as tls:
                        tls.recv(1)
                except OSError:
                    pass  # the client refused our certificate: that is the point

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield int(server.getsockname()[1])
    finally:
        server.close()


def test_kafka_with_an_untrusted_certificate_is_tls_failed(tls_server):
    servers = f"127.0.0.1:{tls_server}"
    with pytest.raises(TlsFailed) as caught:
        observe_topics(librdkafka_settings(servers, "SSL"), timeout=10)
    message = str(caught.value)
    # librdkafka words it as "SSL handshake failed: ..." or as OpenSSL's "error:0A000086:SSL routines::...",
    # depending on which of its threads sees the handshake fail first.
    assert message.startswith(f"TLS with Kafka at {servers} failed (")
    assert "certificate verify failed" in message and "k2:caCert" in message


def test_the_registry_with_an_untrusted_certificate_is_tls_failed(tls_server):
    url = f"https://127.0.0.1:{tls_server}/apis/ccompat/v7"
    with pytest.raises(TlsFailed, match=r"CERTIFICATE_VERIFY_FAILED") as caught:
        registered_versions(url, ["market.equities.trades-value"], timeout=5)
    assert str(caught.value).startswith(f"TLS with the schema registry at {url} failed (")


class _Done:
    def __init__(self, value):
        self.value = value

    def result(self, timeout=None):
        return self.value


class _AclAdmin:
    """An AdminClient stand-in: the ACL listing librdkafka hands back, and broker 1's authorizer.class.name."""

    def __init__(self, acls, authorizer):
        self.acls, self.authorizer = acls, authorizer

    def describe_acls(self, _filter, request_timeout=None):
        return _Done(self.acls)

    def list_topics(self, timeout=None):
        return type("Metadata", (), {"brokers": {2: None, 1: None}, "topics": {}})()

    def describe_configs(self, resources, request_timeout=None):
        [resource] = resources
        assert (resource.restype.name, resource.name) == ("BROKER", "1")
        entry = type("Entry", (), {"value": self.authorizer})()
        return {resource: _Done({"authorizer.class.name": entry})}


@pytest.mark.parametrize(("authorizer", "expected"), [
    ("", None),  # SECURITY_DISABLED, which librdkafka reports as an empty listing
    (None, None),
    ("org.apache.kafka.metadata.authorizer.StandardAuthorizer", []),  # an authorizer, and no ACL yet
])
def test_an_empty_acl_listing_is_told_apart_by_the_brokers_authorizer(monkeypatch, authorizer, expected):
    import k2infra.observed.cluster as observe

    monkeypatch.setattr(observe, "_admin", lambda conf, reported: _AclAdmin([], authorizer))
    assert observe.observe_acls({"bootstrap.servers": "127.0.0.1:1"}) == expected
