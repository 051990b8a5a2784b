"""Pure: S3 locations (k2infra.contracts.locations) used with boto3, each failure worded with what to set.

Shared by the program's published outputs (k2infra.providers.published_outputs), the app helpers' S3
source (k2infra.clients.sources) and the team-backend checks (k2infra.backend.team_backend). boto3 is imported
only when an S3 location is used. Credentials never appear in a location: boto3 finds them as the AWS
CLI does (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, an instance or task role).

A location takes the query parameters Pulumi's own s3:// backend URL takes (gocloud.dev's names), so one
spelling serves both: `region`, `endpoint` (an S3-compatible server; AWS_ENDPOINT_URL also works),
`s3ForcePathStyle`/`use_path_style`, `profile`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from k2infra.contracts.locations import AwsTarget, S3Url

CREDENTIALS_HINT = ("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or run with an instance or "
                    "task role")


class AwsAccessError(RuntimeError):
    """An S3 or KMS call failed; the message names the location and what to set or check."""


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str
    region: str | None = None
    endpoint: str | None = None
    path_style: bool = False
    profile: str | None = None

    @classmethod
    def parse(cls, url: str, *, need_key: bool = True) -> S3Location:
        """`s3://bucket/key?region=...`; ValueError saying what is wrong with it."""
        parsed = S3Url.parse(url, need_key=need_key)
        target = parsed.target
        return cls(bucket=parsed.bucket, key=parsed.key, region=target.region, endpoint=target.endpoint,
                   path_style=target.path_style, profile=target.profile)

    @property
    def url(self) -> str:
        """The location without its query: for messages."""
        return f"s3://{self.bucket}/{self.key}" if self.key else f"s3://{self.bucket}"

    @property
    def target(self) -> AwsTarget:
        return AwsTarget(region=self.region, endpoint=self.endpoint, profile=self.profile, path_style=self.path_style)

    def client(self) -> Any:
        return client_for(self.target, "s3")

    def read(self, setting: str) -> bytes:
        """The object's bytes; AwsAccessError naming `setting` (what the reader set to name this location)."""
        try:
            reply = self.client().get_object(Bucket=self.bucket, Key=self.key)
            body: bytes = reply["Body"].read()
            return body
        except Exception as err:
            raise AwsAccessError(explain(err, f"cannot read {self.url}", setting, self, write=False)) from None

    def write(self, body: bytes, setting: str, *, metadata: dict[str, str] | None = None) -> dict[str, str]:
        """Put the object; its ETag (and VersionId on a versioned bucket)."""
        try:
            reply = self.client().put_object(Bucket=self.bucket, Key=self.key, Body=body,
                                             ContentType="application/json", CacheControl="no-cache",
                                             Metadata=metadata or {})
        except Exception as err:
            raise AwsAccessError(explain(err, f"cannot write {self.url}", setting, self, write=True)) from None
        return {k: str(reply[v]) for k, v in (("etag", "ETag"), ("version_id", "VersionId")) if reply.get(v)}

    def delete(self, setting: str) -> None:
        try:
            self.client().delete_object(Bucket=self.bucket, Key=self.key)
        except Exception as err:
            raise AwsAccessError(explain(err, f"cannot delete {self.url}", setting, self, write=True)) from None


def client_for(target: AwsTarget, service: str) -> Any:
    """A boto3 client for `service` where an S3 location or a backend or key URL points."""
    return aws_client(service, region=target.region, endpoint=target.endpoint, profile=target.profile,
                      path_style=target.path_style)


