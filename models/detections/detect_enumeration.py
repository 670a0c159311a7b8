"""Enumeration: many distinct keys tried in a short window, most of them denied or not found.

Per principal, bucket and hour (anonymous requests: per remote IP too, since anyone is
anonymous), the requests answered 403 (AccessDenied) or 404 (NoSuchKey and the like). An hour is
flagged when it has at least `s3logs_enumeration_min_failures` such answers over at least
`s3logs_enumeration_min_keys` distinct keys, and they are at least
`s3logs_enumeration_min_failure_ratio` of its requests. Consecutive flagged hours make one
finding; it is high when some requests of the episode succeeded (the probe found something).
MITRE ATT&CK T1619 (Cloud Storage Object Discovery).
"""

import hashlib
import ipaddress
import json
from decimal import Decimal

import pandas as pd

DETECTION = "enumeration"

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
    source = dbt.ref("int_detect_enumeration__candidates")
    activity = _read(source)
    allow = _read(dbt.ref("s3logs_allow_list"))
    min_failures = float(_setting(dbt.config.meta_get("s3logs_enumeration_min_failures")))
    min_keys = float(_setting(dbt.config.meta_get("s3logs_enumeration_min_keys")))
    min_ratio = float(_setting(dbt.config.meta_get("s3logs_enumeration_min_failure_ratio")))
    rows = activity[~_allowed(activity, allow, DETECTION)]
    anonymous = rows["principal"] == "anonymous"
    rows = rows.assign(
        actor=rows["principal"].where(~anonymous, "anonymous from " + rows["remote_ip"]),
        failures=rows["denied_count"] + rows["not_found_count"],
        failed_keys=rows["object_count"].where(
            rows["denied_count"] + rows["not_found_count"] > 0, 0
        ),
    )
    hourly = rows.groupby(["actor", "bucket", "activity_hour"], as_index=False)[
        ["request_count", "failures", "failed_keys", "success_count"]
    ].sum()
    flagged = hourly[
        (hourly["failures"] >= min_failures)
        & (hourly["failed_keys"] >= min_keys)
        & (hourly["failures"] >= min_ratio * hourly["request_count"])
    ]
    findings = []
    if not flagged.empty:
        for _, episode in _episodes(flagged, ["actor", "bucket"]).groupby("episode"):
            actor, bucket = episode["actor"].iloc[0], episode["bucket"].iloc[0]
            behind = rows[
                (rows["actor"] == actor)
                & (rows["bucket"] == bucket)
                & rows["activity_hour"].isin(episode["activity_hour"])
            ]
            denied = int(behind["denied_count"].sum())
            not_found = int(behind["not_found_count"].sum())
            evidence = {
                "hours": len(episode),
                "requests": episode["request_count"].sum(),
                "denied": denied,
                "not_found": not_found,
                "failure_ratio": round(
                    (denied + not_found) / float(episode["request_count"].sum()), 3
                ),
                "distinct_keys_failed": episode["failed_keys"].sum(),
                "succeeded": episode["success_count"].sum(),
                "operations": sorted(behind["operation"].unique()),
            }
            severity = "high" if episode["success_count"].sum() > 0 else "medium"
            findings.append(
                _finding(behind, DETECTION, "failed_key_scan", severity, "T1619", evidence)
            )
    return _write(findings, source)
