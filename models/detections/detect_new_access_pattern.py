"""New access pattern: a principal works from a network, or uses a kind of operation, it never
used before.

First-seen sets per principal (authenticated requesters; S3's own service and anonymous
requests left out): the networks it connects from (the /24 of an IPv4 address, the /64 of an
IPv6 one) and the operation categories of the s3_operations seed (read, write, delete, list,
permissions, configuration, lifecycle, ...). A network or category first seen more than
`s3logs_new_pattern_warmup_hours` after the principal itself is flagged, with the activity of
its first `s3logs_new_pattern_window_hours` as the finding. Severity is high on a bucket listed
in `s3logs_sensitive_buckets`, or for a new category that changes or deletes. MITRE ATT&CK
T1078.004 (Valid Accounts: Cloud Accounts).
"""

import hashlib
import ipaddress
import json
from decimal import Decimal

import pandas as pd

DETECTION = "new_access_pattern"
RISKY_CATEGORIES = {"delete", "permissions", "configuration", "lifecycle"}

# --- shared: the same block in every detection model (tests/python/test_detections.py checks) ---
# dbt Python models cannot import project modules on Snowflake, so each model carries this
# block. The only engine branch of the detections: how a frame comes in and goes out.
FINDING_COLUMNS = [
    "finding_id",
    "detection",
    "rule",
    "severity",
    "mitre_technique",
    "principal",
    "remote_ip",
    "bucket",
    "first_seen_at",
    "last_seen_at",
    "request_count",
    "object_count",
    "bytes_sent",
    "sample_keys",
    "evidence",
]


def _read(relation):
    """A relation of dbt.ref as a pandas frame with lower-case column names (Snowflake hands
    them over upper-case) and plain numbers (Snowflake's NUMBER can arrive as Decimal)."""
    # a Snowpark DataFrame on Snowflake, a DuckDB relation on DuckDB
    frame = relation.to_pandas() if hasattr(relation, "to_pandas") else relation.df()
    frame.columns = [str(column).lower() for column in frame.columns]
    for column in frame.columns:
        values = frame[column]
        if values.dtype == object and values.map(lambda v: isinstance(v, Decimal)).any():
            frame[column] = values.map(lambda v: None if v is None else float(v))
        elif pd.api.types.is_datetime64_any_dtype(values):
            frame[column] = values.astype("datetime64[ns]")
        elif pd.api.types.is_integer_dtype(values):
            frame[column] = values.astype("int64")
    return frame


