"""The bootstrap TOML config, validated into frozen dataclasses before anything runs."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import tomllib

from bootstrap.cloud import names
from bootstrap.cloud.names import ValidationError

# Written into every Snowflake object apply creates, and tagged on the IAM role, so that destroy
# can tell its own objects from same-named ones somebody made by hand.
MARKER = "managed by s3logs bootstrap"
TAG_KEY = "managed-by"
TAG_VALUE = "s3logs-bootstrap"


@dataclass(frozen=True)
class AwsConfig:
    account_id: str
    region: str
    log_bucket: str
    log_prefix: str  # '' or 'a/b/': normalised to exactly one trailing slash
    source_buckets: tuple[str, ...]
    role_name: str
    purge_loaded_files: bool
    endpoint_url: str | None

    @property
    def partition(self) -> str:
        if self.region.startswith("cn-"):
            return "aws-cn"
        if self.region.startswith("us-gov-"):
            return "aws-us-gov"
        return "aws"

    @property
    def role_arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:role/{self.role_name}"

    @property
    def log_bucket_arn(self) -> str:
        return f"arn:{self.partition}:s3:::{self.log_bucket}"

    @property
    def stage_url(self) -> str:
        return f"s3://{self.log_bucket}/{self.log_prefix}"

    def logging_target_prefix(self, source_bucket: str) -> str:
        """Each source bucket logs under its own folder, so one bucket's logs are easy to find."""
        return f"{self.log_prefix}{source_bucket}/"


@dataclass(frozen=True)
class QuickstartNames:
    """Names the Snowflake quickstart uses; apply looks for them to migrate a manual setup."""

    staging_table: str
    pipe: str
    stream: str
    task: str
    parsed_table: str = "S3_ACCESS_LOGS"
    # The time zone the quickstart pipe's CURRENT_TIMESTAMP() was cast to NTZ in; None: use the
    # account's TIMEZONE parameter (read by apply).
    timezone: str | None = None

    @property
    def staging_archive(self) -> str:
        return self.staging_table + "_QUICKSTART_ARCHIVE"

    @property
    def parsed_archive(self) -> str:
        return self.parsed_table + "_QUICKSTART_ARCHIVE"


@dataclass(frozen=True)
class SnowflakeConfig:
    database: str
    schema: str
    integration: str
    file_format: str
    stage: str
    raw_table: str
    pipe: str
    quickstart: QuickstartNames
    # The role dbt runs as; apply grants it what the dbt project needs (None: no grants).
    dbt_role: str | None = None
    # True: apply may repoint an existing integration at the configured IAM role, although
    # other stages using that integration would lose access through the old role.
    repoint_integration_role: bool = False

    def qualified(self, name: str) -> str:
        """database.schema.name, each part quoted."""
        return ".".join(names.quote_ident(part) for part in (self.database, self.schema, name))

    @property
    def schema_sql(self) -> str:
        return f"{names.quote_ident(self.database)}.{names.quote_ident(self.schema)}"


@dataclass(frozen=True)
class BootstrapConfig:
    aws: AwsConfig
    snowflake: SnowflakeConfig

    @property
    def notification_id(self) -> str:
        """The Id of the bucket notification apply adds; destroy removes only this one."""
        sf = self.snowflake
        raw = f"{sf.database}.{sf.schema}.{sf.pipe}"
        return "s3logs-" + "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in raw)[:200]


_AWS_KEYS = {
    "account_id",
    "region",
    "log_bucket",
    "log_prefix",
    "source_buckets",
    "role_name",
    "purge_loaded_files",
    "endpoint_url",
}
_SF_DEFAULTS = {
    "integration": "s3_int_s3_access_logs",
    "file_format": "s3_access_logs_text_format",
    "stage": "s3_access_logs",
    "raw_table": "s3_access_logs_raw",
    "pipe": "s3_access_logs_raw_pipe",
}
_SF_OPTIONAL = {"dbt_role", "repoint_integration_role"}
_QUICKSTART_DEFAULTS = {
    "staging_table": "s3_access_logs_staging",
    "pipe": "s3_access_logs_pipe",
    "stream": "s3_access_logs_stream",
    "task": "s3_access_logs_transformation",
    "parsed_table": "s3_access_logs",
}


