"""One app's SCRAM user: a password generated once (a secret in state), the kafka.UserScramCredential that gives
the brokers its salted hash, and the credential source the app reads its login from.

The source is written after Kafka took the password, so it never hands an app a password the brokers refuse;
an update stopped between the two leaves the source behind the state, and the next `pulumi up` writes it.
"""

from __future__ import annotations

import pulumi
import pulumi_kafka as kafka

from k2infra.contracts.credential_sources import CredentialSource
from k2infra.contracts.naming import APP_USER_TYPE
from k2infra.model.users import AppUser
from k2infra.providers.credential_source import AppCredentialSource
from k2infra.providers.generated_password import GeneratedPassword

PASSWORD, USER, SOURCE = "password", "user", "credentials"  # the children's names, after `<app>/`: k2 users rotate


class AppUserAccount(pulumi.ComponentResource):
    def __init__(self, user: AppUser, *, source: CredentialSource, environment: str,
                 provider: pulumi.ProviderResource, opts: pulumi.ResourceOptions | None = None):
        props = {"app": user.app, "username": user.username, "environment": environment, "source": source.url}
        super().__init__(APP_USER_TYPE, user.app, props, opts)
        self.password = GeneratedPassword(f"{user.app}/{PASSWORD}", opts=pulumi.ResourceOptions(parent=self))
        self.credential = kafka.UserScramCredential(
            f"{user.app}/{USER}", username=user.username, scram_mechanism=user.mechanism,
            password=self.password.password,
            opts=pulumi.ResourceOptions(parent=self, provider=provider, additional_secret_outputs=["password"]))
        self.source = AppCredentialSource(
            f"{user.app}/{SOURCE}", source=source, username=user.username, password=self.password.password,
            mechanism=user.mechanism, opts=pulumi.ResourceOptions(parent=self, depends_on=[self.credential]))
        self.register_outputs(props)
