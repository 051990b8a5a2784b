"""Errors the app helpers raise: each says what is wrong and what the caller can do about it."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# The stack outputs (or topics.yaml) could not be read, or lack what an app needs: raised by the
# outputs contract itself, which the program shares, so it is a ValueError rather than a ClientError.
from k2infra.contracts.outputs import StackOutputsError

__all__ = ["ClientError", "ConsumeError", "DeliveryError", "RecordError", "StackOutputsError", "UnknownNameError"]


class ClientError(Exception):
    """Base of the errors the K2 app helpers raise about names, records and messages."""


class UnknownNameError(ClientError, ValueError):
    """An asset class, data type, exchange, topic or subject that the topology does not have."""

    def __init__(self, kind: str, name: object, known: Iterable[str], where: str = ""):
        self.kind = kind
        self.name = name
        self.known = sorted(set(known))
        scope = f" {where}" if where else ""
        super().__init__(f"unknown {kind} {name!r}{scope}{_did_you_mean(str(name), self.known)}; "
                         f"known: {', '.join(self.known) or '(none)'}")


class RecordError(ClientError, ValueError):
    """A record does not fit its subject's schema; it was not sent."""

    def __init__(self, subject: str, field: str | None, problem: str):
        self.subject = subject
        self.field = field
        where = f"field {field!r}" if field else "record"
        super().__init__(f"{subject}: {where}: {problem}; nothing was sent")


class DeliveryError(ClientError):
    """Messages that Kafka did not acknowledge and that no failure callback was given."""


class ConsumeError(ClientError):
    """A message that could not be consumed: a broker error or a value that does not decode."""

    def __init__(self, message: str, topic: str | None = None, partition: int | None = None,
                 offset: int | None = None):
        self.topic, self.partition, self.offset = topic, partition, offset
        where = f"{topic}[{partition}]@{offset}: " if topic is not None else ""
        super().__init__(where + message)


def _did_you_mean(word: str, known: list[str]) -> str:
    by_case = [k for k in known if k.lower() == word.lower()]
    close = by_case or difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