def _write(findings, relation):
    """The findings as the frame dbt writes: upper-case names on Snowflake (`relation`, one
    the model read, tells the engine), where SQL names columns unquoted and so upper-case."""
    frame = pd.DataFrame(findings, columns=FINDING_COLUMNS)
    for column in ("first_seen_at", "last_seen_at"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    for column in ("request_count", "object_count", "bytes_sent"):
        frame[column] = frame[column].astype("int64")
    frame = frame.sort_values("finding_id", ignore_index=True)
    if hasattr(relation, "to_pandas"):  # Snowpark: see _read
        frame.columns = [column.upper() for column in frame.columns]
    return frame


def _setting(value):
    """A var of dbt_project.yml as the model gets it, through its meta config (dbt renders
    a var there as text): a number, a list, or null."""
    return json.loads(value) if isinstance(value, str) else value


def _network(ip):
    """The network an address belongs to: its /24 (IPv4) or /64 (IPv6); the text itself when
    it is no address."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def _allowed(frame, allow, detection):
    """Rows of `frame` (principal, remote_ip, bucket) that the allow-list seed exempts from
    `detection`."""
    rules = allow[allow["detection"].isin(["*", detection])]
    exempt = frame["principal"].isin(rules.loc[rules["kind"] == "principal", "value"])
    exempt |= frame["bucket"].isin(rules.loc[rules["kind"] == "bucket", "value"])
    networks = [ipaddress.ip_network(v) for v in rules.loc[rules["kind"] == "network", "value"]]
    if networks:

        def trusted(ip):
            try:
                address = ipaddress.ip_address(ip)
            except ValueError:
                return False
            return any(address in network for network in networks)

        exempt |= frame["remote_ip"].map(trusted)
    return exempt


def _robust(values):
    """Median and median absolute deviation of a sequence of numbers (0, 0 when empty)."""
    values = pd.Series(values, dtype="float64")
    if values.empty:
        return 0.0, 0.0
    median = float(values.median())
    return median, float((values - median).abs().median())


def _episodes(flagged, keys, gap_hours=1):
    """`flagged` (rows with `keys` and activity_hour) with an `episode` number: rows of the
    same keys whose hours follow each other (at most `gap_hours` apart) share one."""
    flagged = flagged.sort_values([*keys, "activity_hour"], ignore_index=True)
    changed = flagged[keys].ne(flagged[keys].shift()).any(axis=1)
    gap = flagged["activity_hour"].diff() > pd.Timedelta(hours=gap_hours)
    return flagged.assign(episode=(changed | gap).cumsum())


def _finding(rows, detection, rule, severity, technique, evidence, weight="request_count"):
    """One finding from the activity rows behind it: the principal, remote IP and bucket that
    weigh most in them, their times and totals, up to five sample keys, the evidence."""

    def top(column):
        return rows.groupby(column, sort=True)[weight].sum().sort_index().idxmax()

    principal, remote_ip, bucket = top("principal"), top("remote_ip"), top("bucket")
    start = pd.Timestamp(rows["activity_hour"].min())
    keys = sorted(set(rows["first_key"].dropna()) | set(rows["last_key"].dropna()))[:5]
    identity = "|".join(
        [detection, rule, principal, remote_ip, bucket, start.strftime("%Y-%m-%dT%H:%M:%SZ")]
    )
    return {
        "finding_id": hashlib.sha256(identity.encode()).hexdigest()[:16],
        "detection": detection,
        "rule": rule,
        "severity": severity,
        "mitre_technique": technique,
        "principal": principal,
        "remote_ip": None if remote_ip == "-" else remote_ip,
        "bucket": bucket,
        "first_seen_at": rows["first_seen_at"].min(),
        "last_seen_at": rows["last_seen_at"].max(),
        "request_count": int(rows["request_count"].sum()),
        "object_count": int(rows["object_count"].sum()),
        "bytes_sent": int(rows["bytes_sent"].sum()),
        "sample_keys": ", ".join(keys) or None,
        "evidence": json.dumps(evidence, sort_keys=True, default=_plain),
    }


def _plain(value):
    """JSON for numpy numbers and timestamps."""
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if hasattr(value, "item"):
        return value.item()
    return str(value)


# --- end of the shared block ---


def model(dbt, session):
    dbt.config(materialized="table", packages=["pandas"])
    source = dbt.ref("int_s3_access_logs__hourly_activity")
    activity = _read(source)
    allow = _read(dbt.ref("s3logs_allow_list"))
    warmup = pd.Timedelta(
        hours=float(_setting(dbt.config.meta_get("s3logs_new_pattern_warmup_hours")))
    )
    window = pd.Timedelta(
        hours=float(_setting(dbt.config.meta_get("s3logs_new_pattern_window_hours")))
    )
    sensitive = set(_setting(dbt.config.meta_get("s3logs_sensitive_buckets")) or [])
    rows = activity[
        (activity["principal"] != "anonymous")
        & (activity["requester_type"].fillna("") != "aws_service")
        & (activity["remote_ip"] != "-")
    ]
    rows = rows.assign(network=rows["remote_ip"].map(_network))
    # the principal's first hour counts all its requests, allow-listed ones included
    first_seen = rows.groupby("principal")["activity_hour"].min()
    rows = rows[~_allowed(rows, allow, DETECTION)]
    findings = []
    for attribute, rule in (("network", "new_network"), ("category", "new_operation_category")):
        first = rows.groupby(["principal", attribute], as_index=False)["activity_hour"].min()
        first = first[first["activity_hour"] >= first["principal"].map(first_seen) + warmup]
        for item in first.itertuples(index=False):
            principal, value, hour = item
            new = rows[
                (rows["principal"] == principal)
                & (rows[attribute] == value)
                & (rows["activity_hour"] < hour + window)
            ]
            known = rows[(rows["principal"] == principal) & (rows["activity_hour"] < hour)]
            risky = bool(set(new["bucket"]) & sensitive) or (
                attribute == "category" and value in RISKY_CATEGORIES
            )
            evidence = {
                "new": attribute,
                attribute: value,
                "principal_first_seen_hour": first_seen[principal],
                "hours_since_principal_first_seen": round(
                    (hour - first_seen[principal]) / pd.Timedelta(hours=1), 1
                ),
                "known_" + ("networks" if attribute == "network" else "categories"): int(
                    known[attribute].nunique()
                ),
                "buckets": sorted(new["bucket"].unique()),
                "categories": sorted(new["category"].unique()),
            }
            findings.append(
                _finding(new, DETECTION, rule, "high" if risky else "medium", "T1078.004", evidence)
            )
    return _write(findings, source)
