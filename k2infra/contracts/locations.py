"""Where an S3 object, a state backend or a KMS key is: the one parser of their URLs' query parameters.

A location takes the query parameters Pulumi's own s3:// backend URL takes (gocloud.dev's names), so one
spelling serves the published outputs (k2:publishOutputs, K2_STACK_OUTPUTS), the team's backend URL and its
awskms:// secrets provider: `region`, `endpoint` (an S3-compatible server; AWS_ENDPOINT_URL also works),
`s3ForcePathStyle`/`use_path_style`, `profile`; awskms:// also `context_*` (the KMS encryption context).
Pure values: boto3 is used only by k2infra.backend.aws_access.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

QUERY_KEYS = ("region", "endpoint", "s3ForcePathStyle", "use_path_style", "profile")


@dataclass(frozen=True)
class AwsTarget:
    """Where a location, backend or key URL points: the query parameters gocloud.dev reads, as boto3 needs them."""

    region: str | None = None
    endpoint: str | None = None
    profile: str | None = None
    path_style: bool = False
    context: dict[str, str] = field(default_factory=dict)  # awskms: context_* (KMS encryption context)

    @classmethod
    def from_query(cls, query: str) -> AwsTarget:
        values = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        return cls(region=values.get("region") or None, endpoint=values.get("endpoint") or None,
                   profile=values.get("profile") or None,
                   path_style=any(values.get(k, "").lower() in ("true", "1")
                                  for k in ("s3ForcePathStyle", "use_path_style")),
                   context={k.removeprefix("context_"): v for k, v in values.items() if k.startswith("context_")})


@dataclass(frozen=True)
class S3Url:
    """`s3://bucket/key?region=...`, checked for its form (k2infra.backend.aws_access.S3Location uses it)."""

    bucket: str
    key: str
    target: AwsTarget

    @classmethod
    def parse(cls, url: str, *, need_key: bool = True) -> S3Url:
        """ValueError saying what is wrong with it."""
        parts = urlsplit(url.strip())
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"{url!r} is not an S3 location; use s3://bucket/key (optionally ?region=...)")
        key = parts.path.lstrip("/")
        if need_key and (not key or key.endswith("/")):
            raise ValueError(f"{url!r} names no object: use s3://{parts.netloc}/path/to/outputs.json")
        unknown = sorted(set(parse_qs(parts.query, keep_blank_values=True)) - set(QUERY_KEYS))
        if unknown:
            raise ValueError(f"{url!r}: unknown query parameter(s) {', '.join(unknown)}; "
                             f"use {', '.join(QUERY_KEYS)}")
        return cls(parts.netloc, key, AwsTarget.from_query(parts.query))
