"""How a hostile case builds its project: small steps applied to a copy of the shipped project (an edit of
topics.yaml, a whole file, a symlink, a FIFO...), and generators of the large or deep texts.

Paths are relative to the project; `@OUTSIDE@` stands for a directory beside it, outside the repository (the
same token in a file's text is replaced too, so an input can point there).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ROOT

SHIPPED = (ROOT / "topics.yaml").read_text(encoding="utf-8")
OUTSIDE = "@OUTSIDE@"
Content = str | bytes | Callable[[], str | bytes]


def _bytes(content: Content) -> bytes:
    value = content() if callable(content) else content
    return value.encode("utf-8") if isinstance(value, str) else value


def _place(path: str, project: Path, outside: Path) -> Path:
    if path.startswith(OUTSIDE):
        return outside / path.removeprefix(OUTSIDE).lstrip("/")
    return project / path


def _filled(data: bytes, outside: Path) -> bytes:
    return data.replace(OUTSIDE.encode(), str(outside).encode())


@dataclass(frozen=True)
class Edit:
    """Replace the first `old` in a file of the project (the case fails if there is none)."""

    old: str | bytes
    new: str | bytes
    file: str = "topics.yaml"

    def apply(self, project: Path, outside: Path) -> None:
        path = _place(self.file, project, outside)
        text, old = path.read_bytes(), _bytes(self.old)
        assert old in text, f"{self.file} has no {old!r}: the case is out of date with the shipped file"
        path.write_bytes(text.replace(old, _filled(_bytes(self.new), outside), 1))


@dataclass(frozen=True)
class Append:
    text: str
    file: str = "topics.yaml"

    def apply(self, project: Path, outside: Path) -> None:
        path = _place(self.file, project, outside)
        path.write_bytes(path.read_bytes() + _filled(_bytes(self.text), outside))


@dataclass(frozen=True)
class Write:
    """A whole file (replacing the shipped one if any); `content` may be a function, for large texts."""

    file: str
    content: Content

    def apply(self, project: Path, outside: Path) -> None:
        path = _place(self.file, project, outside)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        path.write_bytes(_filled(_bytes(self.content), outside))


@dataclass(frozen=True)
class Symlink:
    link: str
    target: str  # absolute, @OUTSIDE@/..., or relative to the link's directory

    def apply(self, project: Path, outside: Path) -> None:
        path = _place(self.link, project, outside)
        path.unlink(missing_ok=True)
        path.symlink_to(self.target.replace(OUTSIDE, str(outside)))


@dataclass(frozen=True)
class Fifo:
    """A named pipe nobody writes to: reading it waits forever."""

    file: str

    def apply(self, project: Path, outside: Path) -> None:
        path = _place(self.file, project, outside)
        path.unlink(missing_ok=True)
        os.mkfifo(path)


@dataclass(frozen=True)
class Directory:
    """A directory where a file is expected."""

    file: str

    def apply(self, project: Path, outside: Path) -> None:
        path = _place(self.file, project, outside)
        path.unlink(missing_ok=True)
        path.mkdir()


@dataclass(frozen=True)
class Remove:
    file: str

    def apply(self, project: Path, outside: Path) -> None:
        path = _place(self.file, project, outside)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


@dataclass(frozen=True)
class Copy:
    """A copy of a shipped file (e.g. schemas/trade.avsc) at another place."""

    source: str
    file: str

    def apply(self, project: Path, outside: Path) -> None:
        path = _place(self.file, project, outside)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / self.source, path)


Step = Edit | Append | Write | Symlink | Fifo | Directory | Remove | Copy


# Edits of the shipped topics.yaml, by what they change.

def q(text: str) -> str:
    """`text` as a YAML double-quoted scalar (JSON's escapes are YAML's)."""
    return json.dumps(text)


_FIRST_EXCHANGE = {"equities": "      asx:\n", "crypto": "      binance:\n"}
_ENVIRONMENT = {"dev": "  dev:\n    replication_factor: 1\n    min_insync_replicas: 1\n",
                "prod": "  prod:\n    replication_factor: 3\n    min_insync_replicas: 2\n"}


def exchange(code: str, asset_class: str = "crypto", partitions: object = 8, extra: str = "") -> Edit:
    """A new exchange (written as `code`, already YAML) before the asset class's first one."""
    anchor = _FIRST_EXCHANGE[asset_class]
    return Edit(anchor, f'      {code}:\n        name: "X"\n        partitions: {partitions}\n{extra}{anchor}')


def asset_class(code: str, exchange_code: str = "x") -> Edit:
    return Edit("\ndata_types:\n", f'  {code}:\n    exchanges:\n      {exchange_code}:\n        name: "X"\n'
                                   "        partitions: 4\n\ndata_types:\n")


def environment(lines: str, env: str = "dev") -> Edit:
    """Lines (indented 4) added to an environment of the shipped file."""
    return Edit(_ENVIRONMENT[env], _ENVIRONMENT[env] + lines)


