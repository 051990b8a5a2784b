"""The mm2.properties K2 writes for MirrorMaker 2 (k2infra.local.mirror): exact topic names, only the derived
flows, exactly-once per target. The real process runs in tests/e2e/test_mirror_maker.py."""

from __future__ import annotations

import io
import re

from k2infra.local.mirror import Flow, Region, exact_topics, mm2_properties, properties_text

US_EAST, EU_WEST = Region("us-east", "127.0.0.1:1"), Region("eu-west", "127.0.0.1:2")
APAC = Region("apac", "127.0.0.1:3")
FLOWS = [Flow(US_EAST, APAC, ("market.crypto.trades.binance",)), Flow(EU_WEST, APAC, ("market.equities.trades.lse",))]


def java_properties(text: str) -> dict[str, str]:
    """What java.util.Properties reads back for these simple lines: a backslash escapes the next character."""
    out = {}
    for line in io.StringIO(text):
        key, _, value = line.rstrip("\n").partition("=")
        out[key] = re.sub(r"\\(.)", r"\1", value)
    return out


def test_a_topic_regex_matches_its_own_name_only():
    pattern = exact_topics(["market.crypto.trades.binance"])
    assert re.fullmatch(pattern, "market.crypto.trades.binance")
    assert not re.fullmatch(pattern, "marketXcrypto.trades.binance")


def test_the_regexes_survive_the_properties_file():
    props = mm2_properties(FLOWS, rest_port=8083)
    read = java_properties(properties_text(props))
    assert read["us-east->apac.topics"] == r"market\.crypto\.trades\.binance"


def test_only_the_derived_flows_are_enabled():
    props = mm2_properties(FLOWS, rest_port=8083)
    # A pair's own switch is `<a>-><b>.enabled` (no other dot: a region name has none); the flow's settings,
    # such as `<a>-><b>.emit.checkpoints.enabled`, are the contract's (tests/contracts/test_replication.py).
    enabled = {k.removesuffix(".enabled") for k, v in props.items() if k.endswith(".enabled") and "->" in k
               and k.count(".") == 1 and v == "true"}
    assert enabled == {"us-east->apac", "eu-west->apac"}
    assert props["apac->us-east.enabled"] == props["us-east->eu-west.enabled"] == "false"


def test_exactly_once_is_set_per_target_with_the_internal_rest_server():
    props = mm2_properties(FLOWS, rest_port=8083)
    assert props["apac.exactly.once.source.support"] == "enabled"
    assert "us-east.exactly.once.source.support" not in props
    assert props["dedicated.mode.enable.internal.rest"] == "true"
    assert props["listeners"] == "http://127.0.0.1:8083"
    assert "apac.exactly.once.source.support" not in mm2_properties(FLOWS, rest_port=8083, exactly_once=False)


def test_a_secured_regions_login_is_a_reference_into_a_0600_secrets_file(tmp_path):
    from k2infra.local.mirror import ScramLogin, secrets_text, with_logins

    login = ScramLogin("k2-mirror-apac", 'pa"ss\\word', "/ca/apac.pem")
    secrets = tmp_path / "mm2-secrets.properties"
    props = mm2_properties(with_logins(FLOWS, {"apac": login}, secrets), rest_port=8083)
    assert props["apac.sasl.jaas.config"] == f"${{file:{secrets}:apac.sasl.jaas.config}}"
    assert (props["apac.security.protocol"], props["apac.sasl.mechanism"]) == ("SASL_SSL", "SCRAM-SHA-512")
    assert props["apac.ssl.truststore.location"] == "/ca/apac.pem" and props["config.providers"] == "file"
    assert "us-east.sasl.jaas.config" not in props  # a region without a login stays plaintext
    assert "ss\\word" not in properties_text(props) and 'pa"ss' not in str(props)  # the password: secrets only
    assert 'password="pa\\\\"ss\\\\\\\\word";' in secrets_text({"apac": login})  # JAAS-quoted, then escaped
    assert "ss\\word" not in repr(login)


def test_each_flow_commits_its_transactions_every_second_exactly_once_only():
    props = mm2_properties(FLOWS, rest_port=8083)
    assert props["us-east->apac.transaction.boundary"] == "interval"
    assert props["eu-west->apac.transaction.boundary.interval.ms"] == "1000"
    assert "us-east->apac.transaction.boundary" not in mm2_properties(FLOWS, rest_port=8083, exactly_once=False)
