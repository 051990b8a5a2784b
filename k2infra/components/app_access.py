"""One app's Kafka ACLs and quota: a kafka.Acl per binding that k2infra.model.access derives from topics.yaml, and a
kafka.Quota for its user when topics.yaml gives it one (Kafka applies quotas per authenticated user)."""

from __future__ import annotations

import pulumi
import pulumi_kafka as kafka

from k2infra.contracts.naming import APP_ACCESS_TYPE
from k2infra.model.access import App
from k2infra.model.users import username_of


class AppAccess(pulumi.ComponentResource):
    """Groups an app's bindings, so a preview reads per app: what it gains, what it loses."""

    def __init__(self, app: App, *, environment: str, opts: pulumi.ResourceOptions | None = None):
        props = {"app": app.name, "principal": app.principal, "environment": environment}
        super().__init__(APP_ACCESS_TYPE, app.name, props, opts)
        self.acls = [
            kafka.Acl(
                binding.key,
                acl_principal=binding.principal,
                acl_host="*",
                acl_operation=binding.operation,
                acl_permission_type=binding.permission,
                acl_resource_type=binding.resource_type,
                acl_resource_name=binding.name,
                resource_pattern_type_filter=binding.pattern,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for binding in app.bindings
        ]
        self.quota = kafka.Quota(
            f"{app.name}/quota",
            entity_type="user",
            entity_name=username_of(app.principal),
            config=app.quota.config(),
            # Every change of a quota replaces it (the provider's inputs are all ForceNew), and its delete removes the
            # user's quota keys: deleted after the new one was created, it would take the new values with it.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        ) if app.quota else None
        self.register_outputs({**props, "bindings": len(self.acls), "quota": app.quota.config() if app.quota else {}})
