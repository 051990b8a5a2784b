"""The Java client's default partitioner for keyed records: murmur2 of the key bytes, made positive, modulo the count.

Kafka Streams, Flink and every Java producer place a key with this function, so a symbol lands on
the same partition whichever client wrote it. librdkafka's own default (consistent_random, CRC32)
does not agree, which is why the producer profiles set `partitioner: murmur2_random`; this module
lets apps and tests predict the partition without a broker.
"""

from __future__ import annotations

import struct

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's org.apache.kafka.common.utils.Utils.murmur2: a signed 32-bit int, as Java returns it."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    body = length & ~3
    for (k,) in struct.iter_unpack("<I", data[:body]):  # little-endian 4-byte blocks
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = length & 3
    if tail == 3:
        h ^= data[body + 2] << 16
    if tail >= 2:
        h ^= data[body + 1] << 8
    if tail >= 1:
        h ^= data[body]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def to_positive(number: int) -> int:
    """Utils.toPositive: clears the sign bit (not abs(), which differs for negative numbers)."""
    return number & 0x7FFFFFFF


def partition_for(symbol: str | bytes, num_partitions: int) -> int:
    """The partition a keyed record lands on (BuiltInPartitioner.partitionForKey); str keys are UTF-8."""
    if num_partitions < 1:
        raise ValueError(f"num_partitions must be 1 or more, got {num_partitions}")
    key = symbol.encode("utf-8") if isinstance(symbol, str) else bytes(symbol)
    return to_positive(murmur2(key)) % num_partitions
