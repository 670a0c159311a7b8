"""New access pattern: a principal works from a network, or uses a kind of operation, it never
used before.

First-seen sets per principal (authenticated requesters; S3's own service and anonymous
requests left out): the networks it connects from (the /24 of an IPv4 address, the /64 of an
IPv6 one) and the operation categories of the s3_operations seed (read, write, delete, list,
permissions, configuration, lifecycle, ...). A network or category first seen more than
`s3logs_new_pattern_warmup_hours` after the principal itself is new; the sets have a row per
principal and network, so they are built in the engine (int_detect_new_access__candidates),
which hands over the activity of the new values in their first
`s3logs_new_pattern_window_hours`, per principal, bucket and hour. Here, new values first
seen in consecutive hours make one finding per principal, with all their activity in that
window. Severity is high on a bucket listed
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
        sample = values.dropna().head(1).tolist() if values.dtype == object else []
        if sample and isinstance(sample[0], Decimal):
            frame[column] = values.map(lambda v: None if v is None else float(v))
        elif pd.api.types.is_datetime64_any_dtype(values):
            frame[column] = values.astype("datetime64[ns]")
        elif pd.api.types.is_integer_dtype(values):
            frame[column] = values.astype("int64")
    return frame


def _write(findings, relation):
    """The findings as the frame dbt writes: upper-case names on Snowflake (`relation`, one
    the model read, tells the engine), where SQL names columns unquoted and so upper-case.

    dbt-snowflake saves a returned pandas frame through session.createDataFrame (its table
    materialization), and Snowpark keeps a pandas label as a quoted identifier: "the
    identifier ... will be the normalized quoted identifier with the same name as the pandas
    label" (docs.snowflake.com/developer-guide/snowpark/reference/python/latest/modin/
    pandas_api/snowflake.snowpark.modin.pandas.to_snowpark), and a column created as "a" is
    named '"a"', not A (.../snowpark/reference/python/api/snowflake.snowpark.DataFrame.columns).
    Lower-case labels would make columns the findings model could not name unquoted."""
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

        distinct = frame["remote_ip"].drop_duplicates()
        trust = dict(zip(distinct, distinct.map(trusted), strict=True))
        exempt |= frame["remote_ip"].map(trust).astype(bool)
    return exempt


def _robust(values):
    """Median and median absolute deviation of a sequence of numbers (0, 0 when empty)."""
    values = pd.Series(values, dtype="float64")
    if values.empty:
        return 0.0, 0.0
    median = float(values.median())
    return median, float((values - median).abs().median())


def _episodes(flagged, keys, gap_hours=1, hour="activity_hour"):
    """`flagged` (rows with `keys` and the column `hour`) with an `episode` number: rows of
    the same keys whose `hour`s follow each other (at most `gap_hours` apart) share one."""
    ties = [column for column in ("activity_hour", "bucket") if column in flagged]
    flagged = flagged.sort_values([*keys, *dict.fromkeys([hour, *ties])], ignore_index=True)
    changed = flagged[keys].ne(flagged[keys].shift()).any(axis=1)
    gap = flagged[hour].diff() > pd.Timedelta(hours=gap_hours)
    return flagged.assign(episode=(changed | gap).cumsum())


def _finding(rows, detection, rule, severity, technique, evidence, weight="request_count"):
    """One finding from the activity rows behind it: the principal, remote IP and bucket that
    weigh most in them, their times and totals, up to five sample keys, the evidence. Its id
    takes the principal, remote IP and bucket that weigh most in its first hour: the later
    hours of an episode that goes on, which a later build adds, do not change it."""

    def top(frame, column):
        return frame.groupby(column, sort=True)[weight].sum().sort_index().idxmax()

    principal, remote_ip, bucket = (top(rows, c) for c in ("principal", "remote_ip", "bucket"))
    start = pd.Timestamp(rows["activity_hour"].min())
    named = rows[rows["bucket"] == bucket]  # keys of the bucket the finding names
    keys = sorted(set(named["first_key"].dropna()) | set(named["last_key"].dropna()))[:5]
    opening = rows[rows["activity_hour"] == rows["activity_hour"].min()]
    identity = "|".join(
        [detection, rule]
        + [top(opening, c) for c in ("principal", "remote_ip", "bucket")]
        + [start.strftime("%Y-%m-%dT%H:%M:%SZ")]
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
    source = dbt.ref("int_detect_new_access__candidates")
    candidates = _read(source)
    allow = _read(dbt.ref("s3logs_allow_list"))
    sensitive = set(_setting(dbt.config.meta_get("s3logs_sensitive_buckets")) or [])
    rows = candidates[~_allowed(candidates, allow, DETECTION)]
    findings = []
    if rows.empty:
        return _write(findings, source)
    rules = {"network": "new_network", "category": "new_operation_category"}
    # one finding per run of new values whose first hours follow each other, with all their
    # activity in their first window: a new value used again later in that window (after a
    # quiet hour) is the same event, not a new finding
    episodes = _episodes(rows, ["attribute_name", "principal"], hour="first_hour")
    for _, episode in episodes.groupby("episode"):
        attribute = episode["attribute_name"].iloc[0]
        first = episode.loc[episode["first_hour"].idxmin()]
        categories = set(episode["first_category"]) | set(episode["last_category"])
        risky = bool(set(episode["bucket"]) & sensitive) or (
            attribute == "category" and bool({first["first_value"]} & RISKY_CATEGORIES)
        )
        plural = "networks" if attribute == "network" else "categories"
        evidence = {
            "new": attribute,
            "first_new_" + attribute: first["first_value"],
            "new_" + plural + "_in_an_hour": episode["new_values"].max(),
            "known_" + plural + "_before": first["known_before"],
            "principal_first_seen_hour": first["principal_first_hour"],
            "hours_since_principal_first_seen": round(
                (first["first_hour"] - first["principal_first_hour"]) / pd.Timedelta(hours=1), 1
            ),
            "buckets": sorted(episode["bucket"].unique()),
            "categories": sorted(categories),
        }
        severity = "high" if risky else "medium"
        findings.append(
            _finding(episode, DETECTION, rules[attribute], severity, "T1078.004", evidence)
        )
    return _write(findings, source)
