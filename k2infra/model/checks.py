"""Checks of topics.yaml that need the whole file or the schema files in view: codes that become
parts of names, the subject pattern, schema files and their partition-key field."""

from __future__ import annotations

import re
import string
from pathlib import Path

from k2infra.contracts.naming import CODE, SUBJECT_FIELDS
from k2infra.model.avro_files import AvroSchema, SchemaFileError, field_line, load_avro
from k2infra.model.errors import Problem
from k2infra.model.source import KeyPath, SourceDoc
from k2infra.model.spec import TopologySpec


def check_codes(spec: TopologySpec, doc: SourceDoc, problems: list[Problem]) -> None:
    def check(path: KeyPath, what: str) -> None:
        code = str(path[-1])
        if not CODE.fullmatch(code):
            problems.append(doc.problem(path, f"{what} code {code!r} must be lower-case letters, digits and "
                                        f"underscores, starting with a letter (it becomes part of topic names "
                                        f"separated by dots), e.g. {_suggest_code(code)!r}"))

    if not spec.asset_classes:
        problems.append(doc.problem(("asset_classes",), "at least one asset class is needed"))
    if not spec.data_types:
        problems.append(doc.problem(("data_types",), "at least one data type is needed"))
    for ac, acs in spec.asset_classes.items():
        check(("asset_classes", ac), "asset class")
        for ex in acs.exchanges:
            check(("asset_classes", ac, "exchanges", ex), "exchange")
    for dt in spec.data_types:
        check(("data_types", dt), "data type")


def _suggest_code(code: str) -> str:
    cleaned = re.sub(r"[^a-z0-9_]+", "_", code.lower()).strip("_")
    return cleaned if cleaned and cleaned[0].isalpha() else f"x{cleaned}"


def check_subject_pattern(spec: TopologySpec, doc: SourceDoc, problems: list[Problem]) -> None:
    pattern = spec.schema_registry.subject_pattern
    path = ("schema_registry", "subject_pattern")
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None}
    except ValueError as err:
        problems.append(doc.problem(path, f"not a valid pattern: {err}"))
        return
    if fields != SUBJECT_FIELDS:
        problems.append(doc.problem(path, "must use exactly the placeholders {asset_class} and {data_type} "
                                    f"(one subject per asset class and data type); found {sorted(fields)}"))


def read_schema(doc: SourceDoc, file: Path, key_path: KeyPath, problems: list[Problem]) -> AvroSchema | None:
    try:
        return load_avro(file.resolve())
    except SchemaFileError as err:
        problem = err.problem
        if problem.line is None and "not found" in problem.message:
            problems.append(doc.problem(key_path, f"schema file {file} not found"))
        else:
            problems.append(problem)
        return None


def check_partition_key(doc: SourceDoc, schema: AvroSchema, key: str, key_path: KeyPath,
                         problems: list[Problem]) -> None:
    found = schema.field(key)
    if found is None:
        problems.append(Problem(schema.file, field_line(schema), "fields",
                                f"no field {key!r}, which {'.'.join(map(str, key_path))} in {doc.file.name} "
                                "names as the partition key"))
    elif found.get("type") != "string":
        problems.append(Problem(schema.file, field_line(schema, key), key,
                                f"the partition key field must be a non-null string, got {found.get('type')!r}"))


def relative(file: Path, base: Path) -> str:
    try:
        return str(file.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(file)
