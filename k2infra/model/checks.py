"""Checks of topics.yaml that need the whole file or the schema files in view: codes that become
parts of names, the subject pattern, schema files and their partition-key field."""

from __future__ import annotations

import os
import re
import string
from pathlib import Path

from k2infra.contracts.input_files import excerpt
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


def check_subject_pattern(spec: TopologySpec, doc: SourceDoc, problems: list[Problem]) -> bool:
    """Whether the subject pattern can name subjects; else its problem is in `problems`."""
    pattern = spec.schema_registry.subject_pattern
    path = ("schema_registry", "subject_pattern")
    try:
        parts = [(name, spec_, conversion) for _, name, spec_, conversion in string.Formatter().parse(pattern)
                 if name is not None]
    except ValueError as err:
        problems.append(doc.problem(path, f"not a valid pattern: {err}"))
        return False
    fields = {name for name, _, _ in parts}
    if fields != SUBJECT_FIELDS:
        problems.append(doc.problem(path, "must use exactly the placeholders {asset_class} and {data_type} "
                                    f"(one subject per asset class and data type); found {sorted(fields)}"))
        return False
    formatted = next((f"{{{n}{'!' + c if c else ''}{':' + s if s else ''}}}" for n, s, c in parts if s or c), None)
    if formatted:
        problems.append(doc.problem(path, f"{excerpt(formatted)} has a format spec or conversion; write the "
                                    "placeholders plainly, {asset_class} and {data_type}"))
        return False
    return True


def read_schema(doc: SourceDoc, schemas_dir: Path, name: str, key_path: KeyPath, problems: list[Problem],
                inside: tuple[Path, ...] = ()) -> AvroSchema | None:
    """The schema file `name` (as topics.yaml writes it, relative to `schemas_dir`), read only if it lies inside
    the repository: the directory of topics.yaml, or one of `inside` (directories the caller chose)."""
    file = schemas_dir / name
    why = _outside(name, file, (doc.file.parent, *inside))
    if why:
        problems.append(doc.problem(key_path, f"schema file {excerpt(name)!r} is outside the repository ({why}): "
                                    f"give a path inside the directory of {doc.file.name}, relative to "
                                    f"{schemas_dir.name}/"))
        return None
    try:
        return load_avro(file.resolve())
    except SchemaFileError as err:
        problem = err.problem
        if problem.line is None and "not found" in problem.message:
            problems.append(doc.problem(key_path, f"schema file {file} not found"))
        else:
            problems.append(problem)
        return None


def _outside(name: str, file: Path, roots: tuple[Path, ...]) -> str | None:
    """None when `file` is inside one of `roots` once its symlinks are followed; else how it leads out."""
    if Path(name).is_absolute():
        return "an absolute path"
    try:
        resolved = file.resolve()
        if any(resolved.is_relative_to(root.resolve()) for root in roots):
            return None
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL byte
        return "it cannot be resolved"
    lexical = Path(os.path.normpath(file.absolute()))
    if any(lexical.is_relative_to(os.path.normpath(root.absolute())) for root in roots):
        return "a symlink leads out of it"
    return "'..' leads out of it"


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