def load_config(path: str | Path) -> BootstrapConfig:
    """Read and validate a bootstrap TOML file; raises ValidationError with a readable message."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValidationError(
            f"config file {str(path)!r} not found (copy bootstrap.example.toml and edit it)"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ValidationError(f"{path}: not UTF-8 text; save the config as UTF-8") from None
    except OSError as exc:
        raise ValidationError(f"cannot read config file {str(path)!r}: {exc.strerror}") from None
    return parse_config(data)


def parse_config(data: dict[str, Any]) -> BootstrapConfig:
    _no_unknown_keys(data, {"aws", "snowflake"}, "")
    aws = _table(data, "aws")
    sf = _table(data, "snowflake")
    _no_unknown_keys(aws, _AWS_KEYS, "aws.")
    _no_unknown_keys(
        sf, {"database", "schema", "quickstart", *_SF_DEFAULTS, *_SF_OPTIONAL}, "snowflake."
    )
    quickstart = sf.get("quickstart", {})
    if not isinstance(quickstart, dict):
        raise ValidationError("snowflake.quickstart: expected a table")
    _no_unknown_keys(quickstart, {*_QUICKSTART_DEFAULTS, "timezone"}, "snowflake.quickstart.")
    timezone = quickstart.get("timezone")
    if timezone is not None:
        timezone = names.iana_timezone(timezone, "snowflake.quickstart.timezone")

    sources = aws.get("source_buckets", [])
    if not isinstance(sources, list):
        raise ValidationError("aws.source_buckets: expected a list of bucket names")
    log_bucket = names.bucket_name(_required(aws, "log_bucket", "aws."), "aws.log_bucket")
    source_buckets = tuple(
        names.bucket_name(b, f"aws.source_buckets[{i}]") for i, b in enumerate(sources)
    )
    if log_bucket in source_buckets:
        raise ValidationError(
            "aws.source_buckets: the log bucket must not log into itself (every log write "
            "would create another log record, for ever)"
        )
    if len(set(source_buckets)) != len(source_buckets):
        raise ValidationError("aws.source_buckets: lists a bucket twice")
    purge = aws.get("purge_loaded_files", False)
    if not isinstance(purge, bool):
        raise ValidationError("aws.purge_loaded_files: expected true or false")
    endpoint = aws.get("endpoint_url")
    if endpoint is not None and (
        not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://"))
    ):
        raise ValidationError("aws.endpoint_url: expected an http:// or https:// URL")

    aws_config = AwsConfig(
        account_id=names.account_id(_required(aws, "account_id", "aws."), "aws.account_id"),
        region=names.region(_required(aws, "region", "aws."), "aws.region"),
        log_bucket=log_bucket,
        log_prefix=names.log_prefix(aws.get("log_prefix", ""), "aws.log_prefix"),
        source_buckets=source_buckets,
        role_name=names.role_name(_required(aws, "role_name", "aws."), "aws.role_name"),
        purge_loaded_files=purge,
        endpoint_url=endpoint,
    )

    def ident(table: dict[str, Any], key: str, default: str | None, prefix: str) -> str:
        value = table.get(key, default) if default is not None else _required(table, key, prefix)
        return names.snowflake_identifier(value, f"{prefix}{key}")

    sf_config = SnowflakeConfig(
        database=ident(sf, "database", None, "snowflake."),
        schema=ident(sf, "schema", None, "snowflake."),
        **{k: ident(sf, k, d, "snowflake.") for k, d in _SF_DEFAULTS.items()},
        quickstart=QuickstartNames(
            **{
                k: ident(quickstart, k, d, "snowflake.quickstart.")
                for k, d in _QUICKSTART_DEFAULTS.items()
            },
            timezone=timezone,
        ),
    )
    repoint = sf.get("repoint_integration_role", False)
    if not isinstance(repoint, bool):
        raise ValidationError("snowflake.repoint_integration_role: expected true or false")
    dbt_role = sf.get("dbt_role")
    sf_config = replace(
        sf_config,
        dbt_role=None if dbt_role is None else ident(sf, "dbt_role", None, "snowflake."),
        repoint_integration_role=repoint,
    )
    if sf_config.pipe == sf_config.quickstart.pipe:
        raise ValidationError(
            "snowflake.pipe: must differ from snowflake.quickstart.pipe, which apply replaces"
        )
    _adoption_names_differ(sf_config)
    return BootstrapConfig(aws=aws_config, snowflake=sf_config)


def _adoption_names_differ(sf: SnowflakeConfig) -> None:
    """Adoption copies the quickstart's table into raw_table and renames its tables aside."""
    qs = sf.quickstart
    taken = {
        qs.staging_table: "snowflake.quickstart.staging_table",
        qs.parsed_table: "snowflake.quickstart.parsed_table",
        qs.staging_archive: "the quickstart staging table's archive name",
        qs.parsed_archive: "the quickstart parsed table's archive name",
    }
    if sf.raw_table in taken:
        raise ValidationError(
            f"snowflake.raw_table: must differ from {taken[sf.raw_table]} ({sf.raw_table}); "
            "apply copies the quickstart's rows into a new raw table and keeps its tables aside"
        )
    for name in (qs.staging_archive, qs.parsed_archive):
        if len(name) > 255:
            raise ValidationError(
                f"snowflake.quickstart: {name[:40]}... is longer than 255 characters; "
                "apply renames the quickstart's tables to <name>_QUICKSTART_ARCHIVE"
            )


def _table(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise ValidationError(f"[{key}]: missing table (see bootstrap.example.toml)")
    return value


def _required(table: dict[str, Any], key: str, prefix: str) -> Any:
    if key not in table:
        raise ValidationError(f"{prefix}{key}: required")
    return table[key]


def _no_unknown_keys(table: dict[str, Any], allowed: set[str], prefix: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ValidationError(
            f"unknown setting(s) {', '.join(prefix + k for k in unknown)}; "
            f"allowed: {', '.join(sorted(prefix + k for k in allowed))}"
        )
