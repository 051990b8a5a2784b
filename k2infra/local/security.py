"""The secure local platform's material: a throwaway CA and a broker certificate for 127.0.0.1/localhost, the
platform admin's SCRAM credentials (in a 0600 file, never printed), and the broker settings that use them.

Kafka then serves clients on SASL_SSL (SCRAM-SHA-512) only, with KRaft's StandardAuthorizer denying whatever no
ACL allows; the platform admin is the one super user (inter-broker traffic and the admin that creates users).
The controllers talk SASL_SSL too, with PLAIN for the admin alone: KRaft cannot use SCRAM on the controller
listener, whose credentials would live in the metadata it serves.

All of it lives in `<platform>/security/` (mode 0700): `ca.pem` (the CA certificate clients trust),
`broker.pem` (the brokers' key and certificate, 0600) and `credentials.json` (0600); the registry serves HTTPS
with the same key and certificate, split into `registry-key.pem` (0600) and `registry-cert.pem` as Quarkus
reads them. The CA's key is not kept:
nothing else can ever be signed by it.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from k2infra.contracts.kafka_client import librdkafka_settings
from k2infra.local.processes import PlatformError

ADMIN_USER = "admin"
SCRAM_MECHANISM = "SCRAM-SHA-512"
PROTOCOL = "SASL_SSL"
CA_FILE = "ca.pem"
BROKER_FILE = "broker.pem"
CREDENTIALS_FILE = "credentials.json"
REGISTRY_KEY_FILE = "registry-key.pem"
REGISTRY_CERT_FILE = "registry-cert.pem"
CA_DAYS = 3650
BROKER_DAYS = 825
RENEW_WITHIN = datetime.timedelta(days=1)
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


def new_password() -> str:
    """A random password of URL-safe characters (nothing a JAAS line or a SCRAM argument must quote)."""
    return secrets.token_urlsafe(24)


def write_private(path: Path, text: str) -> None:
    """Write atomically, readable by the owner only from the first byte on."""
    tmp = path.with_name(f"{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, path)


@dataclass(frozen=True)
class AdminCredentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never shown, not even in a traceback's locals
        return f"AdminCredentials(username={self.username!r}, password=***)"


def read_credentials(path: Path) -> AdminCredentials:
    """The platform admin's credentials, from the 0600 file `up --secure` wrote."""
    try:
        data = json.loads(path.read_text())
        return AdminCredentials(str(data["username"]), str(data["password"]))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise PlatformError(f"cannot read the platform admin's credentials from {path} ({type(error).__name__}); "
                            "a secure platform needs them: wipe it to start over (`k2 local down --wipe`)") from None


@dataclass(frozen=True)
class SecurityFiles:
    """Where a secure platform keeps its CA, broker key and admin credentials."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / CA_FILE

    @property
    def broker_pem(self) -> Path:
        return self.directory / BROKER_FILE

    @property
    def credentials(self) -> Path:
        return self.directory / CREDENTIALS_FILE

    @property
    def registry_key(self) -> Path:
        return self.directory / REGISTRY_KEY_FILE

    @property
    def registry_cert(self) -> Path:
        return self.directory / REGISTRY_CERT_FILE

    def read_credentials(self) -> AdminCredentials:
        return read_credentials(self.credentials)

    def ensure(self, may_create_credentials: bool) -> AdminCredentials:
        """The admin credentials, created if missing (only while no Kafka data was formatted with others), and a
        CA and broker certificate, created or renewed when missing, unreadable or about to expire."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        if not self.credentials.exists():
            if not may_create_credentials:
                raise PlatformError(f"{self.credentials} is missing, yet Kafka's data here was formatted with the "
                                    "admin credentials it held; wipe the platform to start over "
                                    "(`k2 local down --wipe`)")
            write_private(self.credentials, json.dumps({"sasl_mechanism": SCRAM_MECHANISM, "username": ADMIN_USER,
                                                        "password": new_password()}, indent=2) + "\n")
        credentials = self.read_credentials()
        if not self.certificates_valid():
            ca_pem, broker_pem = issue_certificates()
            write_private(self.broker_pem, broker_pem)
            self.ca_cert.write_text(ca_pem)
        key, chain = self.broker_key_and_chain()  # written each time: always the pair broker.pem holds
        write_private(self.registry_key, key + "\n")
        self.registry_cert.write_text(chain + "\n")
        return credentials

    def certificates_valid(self, now: datetime.datetime | None = None) -> bool:
        """Both files there, the broker certificate signed by the CA and valid for at least another day."""
        from cryptography import x509
        from cryptography.exceptions import InvalidSignature

        now = now or datetime.datetime.now(datetime.UTC)
        try:
            ca = x509.load_pem_x509_certificate(self.ca_cert.read_bytes())
            broker = x509.load_pem_x509_certificate(self.broker_pem.read_bytes())
            broker.verify_directly_issued_by(ca)
            self.broker_key_and_chain()
        except (OSError, ValueError, TypeError, InvalidSignature):
            return False
        return all(cert.not_valid_after_utc - RENEW_WITHIN > now for cert in (ca, broker))

    def broker_key_and_chain(self) -> tuple[str, str]:
        """(PKCS#8 key PEM, certificate chain PEM) of broker.pem."""
        text = self.broker_pem.read_text()
        start = text.index("-----BEGIN CERTIFICATE-----")
        return text[:start].strip(), text[start:].strip()


