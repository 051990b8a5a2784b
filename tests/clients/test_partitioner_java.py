"""partition_for and murmur2 against the real Kafka Java client, for a few hundred seeded random keys.

tests/clients/java/Partitions.java runs Kafka 4.1.1's Utils.murmur2 and BuiltInPartitioner.partitionForKey
(the Java producer's keyed placement) from the jars in $K2_KAFKA_LIB, through the JDK's single-file source
launcher. scripts/test always provides the jars, so their absence is a failure here, not a skip.
"""

from __future__ import annotations

import os
import random
import string
import subprocess
from pathlib import Path

import pytest

from k2infra.clients import murmur2, partition_for
from k2infra.local.processes import find_java
from tests.clients.test_partitioner import JAVA

PARTITIONS_JAVA = Path(__file__).parent / "java" / "Partitions.java"
COUNTS = (1, 7, 30, 40, 100)
SEED = 20_251_026

# Code points by UTF-8 width: 2 bytes (Latin-1, Greek, Cyrillic), 3 bytes (CJK, kana), 4 bytes (emoji).
MULTI_BYTE = [(0xC0, 0x17F), (0x391, 0x3C9), (0x410, 0x44F), (0x3041, 0x3096), (0x4E00, 0x9FFF),
              (0x1F300, 0x1F64F)]


def random_keys() -> list[str]:
    rng = random.Random(SEED)
    ascii_symbols = string.ascii_letters + string.digits + string.punctuation
    keys = ["".join(rng.choices(ascii_symbols, k=length)) for length in range(1, 13) for _ in range(25)]
    for _ in range(60):
        chars = [chr(rng.randint(*rng.choice(MULTI_BYTE))) for _ in range(rng.randint(1, 4))]
        chars += rng.choices(string.ascii_uppercase + string.digits, k=rng.randint(0, 6))
        rng.shuffle(chars)
        keys.append("".join(chars))
    keys += JAVA  # the hard-coded vectors of test_partitioner.py, checked against Java below
    return list(dict.fromkeys(keys))


def kafka_lib() -> Path:
    value = os.environ.get("K2_KAFKA_LIB")
    if not value:
        pytest.fail("K2_KAFKA_LIB is not set: run the tests through scripts/test (or `. scripts/env.sh` after "
                    "scripts/bootstrap), which provides Kafka's jars")
    lib = Path(value)
    if not any(lib.glob("kafka-clients-*.jar")):
        pytest.fail(f"no kafka-clients jar in K2_KAFKA_LIB={lib}: run scripts/bootstrap, which collects them")
    return lib


def java_partitions(keys: list[str]) -> list[tuple[int, ...]]:
    """(murmur2, partitionForKey for each of COUNTS) per key, from Kafka's Java client."""
    lib = kafka_lib()
    java = find_java(17)
    stdin = "".join(key.encode("utf-8").hex() + "\n" for key in keys)
    done = subprocess.run([java, "-cp", f"{lib}/*", str(PARTITIONS_JAVA), *map(str, COUNTS)], input=stdin,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{PARTITIONS_JAVA.name} failed ({done.returncode}):\n{done.stderr}"
    rows = [tuple(int(field) for field in line.split()) for line in done.stdout.splitlines()]
    assert len(rows) == len(keys), f"{len(keys)} keys in, {len(rows)} lines out:\n{done.stdout[-2000:]}"
    assert all(len(row) == 1 + len(COUNTS) for row in rows)
    return rows


def test_partition_for_matches_kafkas_java_client_on_random_keys():
    keys = random_keys()
    widths = {len(k) for k in keys if k.isascii()}
    assert widths >= set(range(1, 13))
    assert sum(not k.isascii() for k in keys) >= 50
    assert any(len(c.encode()) == 4 for k in keys for c in k)  # 4-byte UTF-8 too

    java = dict(zip(keys, java_partitions(keys), strict=True))
    python = {key: (murmur2(key.encode("utf-8")), *(partition_for(key, n) for n in COUNTS)) for key in keys}
    wrong = [f"{key!r}: java {java[key]}, python {python[key]}" for key in keys if java[key] != python[key]]
    assert not wrong, (f"{len(wrong)} of {len(keys)} keys differ (murmur2, then partitions of {COUNTS}):\n"
                       + "\n".join(wrong[:20]))
    # Java's answers spread over every partition: a constant or truncated output would not pass.
    assert {row[COUNTS.index(7) + 1] for row in java.values()} == set(range(7))
    assert all(row[1] == 0 for row in java.values())  # one partition: always 0

    # And the hard-coded vectors in test_partitioner.py are what Java says.
    columns = [COUNTS.index(n) + 1 for n in (30, 40, 100)]
    assert {s: (java[s][0], *(java[s][c] for c in columns)) for s in JAVA} == JAVA
