"""The one retry helper for Kafka calls (and Kafka Connect's REST API): call until it succeeds, a failure is not
retriable, or a deadline passes, waiting a little longer after each failure (from 0.2 s, doubling, at most 1 s).

What counts as retriable is the caller's to say when it knows better (a transaction that must be aborted, an
error that only librdkafka's error_cb reported); by default it is what a busy or freshly started broker answers
for a while: coordinator loading, no leader yet, a timeout or a dropped connection (RETRIABLE), or an error
librdkafka itself marks retriable.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

FIRST_WAIT, MAX_WAIT = 0.2, 1.0


def _retriable_codes() -> frozenset[int]:
    from confluent_kafka import KafkaError

    return frozenset({
        KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS, KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE, KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError._TIMED_OUT, KafkaError.REQUEST_TIMED_OUT, KafkaError._TRANSPORT, KafkaError.UNSTABLE_OFFSET_COMMIT,
        KafkaError.OFFSET_NOT_AVAILABLE, KafkaError._WAIT_COORD,
    })


def kafka_error(err: BaseException) -> Any:
    """The KafkaError a KafkaException carries, else None."""
    from confluent_kafka import KafkaError

    return err.args[0] if err.args and isinstance(err.args[0], KafkaError) else None


def retriable(error: Any) -> bool:
    """Whether waiting may cure `error` (a KafkaError, or None for an exception without one)."""
    return error is not None and (error.code() in _retriable_codes() or error.retriable())


def retrying(call: Callable[[], T], *, deadline_seconds: float, give_up: Callable[[Exception, Any], Exception],
             retry_if: Callable[[Any], bool] = retriable, sleep: Callable[[float], Any] = time.sleep,
             errors: tuple[type[Exception], ...] = (), error_of: Callable[[Exception], Any] = kafka_error) -> T:
    """`call()`'s result. A KafkaException that `retry_if` (given its KafkaError, or None) calls retriable is
    retried until `deadline_seconds` have passed; then, or for any other, `give_up(exception, its KafkaError)` is
    raised. `sleep` waits between tries (a client's poll, to serve its callbacks meanwhile). Other calls name the
    exceptions they handle (`errors`) and what of one `retry_if` and `give_up` judge (`error_of`)."""
    from confluent_kafka import KafkaException

    handled = errors or (KafkaException,)
    deadline = time.monotonic() + deadline_seconds
    wait = FIRST_WAIT
    while True:
        try:
            return call()
        except handled as err:
            error = error_of(err)
            left = deadline - time.monotonic()
            if not retry_if(error) or left <= 0:
                raise give_up(err, error) from None
        sleep(max(0.0, min(wait, left)))
        wait = min(wait * 2, MAX_WAIT)