@dataclass(frozen=True)
class SecureSettings:
    """What a secure node needs: its files and the platform admin's credentials."""

    files: SecurityFiles
    credentials: AdminCredentials


def issue_certificates(days: int = BROKER_DAYS, hosts: tuple[str, ...] = ("localhost",),
                       addresses: tuple[str, ...] = ("127.0.0.1",)) -> tuple[str, str]:
    """A new CA and a broker certificate it signs for `hosts` and `addresses`: (CA certificate PEM, broker key
    and certificate chain PEM). The CA's key is dropped here."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    start = now - datetime.timedelta(hours=1)  # a clock a little behind still accepts it
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "K2 local platform"),
                         x509.NameAttribute(NameOID.COMMON_NAME, f"K2 local CA {secrets.token_hex(4)}")])
    ca = (x509.CertificateBuilder()
          .subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(start).not_valid_after(now + datetime.timedelta(days=CA_DAYS))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(h) for h in hosts]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    broker = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "K2 local platform"),
                                       x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
              .issuer_name(ca_name).public_key(key.public_key())
              .serial_number(x509.random_serial_number())
              .not_valid_before(start).not_valid_after(now + datetime.timedelta(days=days))
              .add_extension(x509.SubjectAlternativeName(names), critical=False)
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                           data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                           crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                             critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    ca_pem = ca.public_bytes(pem).decode()
    return ca_pem, key_pem + broker.public_bytes(pem).decode() + ca_pem


def property_value(pem: str) -> str:
    """PEM text as one properties value: its line breaks escaped as `\\n`, which java.util.Properties turns back
    into line breaks (Kafka's PEM reader needs them to tell the blocks of a chain apart)."""
    return pem.strip().replace("\n", "\\n")


def broker_properties(files: SecurityFiles, credentials: AdminCredentials, listener: str,
                      controller_listener: str) -> dict[str, Any]:
    """The settings that make a node's `listener` SASL_SSL with SCRAM-SHA-512 (clients and inter-broker, as the
    admin), its controller listener SASL_SSL with PLAIN (the admin alone), and deny what no ACL allows."""
    user, password = credentials.username, credentials.password
    key, chain = files.broker_key_and_chain()
    lower, controller = listener.lower(), controller_listener.lower()
    return {
        "sasl.mechanism.inter.broker.protocol": SCRAM_MECHANISM,
        f"listener.name.{lower}.sasl.enabled.mechanisms": SCRAM_MECHANISM,
        f"listener.name.{lower}.{SCRAM_MECHANISM.lower()}.sasl.jaas.config":
            f'org.apache.kafka.common.security.scram.ScramLoginModule required username="{user}" '
            f'password="{password}";',
        "sasl.mechanism.controller.protocol": "PLAIN",
        f"listener.name.{controller}.sasl.enabled.mechanisms": "PLAIN",
        f"listener.name.{controller}.plain.sasl.jaas.config":
            f'org.apache.kafka.common.security.plain.PlainLoginModule required username="{user}" '
            f'password="{password}" user_{user}="{password}";',
        "ssl.keystore.type": "PEM",
        "ssl.keystore.certificate.chain": property_value(chain),
        "ssl.keystore.key": property_value(key),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": files.ca_cert,
        "ssl.endpoint.identification.algorithm": "https",
        "ssl.client.auth": "none",
        "authorizer.class.name": AUTHORIZER,
        "allow.everyone.if.no.acl.found": "false",
        "super.users": f"User:{user}",
    }


def scram_argument(credentials: AdminCredentials) -> str:
    """The storage tool's --add-scram value that creates the admin's SCRAM credential at format time."""
    return f"{SCRAM_MECHANISM}=[name={credentials.username},password={credentials.password}]"


def client_config(bootstrap_servers: str, files: SecurityFiles,
                  credentials: AdminCredentials | None = None) -> dict[str, Any]:
    """librdkafka settings for a user (the platform admin by default) on the secure listeners."""
    credentials = credentials or files.read_credentials()
    return librdkafka_settings(bootstrap_servers, PROTOCOL, SCRAM_MECHANISM, credentials.username,
                               credentials.password, ca_location=str(files.ca_cert))


def create_scram_users(admin_config: Mapping[str, Any], users: Mapping[str, str], timeout: float = 60) -> None:
    """Create (or reset the password of) SCRAM-SHA-512 users through the Admin API, as the platform admin."""
    from confluent_kafka.admin import (
        AdminClient,
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialAlteration,
        UserScramCredentialUpsertion,
    )

    if not users:
        return
    admin = AdminClient({**admin_config, "log_level": 0})
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192)
    upserts: list[UserScramCredentialAlteration] = [
        UserScramCredentialUpsertion(name, info, password.encode()) for name, password in users.items()]
    for future in admin.alter_user_scram_credentials(upserts, request_timeout=timeout).values():
        future.result(timeout=timeout)  # raises KafkaException naming what went wrong