def decommission(*names: str, env: str = "dev") -> Edit:
    return environment(f"    decommission: [{', '.join(q(n) for n in names)}]\n", env)


def legacy(name: str, data_type: str = "trades") -> Append:
    """One more legacy topic (the shipped file ends inside legacy_topics)."""
    return Append(f"  {q(name)}:\n    data_type: {data_type}\n")


def principal(app: str, value: str) -> Edit:
    return Edit(f'principal: "User:{app}"', f"principal: {q(value)}")


def app_setting(app: str, line: str) -> Edit:
    anchor = f'    principal: "User:{app}"\n'
    return Edit(anchor, f"{anchor}    {line}\n")


def trades_config(key: str, value: str) -> Edit:
    """A key of the trades data type's config (the first `cleanup.policy` of the file is trades')."""
    anchor = '      cleanup.policy: "delete"\n'
    return Edit(anchor, f"{anchor}      {key}: {value}\n")


def trades_retention(value: str) -> Edit:
    return Edit('retention.ms: "604800000"   # 7 days', f"retention.ms: {value}")


def crypto_schema(path: str, data_type: str = "trades") -> Edit:
    """crypto's own schema file for a data type: `schemas: {trades: path}` (path under schemas/)."""
    anchor = '    description: "Cryptocurrency spot and derivatives markets"\n'
    return Edit(anchor, f"{anchor}    schemas: {{{data_type}: {q(path)}}}\n")


def acknowledgement(topics: list[str], to: str = "1d", reason: str = "K2-142: the lakehouse keeps a copy",
                    change: str = "retention.ms") -> Edit:
    entry = (f"acknowledged_data_loss:\n  - topics: [{', '.join(q(t) for t in topics)}]\n    change: {change}\n"
             f"    to: {to}\n    reason: {q(reason)}\n")
    return Edit("\nschema_registry:\n", f"\n{entry}\nschema_registry:\n")


def subject_pattern(pattern: str) -> Edit:
    return Edit('subject_pattern: "market.{asset_class}.{data_type}-value"', f"subject_pattern: {q(pattern)}")


def monitoring(text: str) -> Append:
    """A top-level `monitoring:` section (after legacy_topics, the last one)."""
    return Append(f"monitoring:\n{text}")


def stack_file(text: Content, stack: str = "dev") -> Write:
    """Pulumi.<stack>.yaml beside topics.yaml (the shipped project copy has none)."""
    return Write(f"Pulumi.{stack}.yaml", text)


STACK_OK = "config:\n  k2:environment: dev\n  k2:cluster: local\n"


# Schema files.

def trade_schema(*extra_fields: dict, **changes: object) -> str:
    """The shipped trade schema with more fields or other top-level values, as JSON."""
    document = json.loads((ROOT / "schemas" / "trade.avsc").read_text())
    document["fields"] += list(extra_fields)
    document.update(changes)
    return json.dumps(document, indent=1, ensure_ascii=False)


def deep_avro(depth: int) -> str:
    """A trade schema with a field of arrays nested `depth` deep."""
    nested = '{"type": "array", "items": ' * depth + '"string"' + "}" * depth
    schema = trade_schema({"name": "deep", "type": "PLACEHOLDER"})
    return schema.replace('"PLACEHOLDER"', nested)


# Large, deep and exploding texts.

def alias_bomb(levels: int = 9, width: int = 9, indent: str = "  ") -> str:
    """Billion laughs: each level a list of `width` aliases of the one before (width ** levels leaves)."""
    lines = [f"{indent}- &l0 [{', '.join(['lol'] * width)}]"]
    lines += [f"{indent}- &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def deep_flow(depth: int, open_: str = "[", close: str = "]") -> str:
    return open_ * depth + close * depth


def deep_flow_mapping(depth: int) -> str:
    return "{a: " * depth + "x" + "}" * depth


def many_environments(count: int, comments_kb: int = 0) -> Callable[[], str]:
    """`count` environments more, and as many KB of comments: a file parsed once per environment costs
    `count` parses of it, a file parsed once per command one."""
    def text() -> str:
        envs = "".join(f"  env{i}:\n    replication_factor: 1\n" for i in range(count))
        return with_comments(comments_kb / 1000)().replace("environments:\n", f"environments:\n{envs}", 1)

    return text


def with_comments(megabytes: float) -> Callable[[], str]:
    def text() -> str:
        line = "# a comment, as careless as it is long: " + "x" * 60 + "\n"
        return SHIPPED + line * int(megabytes * 1_000_000 / len(line))

    return text


def with_long_description(megabytes: float) -> Callable[[], str]:
    def text() -> str:
        return SHIPPED.replace('description: "Traditional equity markets"',
                               f'description: "{"x" * int(megabytes * 1_000_000)}"', 1)

    return text


def crlf() -> str:
    return SHIPPED.replace("\n", "\r\n")
