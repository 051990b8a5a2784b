"""A stack's settings from Pulumi config: the shared reader (k2infra.contracts.settings) for the plain
values, and Pulumi secret Outputs for the credentials, so they stay encrypted in state from config to
provider and are never printed.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from k2infra.contracts.settings import NAMESPACE, SettingsError, StackSettings


@dataclass(frozen=True)
class StackSecrets:
    sasl_password: pulumi.Output[str] | None = None
    ca_cert: pulumi.Output[str] | None = None
    registry_password: pulumi.Output[str] | None = None


@dataclass(frozen=True)
class StackConfig:
    settings: StackSettings
    secrets: StackSecrets

    @classmethod
    def load(cls) -> StackConfig:
        config = pulumi.Config(NAMESPACE)
        try:
            settings = StackSettings.from_values(pulumi.get_stack(), config.get)
        except SettingsError as err:
            raise pulumi.RunError(str(err)) from None
        secrets = StackSecrets(sasl_password=config.get_secret("saslPassword"), ca_cert=config.get_secret("caCert"),
                               registry_password=config.get_secret("schemaRegistryPassword"))
        return cls(settings, secrets)

    def registry_basic_auth(self) -> pulumi.Output[str] | None:
        user, password = self.settings.registry_username, self.secrets.registry_password
        if not user or password is None:
            return None
        return pulumi.Output.secret(password.apply(lambda value: f"{user}:{value}"))
