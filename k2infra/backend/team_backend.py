"""A team's shared Pulumi backend: an S3 bucket for state and a KMS key for secrets. Pure (boto3, no Pulumi).

    k2 team-backend create --bucket B --kms-alias alias/k2-team [--outputs-bucket O] [--region R]
    k2 team-backend check [--stack prod] [--config topics.yaml]    (scripts/team-backend runs these)

`create` makes (or finds) them, idempotently, and prints what to export. `check` is the scripts' pre-check
before Pulumi touches the backend: credentials present, the state bucket there and readable, and the
stack's secrets provider usable (its KMS key decrypts the stack's data key, or a passphrase is set), each
failure named with what to set. Pulumi itself says only what its AWS SDK says (see docs/team-operations.md).
A stack of a protected environment (topics.yaml) under a passphrase is a failure, passphrase set or not.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from k2infra.backend.aws_access import CREDENTIALS_HINT, REFUSED_CREDENTIALS, aws_error, client_for, explain
from k2infra.contracts.locations import AwsTarget
from k2infra.contracts.settings import SettingsError, StackConfigFiles, protected_passphrase
from k2infra.model import TopologyError, read_spec

BACKEND_VAR = "PULUMI_BACKEND_URL"


@dataclass(frozen=True)
class S3Backend:
    bucket: str
    prefix: str
    target: AwsTarget

    @classmethod
    def parse(cls, url: str) -> S3Backend:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"{url!r} is not an s3:// backend URL")
        return cls(parts.netloc, parts.path.strip("/"), AwsTarget.from_query(parts.query))

    @property
    def state_prefix(self) -> str:
        return f"{self.prefix}/.pulumi/" if self.prefix else ".pulumi/"


@dataclass(frozen=True)
class KmsKey:
    key_id: str  # id, ARN, alias name or alias ARN
    target: AwsTarget

    @classmethod
    def parse(cls, url: str) -> KmsKey:
        """awskms://alias/name?region=..., awskms://1234abcd-...?..., or awskms:///arn:aws:kms:...?..."""
        parts = urlsplit(url)
        if parts.scheme != "awskms":
            raise ValueError(f"{url!r} is not an awskms:// secrets provider")
        return cls((parts.netloc + parts.path).lstrip("/"), AwsTarget.from_query(parts.query))


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    problems: int = 0

    def ok(self, text: str) -> None:
        self.lines.append(f"ok   {text}")

    def note(self, text: str) -> None:
        self.lines.append(f"note {text}")

    def problem(self, text: str) -> None:
        self.problems += 1
        self.lines.append(f"!!!  {text}")


def _has_credentials(target: AwsTarget) -> bool:
    import boto3

    session = boto3.session.Session(profile_name=target.profile) if target.profile else boto3.session.Session()
    return session.get_credentials() is not None


def check_backend(url: str | None, report: Report) -> None:
    if not url or url.startswith("file://"):
        report.ok(f"state in a local file backend ({url or 'Pulumi default'}): nothing shared to check")
        return
    if not url.startswith("s3://"):
        report.note(f"{BACKEND_VAR} is {url}: only s3:// backends are checked here")
        return
    backend = S3Backend.parse(url)
    try:
        if not _has_credentials(backend.target):
            report.problem(f"state bucket {backend.bucket}: no AWS credentials were found: {CREDENTIALS_HINT}")
            return
    except Exception as err:  # a named profile that does not exist
        report.problem(explain(err, f"state bucket {backend.bucket}", BACKEND_VAR))
        return
    s3 = client_for(backend.target, "s3")
    try:
        s3.list_objects_v2(Bucket=backend.bucket, Prefix=backend.state_prefix, MaxKeys=1)
    except Exception as err:
        report.problem(_state_bucket_problem(err, backend))
        return
    report.ok(f"state bucket {backend.bucket} is readable ({backend.state_prefix})")
    try:
        versioning = s3.get_bucket_versioning(Bucket=backend.bucket).get("Status")
    except Exception:
        versioning = None  # reading the setting may be denied to operators: not a reason to stop
    if versioning != "Enabled":
        report.note(f"state bucket {backend.bucket} has no versioning: earlier states can be recovered only from "
                    "Pulumi's own backups; enable it (scripts/team-backend create does)")


