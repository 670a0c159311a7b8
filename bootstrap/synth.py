"""Realistic synthetic S3 server access log records, for the benchmark, the demo and the tests.

Records are built as contract tuples and written with `parser.format_line`, so every generated
line has a known expected parse. Deterministic for a given `random.Random`.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

from bootstrap.parser import CONTRACT_COLUMNS, format_line

OWNER = "7d2f6c5e1b9a4c3d8e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d"
ACCOUNT = "123456789012"

USER_AGENTS = [
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.79-99.167.amzn2023.x86_64 exe/x86_64.amzn.2023"
    " prompt/off command/s3.cp",
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.10.213 md/arch#x86_64 lang/python#3.12.2"
    " md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69",
    "aws-sdk-java/2.25.16 Linux/5.10.210 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10"
    " vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/124.0.0.0 Safari/537.36",
    "S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.488",
    "aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/s3#1.53.0",
    "curl/8.5.0",
    "rclone/v1.66.0",
    "Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.43.0",
    "AWS-Support-TrustedAdvisor, aws-internal/3 aws-sdk-java/1.12.600",
]
# Clients control the user-agent; a few send quotes in it. Rare in real traffic, so 1 in 100.
QUOTED_USER_AGENT = '[aws-cli/2.15.30 "quoted" Python/3.11.8]'
QUOTED_USER_AGENT_SHARE = 0.01
REFERERS = [None] * 12 + [
    "https://console.aws.amazon.com/s3/buckets/data-lake",
    "https://app.example.com/reports?id=42&view=full",
]
OPERATIONS = [
    ("REST.GET.OBJECT", "GET", 200, True, 40),
    ("REST.PUT.OBJECT", "PUT", 200, True, 12),
    ("REST.HEAD.OBJECT", "HEAD", 200, True, 10),
    ("REST.GET.BUCKET", "GET", 200, False, 8),
    ("REST.DELETE.OBJECT", "DELETE", 204, True, 3),
    ("REST.POST.MULTI_OBJECT_DELETE", "POST", 200, False, 1),
    ("REST.COPY.OBJECT", "PUT", 200, True, 2),
    ("REST.GET.ACL", "GET", 200, True, 1),
    ("REST.PUT.BUCKETPOLICY", "PUT", 204, False, 1),
    ("REST.GET.VERSIONING", "GET", 200, False, 1),
    ("REST.POST.UPLOADS", "POST", 200, True, 1),
    ("REST.COPY.OBJECT_GET", "PUT", 200, True, 1),
    ("BATCH.DELETE.OBJECT", None, None, True, 1),
    ("S3.EXPIRE.OBJECT", None, None, True, 1),
    ("S3.TRANSITION_SIA.OBJECT", None, None, True, 1),
]
_OP_WEIGHTS = [w for *_, w in OPERATIONS]
PREFIXES = ["raw/events", "exports/finance", "backups/db", "images/products", "tmp", "logs/app"]
CIPHERS = ["ECDHE-RSA-AES128-GCM-SHA256", "TLS_AES_128_GCM_SHA256"]
TLS = ["TLSv1.2", "TLSv1.3"]


def principals(rng: random.Random, n_users: int = 12) -> list[str | None]:
    """A population of requesters: IAM users, assumed roles (some with e-mail sessions), the
    root user, AWS services, canonical ids, and anonymous (None)."""
    out: list[str | None] = [None]
    for i in range(n_users):
        out.append(f"arn:aws:iam::{ACCOUNT}:user/analyst-{i:02d}")
    for role, session in [
        ("etl-runner", "airflow"),
        ("data-engineer", "jane.doe@example.com"),
        ("AWSReservedSSO_Admin_0123456789abcdef", "ops@example.com"),
        ("lambda-thumbnails", "thumbnailer"),
    ]:
        out.append(f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}")
    out.append(f"arn:aws:iam::{ACCOUNT}:root")
    out.append("svc:s3.amazonaws.com")
    out.append(OWNER)
    out.append("".join(rng.choice("0123456789abcdef") for _ in range(64)))
    return out


def ip(rng: random.Random, v6_share: float = 0.15) -> str:
    if rng.random() < v6_share:
        return f"2001:db8:{rng.randrange(1, 0xFFFF):x}::{rng.randrange(1, 0xFFFF):x}"
    first = rng.choice((10, 172, 192, 198, 203, 54, 3))
    return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def key(rng: random.Random) -> str:
    name = rng.choice(["report", "photo", "dump", "part", "événement", "a b", "x+y", "q?=&"])
    raw = f"{rng.choice(PREFIXES)}/{rng.randrange(2019, 2027)}/{name}-{rng.randrange(10**6)}.dat"
    return "".join(
        c if c.isascii() and (c.isalnum() or c in "/-_.~") else "".join(
            f"%{b:02X}" for b in c.encode()
        )
        for c in raw
    )  # fmt: skip


# Object names as people write them: accents, other scripts, spaces, reserved characters.
ESCAPED_NAMES = [
    "données brutes", "rapport été 2026", "日本語のファイル", "Übersicht Ärzte", "a b+c=d&e",
    "q?x=1#frag", "100% done", "emoji 😀 backup", "Ελληνικά έγγραφα", "русский текст",
    "naïve café (copy)", "[draft] 'quoted' \"name\"",
]  # fmt: skip


def escaped_key(rng: random.Random) -> str:
    """A key that needs many percent-escapes in the log: non-ASCII UTF-8, spaces, reserved
    characters, in every segment."""
    names = rng.sample(ESCAPED_NAMES, 2)
    raw = f"{rng.choice(PREFIXES)}/{names[0]}/{names[1]}-{rng.randrange(10**6)}.dat"
    return "".join(
        c if c.isascii() and (c.isalnum() or c in "/-_.~") else "".join(
            f"%{b:02X}" for b in c.encode()
        )
        for c in raw
    )  # fmt: skip


def record(
    rng: random.Random,
    when: dt.datetime,
    bucket: str,
    requester: str | None,
    remote_ip: str | None,
    operation: tuple | None = None,
    object_key: str | None = None,
    status: int | None = None,
    error_code: str | None = None,
    bytes_sent: int | None = None,
    user_agent: str | None = None,
) -> tuple:
    """One contract tuple (28 values) with plausible values for the fields not given."""
    op, method, default_status, has_key, _ = operation or rng.choices(
        OPERATIONS, _OP_WEIGHTS
    )[0]  # fmt: skip
    k = (object_key or key(rng)) if has_key else None
    status = status if status is not None else default_status
    if method is None:  # lifecycle and batch deliveries: no request, no client
        uri = referer = agent = None
        remote_ip = None
        requester = "svc:s3.amazonaws.com"
        status = None
    else:
        target = f"/{bucket}/{k}" if k else f"/{bucket}?list-type=2&prefix={rng.choice(PREFIXES)}"
        uri = f"{method} {target} HTTP/1.1"
        referer = rng.choice(REFERERS)
        agent = user_agent or (
            QUOTED_USER_AGENT if rng.random() < QUOTED_USER_AGENT_SHARE else rng.choice(USER_AGENTS)
        )
    size = rng.choice((None, rng.randrange(1, 5_000_000)))
    if bytes_sent is None and method == "GET" and status == 200 and size:
        bytes_sent = size
    total = rng.randrange(1, 900) if method else None
    fields = dict.fromkeys(CONTRACT_COLUMNS)
    fields.update(
        bucket_owner=OWNER,
        bucket=bucket,
        requested_at=when.replace(microsecond=0, tzinfo=None),
        remote_ip=remote_ip,
        requester=requester,
        request_id="".join(rng.choice("0123456789ABCDEF") for _ in range(16)),
        operation=op,
        key=k,
        request_uri=uri,
        http_status=status,
        error_code=error_code,
        bytes_sent=bytes_sent,
        object_size=size if has_key else None,
        total_time_ms=total,
        turnaround_time_ms=rng.randrange(0, total) if total else None,
        referer=referer,
        user_agent=agent,
        host_id="".join(
            rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789+/") for _ in range(56)
        )
        + "=",
    )
    if method is not None:
        fields.update(
            signature_version="SigV4",
            cipher_suite=rng.choice(CIPHERS),
            auth_type=rng.choice(("AuthHeader", "QueryString")),
            host_header=f"{bucket}.s3.us-east-1.amazonaws.com",
            tls_version=rng.choice(TLS),
        )
    return tuple(fields.values())


def lines(
    rng: random.Random, count: int, start: dt.datetime, buckets: list[str]
) -> Iterator[tuple[str, tuple]]:
    """`count` (line, expected record) pairs over mixed shapes: 17 to 27 fields, some with
    fields AWS has not documented yet, errors, IPv6, quotes in user-agents."""
    people = principals(rng)
    when = start
    for _ in range(count):
        when += dt.timedelta(milliseconds=rng.randrange(0, 400))
        rec = record(rng, when, rng.choice(buckets), rng.choice(people), ip(rng))
        roll = rng.random()
        if roll < 0.05:
            rec = rec[:9] + (403, "AccessDenied", 243) + rec[12:]
        elif roll < 0.07:
            rec = rec[:9] + (404, "NoSuchKey", 309) + rec[12:]
        shape = rng.random()
        if shape < 0.1:
            fields = 17  # the oldest records end at the user-agent
            rec = rec[:17] + (None,) * 11
        elif shape < 0.2:
            fields = 25
            rec = rec[:25] + (None,) * 3
        else:
            fields = 27
            rec = rec[:25] + (rng.choice((None, True)), rng.choice((None, "us-west-2"))) + rec[27:]
            if shape > 0.97:
                rec = rec[:27] + ("future-field-1 -",)
        yield format_line(rec, fields), rec


_KEYED_REQUESTS = [op for op in OPERATIONS if op[1] is not None and op[3]]


def escaped_lines(
    rng: random.Random, count: int, start: dt.datetime, buckets: list[str]
) -> Iterator[tuple[str, tuple]]:
    """`count` (line, expected record) pairs of object requests whose keys are heavily
    percent-escaped (`escaped_key`) and whose requesters are IAM and STS ARNs (users, assumed
    roles with e-mail sessions, the root user), in the record shapes `lines` mixes."""
    people = [p for p in principals(rng) if p is not None and p.startswith("arn:")]
    weights = [w for *_, w in _KEYED_REQUESTS]
    when = start
    for _ in range(count):
        when += dt.timedelta(milliseconds=rng.randrange(0, 400))
        op = rng.choices(_KEYED_REQUESTS, weights)[0]
        rec = record(rng, when, rng.choice(buckets), rng.choice(people), ip(rng), op,
                     escaped_key(rng))  # fmt: skip
        rec, fields = shaped(rng, rec)
        yield format_line(rec, fields), rec


def shaped(rng: random.Random, rec: tuple) -> tuple[tuple, int]:
    """A record in one of the shapes AWS has written over the years, as `lines` mixes them:
    (record with the fields that shape lacks set to None, field count for `format_line`)."""
    shape = rng.random()
    if shape < 0.1:
        return rec[:17] + (None,) * 11, 17  # the oldest records end at the user-agent
    if shape < 0.2:
        return rec[:25] + (None,) * 3, 25
    rec = rec[:25] + (rng.choice((None, True)), rng.choice((None, "us-west-2"))) + rec[27:]
    if shape > 0.97:
        rec = rec[:27] + ("future-field-1 -",)
    return rec, 27


_GARBAGE = [
    "<html><head><title>503 Service Unavailable</title></head></html>",
    '{"eventVersion":"1.09","eventSource":"s3.amazonaws.com","eventName":"GetObject"}',
    "\ufffd\ufffd\x1b[0m\ufffdPK\x03\x04 binary noise",
    "-",
]


def malformed(rng: random.Random, line: str) -> str:
    """A line the parser must reject: `line` truncated in transit, a broken time, or garbage."""
    roll = rng.random()
    if roll < 0.5:
        # Cut before the referer, so fewer than 17 fields remain whatever the record shape.
        cut = rng.randrange(8, line.index('"', line.index('"') + 1))
        return line[:cut].rstrip()
    if roll < 0.75:
        start = line.index("[")
        return line[: start + 1] + "32/Foo" + line[start + 7 :]
    return rng.choice(_GARBAGE)
