"""The stack outputs, exported in the shape k2infra.contracts.outputs defines (and nothing else)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi

from k2infra.contracts.outputs import StackOutputs, SubjectInfo, TopicInfo, record_json


def export_stack_outputs(plain: dict[str, Any], topics: pulumi.Output[list[TopicInfo]],
                         subjects: Sequence[pulumi.Output[SubjectInfo]]) -> pulumi.Output[dict[str, Any]]:
    """Export every output of the contract. `plain` values are checked now and exported as plain values,
    so they are recorded even when an update fails (managed_topics is the next run's ownership record);
    topics and subjects follow once their resources are applied. Returns all of them, as exported."""
    checked = StackOutputs.model_validate({**plain, "topics": (), "subjects": ()}).to_json_data()
    for key, value in checked.items():
        if key not in ("topics", "subjects"):
            pulumi.export(key, value)
    topic_data = topics.apply(lambda records: [record_json(r) for r in records])
    subject_data = pulumi.Output.all(*subjects).apply(lambda records: [record_json(r) for r in records])
    pulumi.export("topics", topic_data)
    pulumi.export("subjects", subject_data)
    return pulumi.Output.all(topic_data, subject_data).apply(
        lambda both: {**checked, "topics": both[0], "subjects": both[1]})