def _state_bucket_problem(err: Exception, backend: S3Backend) -> str:
    from botocore.exceptions import ClientError

    doing = f"state bucket {backend.bucket} ({BACKEND_VAR})"
    code, message, _status = aws_error(err) if isinstance(err, ClientError) else ("", "", None)
    if code in ("AccessDenied", "403", "AllAccessDisabled"):
        return (f"{doing}: access denied ({message}): Pulumi needs s3:ListBucket on arn:aws:s3:::{backend.bucket} "
                f"and s3:GetObject, s3:PutObject, s3:DeleteObject on arn:aws:s3:::{backend.bucket}/"
                f"{backend.state_prefix}*; {CREDENTIALS_HINT} for a principal that has them")
    if code == "NoSuchBucket":
        return (f"{doing}: the bucket {backend.bucket} does not exist: create it with scripts/team-backend create "
                f"--bucket {backend.bucket} --kms-alias alias/<team>-pulumi, or correct {BACKEND_VAR}")
    return explain(err, doing, BACKEND_VAR)


def protected_environment(files: StackConfigFiles, stack: str, topics_file: Path, report: Report) -> str | None:
    """The stack's environment (k2:environment, else the stack's name) if topics.yaml protects it, else None.
    As in the policy pack, an environment the file does not declare, or a file that cannot be read, counts."""
    environment = str(files.value("environment") or stack)
    try:
        protects = read_spec(topics_file).protects(environment)
    except TopologyError as err:
        first = err.problems[0] if err.problems else err
        report.note(f"stack {stack}: environment {environment} is checked as a protected one: the topology cannot "
                    f"be read ({first})")
        return environment
    return environment if protects else None


def check_secrets(project: Path, stack: str, report: Report, topics_file: Path | None = None) -> None:
    try:
        files = StackConfigFiles.read(project, stack)
    except SettingsError as err:
        report.problem(f"stack {stack}: {err}")
        return
    reason = files.passphrase()
    if reason:
        _check_passphrase(files, stack, reason, topics_file or project / "topics.yaml", report)
    else:
        _check_key_service(files, stack, report)


def _check_passphrase(files: StackConfigFiles, stack: str, reason: str, topics_file: Path, report: Report) -> None:
    environment = protected_environment(files, stack, topics_file, report)
    if environment:  # the dev passphrase is public: set or not, it protects nothing
        problem, fix = protected_passphrase(stack, environment, reason)
        report.problem(f"stack {stack}: {problem}: {fix}")
    elif os.environ.get("PULUMI_CONFIG_PASSPHRASE") is not None or os.environ.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
        report.ok(f"stack {stack}: passphrase secrets provider, and a passphrase is set")
    else:
        report.problem(f"stack {stack} encrypts its secrets with a passphrase: set PULUMI_CONFIG_PASSPHRASE "
                       "(or PULUMI_CONFIG_PASSPHRASE_FILE); for a shared stack, move it to KMS: "
                       f"pulumi stack change-secrets-provider --stack {stack} 'awskms://alias/...?region=...'")


def _check_key_service(files: StackConfigFiles, stack: str, report: Report) -> None:
    provider, encrypted_key = str(files.secrets_provider), files.encrypted_key
    if not provider.startswith("awskms://"):
        report.note(f"stack {stack}: secrets provider {provider}: only awskms:// is checked here")
        return
    key = KmsKey.parse(provider)
    kms = client_for(key.target, "kms")
    doing = f"stack {stack}: the KMS key {key.key_id} ({provider})"
    try:
        if encrypted_key:
            kms.decrypt(CiphertextBlob=base64.b64decode(encrypted_key), EncryptionContext=key.target.context)
            report.ok(f"stack {stack}: KMS key {key.key_id} decrypts the stack's data key")
        else:
            kms.encrypt(KeyId=key.key_id, Plaintext=b"k2 probe", EncryptionContext=key.target.context)
            report.ok(f"stack {stack}: KMS key {key.key_id} encrypts (the stack has no data key yet)")
    except Exception as err:
        report.problem(_kms_problem(err, doing, bool(encrypted_key)))


