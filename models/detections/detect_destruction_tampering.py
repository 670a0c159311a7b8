"""Destruction and tampering: delete bursts, and changes to the settings that protect a bucket.

Two rules:
- `delete_burst`: per principal, bucket and hour, the delete requests (category `delete` of the
  s3_operations seed); an hour with at least `s3logs_delete_burst_min_deletes` that lies more
  than `s3logs_delete_burst_mad_factor` robust deviations (MAD) above the principal's own
  median hour of deletes in the trailing `s3logs_delete_burst_baseline_hours`. MITRE ATT&CK
  T1485 (Data Destruction).
- `configuration_change`: a PUT or DELETE of a bucket's policy, ACL, public access block,
  ownership, encryption, logging, versioning, lifecycle, object lock, replication and the like
  (categories permissions, configuration and lifecycle). Changes to logging, encryption, the
  public access block, a bucket policy deletion, replication, lifecycle, versioning and object
  lock are always reported; other changes only when the principal had never changed that
  bucket before (and was seen `s3logs_new_pattern_warmup_hours` earlier). MITRE ATT&CK
  T1562.008 (Disable or Modify Cloud Logs) for logging, T1562 for encryption, T1537 (Transfer
  Data to Cloud Account) for replication, T1485 for lifecycle, versioning and object lock, and
  T1222 (Permissions Modification) for the rest.
"""

import hashlib
import ipaddress
import json
from decimal import Decimal

import pandas as pd

DETECTION = "destruction_tampering"
# operation resource -> (MITRE technique, severity); a change of one of them is always reported
ALWAYS = {
    "LOGGING_STATUS": ("T1562.008", "high"),
    "ENCRYPTION": ("T1562", "high"),
    "REPLICATION": ("T1537", "high"),
    "LIFECYCLE": ("T1485", "high"),
    "VERSIONING": ("T1485", "high"),
    "OBJECT_LOCK_CONFIGURATION": ("T1485", "high"),
    "PUBLIC_ACCESS_BLOCK": ("T1222", "high"),
}
# a DELETE of one of these is always reported
ALWAYS_DELETED = {"BUCKETPOLICY": ("T1222", "high")}

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
    source = dbt.ref("int_detect_destruction__candidates")
    activity = _read(source)
    allow = _read(dbt.ref("s3logs_allow_list"))
    min_deletes = float(_setting(dbt.config.meta_get("s3logs_delete_burst_min_deletes")))
    factor = float(_setting(dbt.config.meta_get("s3logs_delete_burst_mad_factor")))
    baseline_hours = float(_setting(dbt.config.meta_get("s3logs_delete_burst_baseline_hours")))
    warmup = pd.Timedelta(
        hours=float(_setting(dbt.config.meta_get("s3logs_new_pattern_warmup_hours")))
    )
    rows = activity[~_allowed(activity, allow, DETECTION)]
    return _write(
        _delete_bursts(rows, min_deletes, factor, baseline_hours)
        + _configuration_changes(rows, warmup),
        source,
    )


def _delete_bursts(rows, min_deletes, factor, baseline_hours):
    deletes = rows[rows["category"] == "delete"]
    per_principal = deletes.groupby(["principal", "activity_hour"])["request_count"].sum()
    hourly = deletes.groupby(["principal", "bucket", "activity_hour"], as_index=False)[
        "request_count"
    ].sum()
    flagged, anomalous = [], {}
    candidates = hourly[hourly["request_count"] >= min_deletes]
    for principal, bucket, hour, count in candidates.itertuples(index=False):
        history = per_principal[principal]
        earlier = history[
            (history.index < hour)
            & (history.index >= hour - pd.Timedelta(hours=baseline_hours))
            # hours already flagged are no baseline: a long deletion stays anomalous
            & ~history.index.isin(anomalous.get(principal, []))
        ]
        median, mad = _robust(earlier)
        score = (count - median) / max(1.4826 * mad, 0.25 * median, 1.0)
        if score >= factor:
            anomalous.setdefault(principal, []).append(hour)
            flagged.append((principal, bucket, hour, count, median, mad, score))
    findings = []
    if not flagged:
        return findings
    columns = ["principal", "bucket", "activity_hour", "deletes", "median", "mad", "score"]
    flagged = pd.DataFrame(flagged, columns=columns)
    for _, episode in _episodes(flagged, ["principal", "bucket"]).groupby("episode"):
        behind = deletes[
            (deletes["principal"] == episode["principal"].iloc[0])
            & (deletes["bucket"] == episode["bucket"].iloc[0])
            & deletes["activity_hour"].isin(episode["activity_hour"])
        ]
        peak = episode.loc[episode["score"].idxmax()]
        evidence = {
            "hours": len(episode),
            "deletes": episode["deletes"].sum(),
            "peak_hour": peak["activity_hour"],
            "peak_hour_deletes": peak["deletes"],
            "baseline_median_deletes": round(float(peak["median"]), 1),
            "baseline_mad_deletes": round(float(peak["mad"]), 1),
            "score": round(float(peak["score"]), 2),
            "operations": sorted(behind["operation"].unique()),
        }
        findings.append(_finding(behind, DETECTION, "delete_burst", "high", "T1485", evidence))
    return findings


def _configuration_changes(rows, warmup):
    parts = rows["operation"].str.split(".", n=2, expand=True).reindex(columns=[0, 1, 2])
    changes = rows[
        rows["category"].isin(["permissions", "configuration", "lifecycle"])
        & (parts[0] == "REST")
        & parts[1].isin(["PUT", "DELETE"])
    ]
    changes = changes.assign(verb=parts[1], resource=parts[2])
    if changes.empty:
        return []
    first_change = changes.groupby(["principal", "bucket"])["activity_hour"].transform("min")
    always = changes["resource"].isin(list(ALWAYS)) | (
        (changes["verb"] == "DELETE") & changes["resource"].isin(list(ALWAYS_DELETED))
    )
    unusual = (changes["activity_hour"] == first_change) & (
        changes["activity_hour"] >= changes["principal_first_hour"] + warmup
    )
    flagged = changes.assign(new_for_principal=unusual)[always | unusual]
    findings = []
    if flagged.empty:
        return findings
    for _, episode in _episodes(flagged, ["principal", "bucket"]).groupby("episode"):
        ranked = []
        for verb, resource in zip(episode["verb"], episode["resource"], strict=True):
            technique, severity = ALWAYS.get(resource) or (
                ALWAYS_DELETED.get(resource) if verb == "DELETE" else None
            ) or ("T1222", "medium")  # fmt: skip
            ranked.append((severity == "high", technique == "T1562.008", technique, severity))
        _, _, technique, severity = max(ranked)
        evidence = {
            "changes": episode["request_count"].sum(),
            "succeeded": episode["success_count"].sum(),
            "operations": sorted(episode["operation"].unique()),
            "first_change_of_this_bucket_by_principal": bool(episode["new_for_principal"].any()),
        }
        findings.append(
            _finding(episode, DETECTION, "configuration_change", severity, technique, evidence)
        )
    return findings
