"""k2:publishOutputs and k2:unpublishOnDestroy: where a stack publishes its outputs for apps."""

from __future__ import annotations

import pytest

from k2infra.contracts.settings import SettingsError, StackSettings

BASE = {"bootstrapServers": "h:1", "schemaRegistryUrl": "http://r"}


def test_unset_publishes_nothing_and_deletes_nothing():
    settings = StackSettings.from_values("dev", BASE.get)
    assert settings.publish_outputs is None and settings.unpublish_on_destroy is False


def test_an_s3_location_is_kept_as_written():
    url = "s3://k2-outputs/team-a/prod.json?region=eu-west-1"
    values = {**BASE, "publishOutputs": url, "unpublishOnDestroy": "true"}
    settings = StackSettings.from_values("prod", values.get)
    assert settings.publish_outputs == url and settings.unpublish_on_destroy is True


@pytest.mark.parametrize(("value", "problem"), [
    ("k2-outputs/prod.json", "is not an S3 location; use s3://bucket/key"),
    ("s3://k2-outputs", "names no object"),
    ("s3://k2-outputs/prod.json?endpiont=http://x", "unknown query parameter"),
])
def test_a_malformed_location_names_the_key_and_the_stack(value, problem):
    with pytest.raises(SettingsError, match=rf"^k2:publishOutputs for stack prod: .*{problem}"):
        StackSettings.from_values("prod", {**BASE, "publishOutputs": value}.get)