def _kms_problem(err: Exception, doing: str, decrypting: bool) -> str:
    from botocore.exceptions import ClientError, NoCredentialsError, PartialCredentialsError

    if isinstance(err, NoCredentialsError | PartialCredentialsError):
        return f"{doing}: no AWS credentials were found: {CREDENTIALS_HINT}"
    if not isinstance(err, ClientError):
        return explain(err, doing, "the stack's secretsprovider")
    code, message, _status = aws_error(err)
    if code in REFUSED_CREDENTIALS:
        return f"{doing}: AWS refused the credentials ({code}: {message}): {CREDENTIALS_HINT} with valid keys"
    action = "decrypt this stack's data key (its secrets)" if decrypting else "encrypt with it"
    return (f"{doing} cannot {action} ({code}: {message}): the credentials need kms:Decrypt and kms:Encrypt on "
            "that key, which must be enabled and in the region= of the URL; if the key is gone, the stack's "
            "secrets must be set again under a new provider (docs/team-operations.md)")


def create(bucket: str, region: str | None, endpoint: str | None, kms_alias: str | None,
           outputs_bucket: str | None) -> list[str]:
    """The state bucket (versioned, private, encrypted at rest), the outputs bucket, the KMS key and alias:
    made if missing, kept if there. Returns what was done, line by line."""
    target = AwsTarget(region=region, endpoint=endpoint)
    s3 = client_for(target, "s3")
    done = []
    for name in [b for b in (bucket, outputs_bucket) if b]:
        try:
            s3.head_bucket(Bucket=name)
            done.append(f"bucket {name}: exists, kept")
        except Exception as err:
            code = str(getattr(err, "response", {}).get("Error", {}).get("Code", ""))
            if code not in ("404", "NoSuchBucket", "NotFound"):
                raise RuntimeError(explain(err, f"bucket {name}", "--bucket")) from None
            extra = {"CreateBucketConfiguration": {"LocationConstraint": region}} \
                if region and region != "us-east-1" else {}
            s3.create_bucket(Bucket=name, **extra)
            done.append(f"bucket {name}: created")
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True})
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    if kms_alias:
        alias = kms_alias if kms_alias.startswith("alias/") else f"alias/{kms_alias}"
        kms = client_for(target, "kms")
        try:
            key_id = kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"]
            done.append(f"KMS key {alias}: exists ({key_id}), kept")
        except kms.exceptions.NotFoundException:
            key_id = kms.create_key(Description=f"Pulumi secrets of the stacks in s3://{bucket}")["KeyMetadata"][
                "KeyId"]
            kms.create_alias(AliasName=alias, TargetKeyId=key_id)
            done.append(f"KMS key {alias}: created ({key_id})")
        kms.enable_key_rotation(KeyId=key_id)
    query = "&".join(f"{k}={v}" for k, v in (("region", region), ("endpoint", endpoint)) if v)
    suffix = f"?{query}" if query else ""
    s3_suffix = f"{suffix}{'&' if query else '?'}s3ForcePathStyle=true" if endpoint else suffix
    done.append(f"export {BACKEND_VAR}='s3://{bucket}{s3_suffix}'")
    if kms_alias:
        done.append(f"pulumi stack init <stack> --secrets-provider 'awskms://{alias}{suffix}'")
    if outputs_bucket:
        done.append(f"pulumi config set k2:publishOutputs 's3://{outputs_bucket}/<stack>.json{s3_suffix}' "
                    "--stack <stack>")
    return done