def aws_client(service: str, *, region: str | None = None, endpoint: str | None = None,
               profile: str | None = None, path_style: bool = False) -> Any:
    """A boto3 client with short timeouts and few retries, so a wrong endpoint fails in seconds."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 2, "mode": "standard"},
                    s3={"addressing_style": "path"} if path_style else None)
    session = boto3.session.Session(profile_name=profile) if profile else boto3.session.Session()
    return session.client(service, region_name=region, endpoint_url=endpoint, config=config)


# AWS error codes, grouped by what the reader has to do about them.
REFUSED_CREDENTIALS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidClientTokenId", "ExpiredToken",
                        "ExpiredTokenException", "UnrecognizedClientException", "InvalidToken", "TokenRefreshRequired"}
_KMS_CODES = {"KMS.DisabledException", "KMS.NotFoundException", "KMS.KMSInvalidStateException",
              "KMS.InvalidKeyUsageException", "KMS.AccessDeniedException", "DisabledException", "NotFoundException",
              "KMSInvalidStateException", "InvalidCiphertextException", "IncorrectKeyException",
              "KMSAccessDeniedException"}
_WRONG_REGION = {"PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"}


def explain(err: Exception, doing: str, setting: str, location: S3Location | None = None, *,
            write: bool = False) -> str:
    """One sentence for a failed AWS call: what failed, why, and what to set (`setting` names the location's
    own knob, e.g. k2:publishOutputs or K2_STACK_OUTPUTS)."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        ProfileNotFound,
    )

    bucket = location.bucket if location else "the bucket"
    if isinstance(err, NoCredentialsError | PartialCredentialsError):
        return f"{doing}: no AWS credentials were found: {CREDENTIALS_HINT}"
    if isinstance(err, ProfileNotFound):
        return f"{doing}: {err}: set AWS_PROFILE (or profile= in {setting}) to a profile in ~/.aws/config"
    if isinstance(err, NoRegionError):
        return f"{doing}: no AWS region: set AWS_REGION, or region= in {setting}"
    if isinstance(err, EndpointConnectionError):
        where = (location.endpoint if location and location.endpoint else None) or getattr(err, "kwargs", {}).get(
            "endpoint_url", "the AWS endpoint")
        return (f"{doing}: cannot reach {where} ({err}): check endpoint= in {setting} or AWS_ENDPOINT_URL, "
                "and the network")
    if not isinstance(err, ClientError):
        return f"{doing}: {type(err).__name__}: {err}"
    code, message, status = aws_error(err)
    if code == "NoSuchBucket" or (code == "404" and location is not None and not location.key):
        return (f"{doing}: the bucket {bucket} does not exist{_at(location)}: create it "
                f"(scripts/team-backend create --bucket {bucket}) or correct the bucket in {setting}")
    if code in ("NoSuchKey", "404", "NotFound"):
        return (f"{doing}: there is no such object{_at(location)}: run `pulumi up` on a stack whose "
                f"k2:publishOutputs names it, or correct {setting}")
    if code in REFUSED_CREDENTIALS:
        return f"{doing}: AWS refused the credentials ({code}: {message}): {CREDENTIALS_HINT} with valid keys"
    if code in _KMS_CODES or "kms" in code.lower() or ("kms" in message.lower() and status in (400, 403)):
        need = "kms:GenerateDataKey and kms:Encrypt" if write else "kms:Decrypt"
        return (f"{doing}: its KMS key cannot be used ({code}: {message}): the credentials need {need} on the "
                "key that encrypts the bucket, and the key must be enabled")
    if code in ("AccessDenied", "AllAccessDisabled", "Forbidden", "403") or status == 403:
        need = "s3:PutObject" if write else "s3:GetObject"
        return (f"{doing}: access denied ({message}): the credentials need {need} on "
                f"arn:aws:s3:::{bucket}/{location.key if location else '*'}; {CREDENTIALS_HINT} for a principal "
                "that has it")
    if code in _WRONG_REGION:
        return f"{doing}: the bucket {bucket} is in another region ({message}): set region= in {setting}"
    return f"{doing}: {code or status}: {message}"


def aws_error(err: Any) -> tuple[str, str, int | None]:
    """(code, message, HTTP status) of a botocore ClientError. A JSON-protocol service (KMS) that answers in
    XML, as moto does for an IAM refusal, leaves botocore the status as code and the XML as message: read
    them from the XML then."""
    import re

    error = err.response.get("Error", {})
    code, message = str(error.get("Code", "")), str(error.get("Message", "")) or str(err)
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if message.lstrip().startswith("<"):
        found = {tag: re.search(f"<{tag}>(.*?)</{tag}>", message, re.S) for tag in ("Code", "Message")}
        code = found["Code"].group(1) if found["Code"] else code
        message = found["Message"].group(1) if found["Message"] else message
    return code, message, status


def _at(location: S3Location | None) -> str:
    if location is None:
        return ""
    where = f" at {location.endpoint}" if location.endpoint else ""
    return f" ({location.url}{', region ' + location.region if location.region else ''}{where})"
