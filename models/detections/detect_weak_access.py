"""Weak access: requests that succeed with weak or no authentication or transport.

Three rules, per principal and bucket; consecutive hours make one finding. The input
(int_detect_weak_access__candidates) holds the matching requests per rule, principal, bucket and
hour; the first-seen set of the third rule is built there, in the engine:
- `weak_transport`: Signature Version 2, TLS below 1.2, or plain HTTP (a record that has the
  host header field but neither cipher suite nor TLS version). MITRE ATT&CK T1557
  (Adversary-in-the-Middle).
- `anonymous_access`: anonymous requests that succeeded, on a bucket the allow-list seed does
  not exempt (list the website buckets there). MITRE ATT&CK T1530 (Data from Cloud Storage).
- `presigned_url_new_ip`: a pre-signed URL (authentication type QueryString) used from a
  remote IP from which its signer never sent an authenticated request before, when the signer
  was seen `s3logs_new_pattern_warmup_hours` earlier. MITRE ATT&CK T1550 (Use Alternate
  Authentication Material).
"""

import hashlib
import ipaddress
import json
from decimal import Decimal

import pandas as pd

DETECTION = "weak_access"

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


TECHNIQUES = {
    "weak_transport": "T1557",
    "anonymous_access": "T1530",
    "presigned_url_new_ip": "T1550",
}


def model(dbt, session):
    dbt.config(materialized="table", packages=["pandas"])
    source = dbt.ref("int_detect_weak_access__candidates")
    candidates = _read(source)
    allow = _read(dbt.ref("s3logs_allow_list"))
    rows = candidates[~_allowed(candidates, allow, DETECTION)]
    findings = []
    if not rows.empty:
        keys = ["weak_rule", "principal", "bucket"]
        for _, episode in _episodes(rows, keys).groupby("episode"):
            rule = episode["weak_rule"].iloc[0]
            operations = set(episode["first_operation"]) | set(episode["last_operation"])
            evidence = {
                "requests": episode["request_count"].sum(),
                "succeeded": episode["success_count"].sum(),
                "sigv2": episode["sigv2_count"].sum(),
                "weak_tls": episode["weak_tls_count"].sum(),
                "presigned": episode["presigned_count"].sum(),
                "operations": sorted(operations),
                "most_remote_ips_in_an_hour": episode["remote_ips"].max(),
            }
            severity = "high" if episode["success_count"].sum() > 0 else "low"
            findings.append(
                _finding(episode, DETECTION, rule, severity, TECHNIQUES[rule], evidence)
            )
    return _write(findings, source)
