"""One app's Kafka ACLs: a kafka.Acl per binding that k2infra.model.access derives from topics.yaml."""

from __future__ import annotations

import pulumi
import pulumi_kafka as kafka

from k2infra.contracts.naming import APP_ACCESS_TYPE
from k2infra.model.access import App


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
        self.register_outputs({**props, "bindings": len(self.acls)})
