"""Validation of AWS and Snowflake names, and quoting of values placed in SQL.

Everything the bootstrap sends to AWS or Snowflake passes through here first, so a bad name is
reported before anything changes instead of failing half-way (or worse, silently matching the
wrong object).
"""

from __future__ import annotations

import ipaddress
import re


class ValidationError(ValueError):
    """A configured or discovered value is not acceptable; the message says which and why."""


# Anchored with \Z, not $ (which also matches before a trailing newline that would then slip
# into ARNs and policy JSON); ASCII only, as AWS and Snowflake names are.
_BUCKET_CHARS = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z", re.ASCII)
_BUCKET_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
# IAM wildcards (*, ?) and policy variables (${...}) would widen the policy, so they are refused
# rather than escaped; the rest are S3's "safe characters" plus '=' for Hive-style partitions.
_PREFIX_CHARS = re.compile(r"^[A-Za-z0-9!_.()=/-]*\Z", re.ASCII)
_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}\Z", re.ASCII)
_ACCOUNT_ID = re.compile(r"^\d{12}\Z", re.ASCII)
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}\Z", re.ASCII)
_IAM_USER_ARN = re.compile(
    r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:user/[\w+=,.@/-]{1,512}\Z", re.ASCII
)
_SQS_ARN = re.compile(
    r"^arn:aws(-cn|-us-gov)?:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,80}(\.fifo)?\Z", re.ASCII
)
_EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}\Z", re.ASCII)
# An IANA time zone name such as UTC, Europe/London or America/Argentina/Buenos_Aires.
_IANA_TIMEZONE = re.compile(
    r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9][A-Za-z0-9_+-]*){0,2}\Z", re.ASCII
)
_UNQUOTED_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*\Z", re.ASCII)


def bucket_name(value: object, field: str) -> str:
    """Return `value` if it is a valid general-purpose S3 bucket name."""
    name = _require_str(value, field)
    problem = None
    if not _BUCKET_CHARS.match(name):
        problem = (
            "3-63 characters of lowercase letters, digits, '.' and '-', "
            "starting and ending with a letter or digit"
        )
    elif ".." in name or ".-" in name or "-." in name:
        problem = "no adjacent periods, and no period next to a hyphen"
    elif _is_ip(name):
        problem = "must not be formatted as an IP address"
    elif name.startswith(_BUCKET_RESERVED_PREFIXES) or name.endswith(_BUCKET_RESERVED_SUFFIXES):
        problem = "uses a prefix or suffix that AWS reserves"
    if problem:
        raise ValidationError(f"{field}: {name!r} is not a valid S3 bucket name ({problem})")
    return name


def log_prefix(value: object, field: str) -> str:
    """Normalise an S3 key prefix to '' or 'a/b/' (exactly one trailing slash, none leading)."""
    prefix = _require_str(value, field, allow_empty=True).strip()
    if prefix.startswith("/"):
        raise ValidationError(f"{field}: {prefix!r} must not start with '/' (S3 keys have no root)")
    prefix = prefix.rstrip("/")
    if not _PREFIX_CHARS.match(prefix):
        raise ValidationError(
            f"{field}: {prefix!r} may contain only letters, digits, '/' and !_.()=- "
            "(wildcards and policy variables would widen the IAM policy)"
        )
    parts = prefix.split("/") if prefix else []
    if any(part in ("", ".", "..") for part in parts):
        raise ValidationError(f"{field}: {prefix!r} has an empty, '.' or '..' path segment")
    if len(prefix) > 512:
        raise ValidationError(f"{field}: longer than 512 characters")
    return f"{prefix}/" if prefix else ""


def role_name(value: object, field: str) -> str:
    name = _require_str(value, field)
    if not _ROLE_NAME.match(name):
        raise ValidationError(
            f"{field}: {name!r} is not a valid IAM role name (1-64 of letters, digits, +=,.@_-)"
        )
    return name


def account_id(value: object, field: str) -> str:
    text = _require_str(str(value) if isinstance(value, int) else value, field)
    if not _ACCOUNT_ID.match(text):
        raise ValidationError(
            f"{field}: {text!r} is not a 12-digit AWS account id (quote it in TOML)"
        )
    return text


def _matching(pattern: re.Pattern[str], value: object, field: str, problem: str) -> str:
    text = _require_str(value, field)
    if not pattern.match(text):
        raise ValidationError(f"{field}: {text!r} {problem}")
    return text


def region(value: object, field: str) -> str:
    return _matching(_REGION, value, field, "is not an AWS region name like 'us-east-1'")


def iam_user_arn(value: object, field: str) -> str:
    return _matching(_IAM_USER_ARN, value, field, "is not an IAM user ARN")


def sqs_queue_arn(value: object, field: str) -> str:
    return _matching(_SQS_ARN, value, field, "is not an SQS queue ARN")


def external_id(value: object, field: str) -> str:
    return _matching(_EXTERNAL_ID, value, field, "is not a valid IAM external id")


def iana_timezone(value: object, field: str) -> str:
    """Return `value` if it looks like an IANA time zone name (what Snowflake's TIMEZONE takes)."""
    text = _require_str(value, field)
    if len(text) > 64 or not _IANA_TIMEZONE.match(text):
        raise ValidationError(
            f"{field}: {text!r} is not an IANA time zone name like 'UTC' or 'America/Los_Angeles'"
        )
    return text


def snowflake_identifier(value: object, field: str) -> str:
    """Return the name Snowflake stores for the plain identifier `value`: its upper-case form.

    One rule for every Snowflake name the project uses: a plain identifier
    ([A-Za-z_][A-Za-z0-9_$]*, at most 255 characters), case-insensitive, stored upper-case
    exactly as Snowflake resolves an unquoted identifier. dbt and ad-hoc SQL refer to these
    objects unquoted, so a name that needs quotes (spaces, dots, quotes, other characters)
    would name a different object there; it is refused here, before anything runs. The
    stored form is still double-quoted in the SQL apply sends.
    """
    name = _require_str(value, field)
    if len(name) > 255:
        raise ValidationError(f"{field}: Snowflake identifiers are at most 255 characters")
    if not _UNQUOTED_IDENT.match(name):
        shown = repr(name) if any(ord(ch) < 32 or ord(ch) == 127 for ch in name) else f"'{name}'"
        raise ValidationError(
            f"{field}: {shown} is not a plain Snowflake identifier (a letter or '_', then "
            "letters, digits, '_' or '$'). dbt refers to these objects unquoted, so a name "
            "that needs quotes would name a different object there; choose a plain name "
            "such as s3_access_logs_raw (case does not matter: it is stored upper-case)"
        )
    return name.upper()


def quote_ident(name: str) -> str:
    """Quote a stored Snowflake identifier: always quoted, embedded `"` doubled."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """A Snowflake single-quoted string literal; backslash is an escape character there too."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _require_str(value: object, field: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{field}: expected a string, got {type(value).__name__}")
    if not value and not allow_empty:
        raise ValidationError(f"{field}: must not be empty")
    return value


def _is_ip(name: str) -> bool:
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return False
    return True
