"""Unit-test fixtures: stack outputs shaped like `pulumi stack output --json`, and confluent-kafka's
mock schema registry holding the repo's schemas, registered as the Pulumi program would."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from k2infra.clients import StackOutputs, load_stack_outputs
from tests.conftest import ROOT

STACK_OUTPUTS = Path(__file__).parent / "stack_outputs.json"  # ASX and NYSE, Binance and Coinbase
SCHEMA_FILES = {"trades": "trade.avsc", "quotes": "quote.avsc", "reference_data": "reference_data.avsc"}


def schema_text(data_type: str) -> str:
    return (ROOT / "schemas" / SCHEMA_FILES[data_type]).read_text()


@pytest.fixture
def outputs_json() -> dict[str, Any]:
    return json.loads(STACK_OUTPUTS.read_text())


@pytest.fixture
def outputs(outputs_json: dict[str, Any]) -> StackOutputs:
    return load_stack_outputs(outputs_json)


@pytest.fixture
def registry() -> SchemaRegistryClient:
    return SchemaRegistryClient.new_client({"url": f"mock://{uuid.uuid4()}"})


@pytest.fixture
def deployed(outputs_json: dict[str, Any], registry: SchemaRegistryClient) -> StackOutputs:
    """Outputs whose subjects are registered in `registry`, with the ids and versions it gave."""
    for subject in outputs_json["subjects"]:
        registry.register_schema(subject["subject"], Schema(schema_text(subject["data_type"]), "AVRO"))
        latest = registry.get_latest_version(subject["subject"])
        subject.update(schema_id=latest.schema_id, version=latest.version)
    return load_stack_outputs(outputs_json)
