"""The schema subjects: one per asset class and data type, shared by the asset class's exchanges."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import pulumi

from k2infra.contracts.naming import SCHEMA_SUBJECTS_TYPE
from k2infra.contracts.outputs import SubjectInfo
from k2infra.model import Subject
from k2infra.providers.schema_subject import SchemaSubject


class SchemaSubjects(pulumi.ComponentResource):
    def __init__(self, name: str, subjects: Sequence[Subject], *, environment: str,
                 registry_url: pulumi.Input[str], basic_auth: pulumi.Input[str] | None = None,
                 ca_cert: pulumi.Input[str] | None = None,
                 protect: bool = False, deletable: Collection[str] = (), opts: pulumi.ResourceOptions | None = None):
        super().__init__(SCHEMA_SUBJECTS_TYPE, name, {"environment": environment}, opts)
        self.subjects: dict[str, SchemaSubject] = {
            s.subject: SchemaSubject(
                s.subject,
                subject=s.subject,
                schema=s.schema,
                compatibility=s.compatibility,
                registry_url=registry_url,
                basic_auth=basic_auth,
                ca_cert=ca_cert,
                opts=pulumi.ResourceOptions(parent=self, protect=protect, retain_on_delete=s.subject not in deletable),
            )
            for s in subjects
        }
        self.register_outputs({"environment": environment, "subjects": list(self.subjects)})

    def outputs(self, specs: Sequence[Subject]) -> list[pulumi.Output[SubjectInfo]]:
        """The stack-output record of each subject, with the registry's id and version once applied."""
        return [self._output(s) for s in specs]

    def _output(self, spec: Subject) -> pulumi.Output[SubjectInfo]:
        resource = self.subjects[spec.subject]

        def describe(values: list[Any]) -> SubjectInfo:
            return SubjectInfo.model_validate({**spec.to_dict(with_schema=True), "schema_id": values[0],
                                               "version": values[1]})

        return pulumi.Output.all(resource.schema_id, resource.version).apply(describe)
