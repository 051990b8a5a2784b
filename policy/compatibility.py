"""Schema subjects evolve BACKWARD or stricter: consumers on the previous schema keep reading new records."""

from __future__ import annotations

from collections.abc import Iterator

from k2infra.contracts.naming import BACKWARD_OR_STRICTER
from policy.context import Deployment
from policy.resources import SubjectResource, violation


def backward_compatible(subject: SubjectResource, _deployment: Deployment) -> Iterator[str]:
    if subject.compatibility not in BACKWARD_OR_STRICTER:
        yield violation(subject.subject, f"compatibility is {subject.compatibility or 'unset'}, which lets a "
                        "schema change break the consumers of the previous version",
                        "set schema_registry.compatibility: BACKWARD in topics.yaml (or one of "
                        f"{', '.join(BACKWARD_OR_STRICTER[1:])})")
