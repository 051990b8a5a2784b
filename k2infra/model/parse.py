"""topics.yaml -> TopologySpec: the file's shape checked by pydantic, its errors reworded to
file:line: key: what to do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from k2infra.model.errors import Problem, TopologyError
from k2infra.model.kafka_configs import suggest
from k2infra.model.source import KeyPath, SourceDoc, load_yaml
from k2infra.model.spec import TopologySpec
from k2infra.model.users import SECRET_KEY_MESSAGE, secret_key


def read_spec(path: str | Path) -> TopologySpec:
    """The shape of topics.yaml, checked key by key (no derivation, no schema files read)."""
    return parse_spec(load_yaml(Path(path)))


def parse_spec(doc: SourceDoc) -> TopologySpec:
    if not isinstance(doc.data, dict):
        raise TopologyError([doc.problem((), "the file must be a mapping with asset_classes and data_types")])
    try:
        return TopologySpec.model_validate(doc.data)
    except ValidationError as err:
        raise TopologyError([_problem_from_pydantic(doc, e) for e in err.errors()]) from None


def _problem_from_pydantic(doc: SourceDoc, error: Any) -> Problem:
    loc: KeyPath = tuple(p for p in error["loc"] if p != "[key]")
    kind, value = error["type"], error.get("input")
    if kind == "extra_forbidden" and loc and secret_key(loc[-1]):
        return doc.problem(loc, SECRET_KEY_MESSAGE)  # the value is never repeated
    if kind == "extra_forbidden":
        known = _fields_at(TopologySpec, loc[:-1])
        return doc.problem(loc, f"unknown key{suggest(str(loc[-1]), known)}; allowed: {', '.join(known)}")
    if kind == "missing":
        return doc.problem(loc, "required key is missing")
    messages = {
        "int_type": "must be a whole number",
        "string_type": "must be text",
        "bool_type": "must be true or false",
        "dict_type": "must be a mapping of keys to values",
        "model_type": "must be a mapping of keys to values",
        "list_type": "must be a list",
        "greater_than_equal": f"must be {error.get('ctx', {}).get('ge', 1)} or more",
        "less_than_equal": f"must be {error.get('ctx', {}).get('le')} or less (the largest Kafka takes)",
        "greater_than": f"must be more than {error.get('ctx', {}).get('gt', 0)}",
        "finite_number": "must be a finite number",
        "string_too_short": "must not be empty",
        "too_short": "must list at least one",
    }
    message = messages.get(kind, error["msg"].removeprefix("Value error, "))
    if value is not None and not isinstance(value, dict | list):
        message += f", got {value!r}"
    return doc.problem(loc, message)


def _fields_at(model: type[BaseModel], loc: KeyPath) -> list[str]:
    """The keys allowed at `loc`, following the spec's annotations through dicts to nested models."""
    annotation: Any = model
    for part in loc:
        annotation = _unwrap_optional(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            annotation = _field(annotation, str(part)).annotation
        elif get_origin(annotation) in (dict, list):  # a mapping's value, a list's item (part is its index)
            annotation = get_args(annotation)[-1]
        else:
            return []
    annotation = _unwrap_optional(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [f.alias or name for name, f in annotation.model_fields.items()]
    return []


def _field(model: type[BaseModel], key: str) -> Any:
    """A model's field by the key the file spells (its alias, e.g. `for`, or its name)."""
    return next((f for name, f in model.model_fields.items() if key in (name, f.alias)), model.model_fields[key])


def _unwrap_optional(annotation: Any) -> Any:
    """X from X | None (a list or dict annotation is kept whole: its argument is an item's type)."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) not in (dict, list) and len(args) == 1:
        return args[0]
    return annotation


