"""Where an app finds its stack outputs: JSON, a file or S3 object named by K2_STACK_OUTPUTS, a live stack, or
topics.yaml.

Reading a live stack asks the `pulumi` CLI (k2infra.backend.stack_state, the one reader of a stack's state): apps
that are given the JSON (the usual case in production) need neither the pulumi package nor the CLI. An S3 object (what a
stack with k2:publishOutputs writes after each `pulumi up`) is read with boto3, imported only then, with
the app's own AWS credentials: never the state backend's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from k2infra.contracts.input_files import MB, InputFileError, read_text
from k2infra.contracts.outputs import HINT, ExchangeInfo, StackOutputs, StackOutputsError, SubjectInfo, TopicInfo

ENV_VAR = "K2_STACK_OUTPUTS"
TOPOLOGY_FILE = "topics.yaml"
# Generous: the outputs of 10,000 topics take about 5 MB.
OUTPUTS_LIMIT = 64 * MB


@dataclass(frozen=True)
class LiveStack:
    """A deployed stack, read through the `pulumi` CLI (`pulumi stack output --json`)."""

    name: str
    work_dir: str | os.PathLike[str] = "."
    env: Mapping[str, str] | None = None  # e.g. PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE

    def load(self) -> StackOutputs:
        from k2infra.backend.stack_state import StackStateError, read_outputs

        where = f"pulumi stack {self.name!r} in {self.work_dir}"
        try:
            values = read_outputs(self.name, cwd=self.work_dir, env=self.env, timeout=600)
        except StackStateError as err:  # CLI missing, unknown stack, backend unreachable: all end here
            if err.kind == "no-cli":
                raise StackOutputsError(f"{where}: reading a live stack needs the pulumi CLI; or give the JSON "
                                        f"of `pulumi stack output --json` ({ENV_VAR})") from None
            detail = (err.stderr or str(err)).strip()
            raise StackOutputsError(f"{where}: cannot read its outputs: {detail[:500]}") from err
        return StackOutputs.parse(values, where)


Source = StackOutputs | LiveStack | Mapping | str | os.PathLike | None


def load_stack_outputs(source: Source = None, *, environment: str | None = None) -> StackOutputs:
    """The stack outputs from `source`:

    - None: the file named by $K2_STACK_OUTPUTS, else ./topics.yaml;
    - a mapping (the parsed JSON), JSON text, or a path to a .json file;
    - an S3 location, "s3://bucket/key" (optionally ?region=...&endpoint=...): the outputs a stack published;
    - a LiveStack; a path to a topics.yaml (topology only, no cluster; `environment` picks its settings).
    """
    if isinstance(source, StackOutputs):
        return source
    if isinstance(source, LiveStack):
        return source.load()
    if isinstance(source, Mapping):
        return StackOutputs.parse(source, "the given stack outputs")
    if source is None:
        return _default_source(environment)
    if isinstance(source, str) and source.lstrip().startswith("{"):
        return _from_json(source, "the given JSON")
    if isinstance(source, str) and source.strip().startswith("s3://"):
        return _from_s3(source, "stack outputs at {url}", "the location given to load_stack_outputs")
    path = Path(source)
    if path.suffix in (".yaml", ".yml"):
        return load_topology_file(path, environment)
    return _from_file(path, f"stack outputs file {path}")


def _default_source(environment: str | None) -> StackOutputs:
    named = os.environ.get(ENV_VAR)
    if named and named.strip().startswith("s3://"):
        return _from_s3(named, f"${ENV_VAR} ({{url}})", f"${ENV_VAR}", prefix=f"${ENV_VAR}: ")
    if named:
        path = Path(named)
        if not path.is_file():
            raise StackOutputsError(f"${ENV_VAR} names {path}, which is not a file; write it with "
                                    f"`pulumi stack output --json --stack <stack> > {path}`")
        return _from_file(path, f"${ENV_VAR} ({path})")
    if Path(TOPOLOGY_FILE).is_file():
        return load_topology_file(Path(TOPOLOGY_FILE), environment)
    raise StackOutputsError(f"no stack outputs: ${ENV_VAR} is not set and there is no ./{TOPOLOGY_FILE}; "
                            f"set {ENV_VAR} to the file `pulumi stack output --json > FILE` wrote, "
                            "or pass source=...")


def _from_file(path: Path, where: str) -> StackOutputs:
    try:
        text = read_text(path, OUTPUTS_LIMIT)  # a regular file, bounded, UTF-8
    except InputFileError as err:
        line = f" (line {err.line})" if err.line else ""
        raise StackOutputsError(f"{where}: cannot read it{line}: {err.message}") from None
    return _from_json(text, where)


def _from_s3(url: str, where: str, setting: str, prefix: str = "") -> StackOutputs:
    """`where` (with {url}) prefixes problems with the content; a failure to read says which object itself."""
    from k2infra.backend.aws_access import AwsAccessError, S3Location

    try:
        location = S3Location.parse(url)
    except ValueError as err:
        raise StackOutputsError(f"{prefix}{err}") from None
    where = where.format(url=location.url)
    try:
        body = location.read(setting)
    except AwsAccessError as err:
        raise StackOutputsError(f"{prefix}{err}") from None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise StackOutputsError(f"{where}: not UTF-8 text; {HINT}") from None
    return _from_json(text, where)


def _from_json(text: str, where: str) -> StackOutputs:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise StackOutputsError(f"{where}: not valid JSON (line {err.lineno}: {err.msg})") from None
    except RecursionError:
        raise StackOutputsError(f"{where}: not valid stack outputs (JSON nested too deeply); {HINT}") from None
    return StackOutputs.parse(data, where)


def load_topology_file(path: str | os.PathLike[str], environment: str | None = None) -> StackOutputs:
    """Topics and subjects derived from topics.yaml, without cluster addresses or schema ids."""
    from k2infra.model import TopologyError, load_topology

    try:
        topology = load_topology(Path(path), environment)
    except TopologyError as err:
        raise StackOutputsError(str(err)) from None
    return StackOutputs(
        environment=topology.environment,
        topics=tuple(TopicInfo.model_validate(t.to_dict()) for t in topology.topics),
        subjects=tuple(SubjectInfo.model_validate(s.to_dict()) for s in topology.subjects),
        exchanges=tuple(ExchangeInfo.model_validate(e.to_dict()) for e in topology.exchanges),
    ).from_source(f"{path} (topology only)")
