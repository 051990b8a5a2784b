"""partition_for is Kafka's Java default partitioner: murmur2 of the UTF-8 key, sign bit cleared, modulo n."""

from __future__ import annotations

import pytest

from k2infra.clients import murmur2, partition_for
from k2infra.clients.partitioner import to_positive

# Kafka's published vectors: clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java, testMurmur2.
KAFKA_MURMUR2 = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}

# Derived by running Kafka 4.1.1's own Utils.murmur2 and BuiltInPartitioner.partitionForKey (the Java
# producer's keyed placement) from the jars in $K2_KAFKA_LIB: symbol -> (murmur2, partition of 30, 40, 100).
# Lengths 1-5 cover every tail of the hash; the last two are multi-byte UTF-8.
JAVA = {
    "a": (-1563381124, 4, 4, 24),
    "ab": (316155434, 14, 34, 34),
    "abc": (479470107, 27, 27, 7),
    "abcd": (-1323649548, 20, 20, 0),
    "abcde": (461995741, 1, 21, 41),
    "BHP": (-1348813954, 4, 14, 94),
    "CBA": (283617957, 27, 37, 57),
    "CSL": (205649671, 1, 31, 71),
    "NAB": (-1750710629, 9, 19, 19),
    "WBC": (1434288077, 17, 37, 77),
    "BTCUSDT": (-841713390, 8, 18, 58),
    "ETHUSDT": (616678109, 29, 29, 9),
    "SOLUSDT": (1297545705, 15, 25, 5),
    "日経225": (1363581425, 5, 25, 25),
    "Ünïcødé": (-367108646, 12, 2, 2),
}


@pytest.mark.parametrize(("data", "expected"), KAFKA_MURMUR2.items(), ids=[k.decode() for k in KAFKA_MURMUR2])
def test_murmur2_matches_kafkas_published_vectors(data, expected):
    assert murmur2(data) == expected


@pytest.mark.parametrize("symbol", JAVA)
def test_partition_for_matches_the_java_producer(symbol):
    hashed, *partitions = JAVA[symbol]
    assert murmur2(symbol.encode()) == hashed
    assert [partition_for(symbol, n) for n in (30, 40, 100)] == partitions


def test_negative_hashes_clear_the_sign_bit_rather_than_negate():
    # BHP hashes to -1348813954: Kafka places it by 798669694 (sign bit cleared), abs() would say 1348813954.
    assert to_positive(-1348813954) == 798669694
    assert partition_for("BHP", 40) == 798669694 % 40 == 14
    assert abs(-1348813954) % 40 == 34


def test_str_and_utf8_bytes_keys_agree():
    assert partition_for("日経225", 40) == partition_for("日経225".encode(), 40)


@pytest.mark.parametrize("count", [0, -3])
def test_a_partition_count_below_one_is_refused(count):
    with pytest.raises(ValueError, match="num_partitions must be 1 or more"):
        partition_for("BHP", count)
