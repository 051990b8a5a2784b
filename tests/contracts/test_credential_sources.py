"""Credential-source locations: an app's own (a file, secretsmanager:<name>, an ARN) and a stack's place for all
of its apps (k2:userSources)."""

from __future__ import annotations

import pytest

from k2infra.contracts.credential_sources import CredentialSource, app_source


def test_a_source_location_parses_back_to_itself():
    for text in ("file:/a/b.json", "secretsmanager:k2/prod/x", "arn:aws:secretsmanager:eu-west-1:1:secret:k2-x"):
        assert CredentialSource.parse(text).url == text
    assert CredentialSource.parse("arn:aws:secretsmanager:eu-west-1:1:secret:k2-x").region == "eu-west-1"
    assert CredentialSource.parse("/a/b.json") == CredentialSource("file", "/a/b.json")


def test_a_stacks_place_gives_each_app_its_own_source():
    assert app_source("file:/srv/k2/dev", "asx-feed") == CredentialSource("file", "/srv/k2/dev/asx-feed.json")
    assert app_source("/srv/k2/dev", "asx-feed").url == "file:/srv/k2/dev/asx-feed.json"
    assert app_source("secretsmanager:k2/prod/", "asx-feed").url == "secretsmanager:k2/prod/asx-feed"
    for bad in ("relative/dir", "arn:aws:secretsmanager:eu-west-1:1:secret:x"):
        with pytest.raises(ValueError, match="k2:userSources"):
            app_source(bad, "asx-feed")
    with pytest.raises(ValueError, match="names no secret"):
        CredentialSource.parse("secretsmanager:k2/prod/")
