"""Avro bodies written and read by Python generated for each record schema, compiled once and kept per schema.

fastavro walks the schema for every record; the generated code is the schema already walked: straight-line code
per field (writer.py, reader.py), two to four times faster on the market-data records (bench/avro_codec.py). It
gives fastavro's bytes and records exactly, and hands anything it does not take as it is back to fastavro, which
then writes, reads or refuses as it always did. A schema with a construct the generated code does not handle
(a recursive type, a union of two record types...) is written or read by fastavro alone, with one warning.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from k2infra.clients.avro.reader import Reader, compile_reader, fastavro_reader
from k2infra.clients.avro.source import Unsupported
from k2infra.clients.avro.writer import Writer, compile_writer

__all__ = ["Reader", "Writer", "fastavro_reader", "reader_for", "writer_for"]

log = logging.getLogger(__name__)

_writers: dict[str, Writer | None] = {}
_readers: dict[str, Reader] = {}
_lock = threading.Lock()  # producers and consumers may be shared between threads


def writer_for(schema: Any) -> Writer | None:
    """The generated writer of a record schema (fastavro's parsed form): (record, header) -> header + body, or None
    for a record it leaves to fastavro. None for a schema it cannot write (warned once)."""
    key = _key(schema)
    if key not in _writers:
        with _lock:
            if key not in _writers:
                _writers[key] = _compiled(compile_writer, schema, "writing")
    return _writers[key]


def reader_for(writer: Any, reader: Any = None) -> Reader:
    """(value, start) -> (record, end) for bodies written with `writer`, read into `reader` (None: as written).
    Generated code for the writer's own shape; fastavro's schema resolution otherwise."""
    if reader is not None and reader != writer:
        return fastavro_reader(writer, reader)
    key = _key(writer)
    found = _readers.get(key)
    if found is None:
        with _lock:
            found = _readers.get(key)
            if found is None:
                found = _readers[key] = _compiled(compile_reader, writer, "reading") or fastavro_reader(writer)
    return found


def _compiled(compile_one: Any, schema: Any, job: str) -> Any:
    try:
        return compile_one(schema)
    except Exception as err:  # Unsupported, or what compiling found (nesting too deep for Python, say)
        name = schema.get("name") if isinstance(schema, dict) else None
        why = str(err) if isinstance(err, Unsupported) else f"{type(err).__name__}: {err}"
        log.warning("Avro schema %s: %s it with fastavro alone, not generated code (%s)", name, job, why)
        return None


def _key(schema: Any) -> str:
    """A parsed schema as text (fastavro's bookkeeping aside): equal schemas share their code."""
    if isinstance(schema, dict):
        schema = {k: v for k, v in schema.items() if k not in ("__fastavro_parsed", "__named_schemas")}
    return json.dumps(schema, sort_keys=True, default=repr)
