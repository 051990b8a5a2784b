"""What the generated writers and readers share: the lines of one function, the constants it names, and how a
schema's types are told apart (fastavro's parsed form: named types referred to by full name)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from k2infra.clients.avro.binary import named_types

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})


class Unsupported(Exception):
    """A construct the generated code does not handle; the schema is then written or read by fastavro."""


class Source:
    """The lines of one generated function and the objects it refers to by name."""

    def __init__(self, schema: Any):
        self.names: dict[str, Any] = {}
        self.named: dict[str, Any] = dict(schema.get("__named_schemas") or named_types(schema)) \
            if isinstance(schema, dict) else {}
        self._count = 0
        self._inlining: list[str] = []  # the records being written out, outermost first

    def var(self, stem: str) -> str:
        self._count += 1
        return f"{stem}{self._count}"

    def const(self, value: Any, stem: str = "K") -> str:
        name = self.var(stem)
        self.names[name] = value
        return name

    def resolve(self, schema: Any) -> Any:
        """A type itself: a named type's definition for its name."""
        if isinstance(schema, str) and schema not in PRIMITIVES:
            if schema not in self.named:
                raise Unsupported(f"unknown type {schema!r}")
            return self.named[schema]
        return schema

    def enter(self, record: dict[str, Any]) -> None:
        name = record.get("name", "")
        if name in self._inlining:
            raise Unsupported(f"recursive type {name}")
        self._inlining.append(name)

    def leave(self) -> None:
        self._inlining.pop()

    def compile(self, lines: list[str], function: str, title: str) -> Callable[..., Any]:
        namespace = dict(self.names)
        exec(compile("\n".join(lines), f"<k2 avro {title}>", "exec"), namespace)  # generated from the schema
        return namespace[function]  # type: ignore[no-any-return]


def kind_of(schema: Any) -> str:
    """'union', a primitive's name, or a complex type's ('record', 'enum', 'array', 'map', 'fixed')."""
    if isinstance(schema, list):
        return "union"
    if isinstance(schema, dict):
        kind = schema.get("type")
        if isinstance(kind, (list, dict)):
            raise Unsupported("a type nested as {'type': {...}}")
        return "record" if kind == "error" else str(kind)
    return str(schema)


def logical_key(schema: Any) -> str | None:
    """fastavro's key for a logical type ('long-timestamp-micros'), which its LOGICAL_WRITERS/READERS use."""
    if isinstance(schema, dict) and schema.get("logicalType"):
        return f"{schema['type']}-{schema['logicalType']}"
    return None


def indent(lines: list[str], levels: int = 1) -> list[str]:
    return ["    " * levels + line for line in lines]
