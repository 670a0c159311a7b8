"""The incident-response and DLP analyses (analyses/*.sql) on the demo data: each finds the
incident planted for it (ground truth in incidents.json) and nothing else, on DuckDB through
`dbt show`; and each compiles for Snowflake (fakesnow) to SQL a Snowflake parser accepts, with
its vars unset and set.

One small demo set is built once per module; every `dbt show` runs against it.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import duckdb
import pytest
import sqlglot
import yaml
from conftest import REPO, DbtProject, copy_project
from sqlglot import exp

from bootstrap import demo_data, loader, synth
from bootstrap.parser import CONTRACT_COLUMNS, format_line

ANALYSES = REPO / "analyses"
ANALYSES_YML = ANALYSES / "_analyses.yml"
NAMES = sorted(p.stem for p in ANALYSES.glob("*.sql"))
# Two days: the first is the baseline, the incidents are planted on the second.
DEMO = {"seed": 11, "days": 2, "lines": 4_000}
INCIDENT_DAY = "2026-03-03T00:00:00"
LIMIT = 500


def show(project: DbtProject, name: str, dbt_vars: dict[str, Any]) -> list[dict]:
    """`dbt show` one analysis with vars; its rows as dicts (all of them: fewer than LIMIT)."""
    args = ["show", "-s", name, "--limit", str(LIMIT), "--output", "json"]
    if dbt_vars:
        args += ["--vars", json.dumps(dbt_vars)]
    out = project.dbt(*args).stdout
    payload, _ = json.JSONDecoder().raw_decode(out, out.index('{\n  "node"'))
    assert payload["node"] == name
    assert len(payload["show"]) < LIMIT, "raise LIMIT: the result may be cut off"
    return payload["show"]


def queries(incidents: dict[str, dict], benign: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """What the tests run: a label -> (analysis, vars), the way a responder would run it."""
    scan = incidents["access_denied_scan"]
    return {
        "delete_bursts": ("ir_delete_bursts", {}),
        "downloads": ("dlp_large_downloads_from_new_ips", {}),
        "downloads_from_new_ips": (
            "dlp_large_downloads_from_new_ips",
            {"start_at": INCIDENT_DAY, "min_bytes": 1},
        ),
        "denied_scans": ("ir_access_denied_scans", {}),
        "anonymous_access": ("ir_anonymous_access", {}),
        "leaked_object_history": (
            "ir_object_history",
            {"object_key": incidents["anonymous_reads"]["key"]},
        ),
        "probed_prefix_history": (
            "ir_object_history",
            {
                "key_prefix": "backups/",
                "bucket": scan["bucket"],
                "start_at": scan["start"].rstrip("Z"),
                "end_at": "2026-03-03T14:30:00",
            },
        ),
        "thief_activity": (
            "ir_principal_activity",
            {"requester": incidents["download_burst"]["principal"]},
        ),
        "benign_activity": ("ir_principal_activity", {"requester": benign}),
    }


def run_all(projects: list[DbtProject], todo: dict[str, tuple[str, dict]]) -> dict[str, list]:
    """Run the queries spread over the projects (one DuckDB file each: a dbt run locks it)."""
    labels = list(todo)
    shares = [labels[i :: len(projects)] for i in range(len(projects))]

    def work(project: DbtProject, share: list[str]) -> dict[str, list]:
        return {label: show(project, *todo[label]) for label in share}

    results: dict[str, list] = {}
    with ThreadPoolExecutor(len(projects)) as pool:
        for done in pool.map(work, projects, shares):
            results.update(done)
    return results


# Patterns planted on top of the demo data by this module (on the baseline day, so that they
# stay out of the demo's own incidents): each new analysis must find its pattern, and the noise
# that flooded the old defaults on large demos (a busy job's everyday denials; S3's own batch
# deletes) must stay out of the default results.
BASELINE_DAY = dt.datetime(2026, 3, 2)
PLANTED = {
    "presigned": {
        "signer": f"arn:aws:iam::{synth.ACCOUNT}:user/analyst-05",
        "remote_ip": "198.51.100.40",
        "bucket": "acme-finance-exports",
        "requests": 15,
    },
    "legacy_client": {
        "principal": f"arn:aws:iam::{synth.ACCOUNT}:user/legacy-backup",
        "remote_ip": "198.51.100.30",  # SigV2 over TLSv1.1
        "plain_http_ip": "198.51.100.31",  # SigV4 over plain HTTP
        "bucket": "acme-backups",
        "requests": 10,
    },
    "partner": {
        "principal": "arn:aws:iam::999988887777:user/partner-sync",
        "account": "999988887777",
        "remote_ip": "198.51.100.20",
        "bucket": "acme-data-lake",
        "requests": 20,
    },
    "settings": {
        "principal": f"arn:aws:sts::{synth.ACCOUNT}:assumed-role/intruder-role/session",
        "remote_ip": "198.51.100.50",
        "bucket": "acme-finance-exports",
        "operations": ["REST.PUT.LOGGING_STATUS", "REST.DELETE.PUBLIC_ACCESS_BLOCK"],
    },
    "uploads": {
        "principal": f"arn:aws:iam::{synth.ACCOUNT}:user/analyst-02",
        "remote_ip": "198.51.100.60",
        "bucket": "acme-data-lake",
        "requests": 3,
        "object_size": 1_000_000,
    },
    # noise: one busy job's hour, 6% of it denied on distinct keys (over the old thresholds)
    "busy_job": {
        "principal": f"arn:aws:sts::{synth.ACCOUNT}:assumed-role/batch-reader/nightly",
        "remote_ip": "198.51.100.70",
        "bucket": "acme-data-lake",
        "requests": 1_000,
        "denied": 60,
    },
    # noise: S3 deleting 300 objects in ten minutes by rule (batch delivery)
    "service_deletes": {"bucket": "acme-backups", "requests": 300},
}
_FIELD = {name: i for i, name in enumerate(CONTRACT_COLUMNS)}


def _with(rec: tuple, **fields: Any) -> tuple:
    values = list(rec)
    for name, value in fields.items():
        values[_FIELD[name]] = value
    return tuple(values)


def plant(folder: Any) -> None:
    """Write the PLANTED patterns as one more log object per bucket into the demo folder."""
    rng = random.Random(5)
    p = PLANTED
    get = ("REST.GET.OBJECT", "GET", 200, True, 0)
    by_bucket: dict[str, list[tuple]] = {}

    def add(minute: float, bucket: str, requester: str | None, ip: str | None, **kw: Any) -> None:
        fields = kw.pop("fields", {})
        at = BASELINE_DAY + dt.timedelta(hours=10, minutes=minute)
        rec = synth.record(rng, at, bucket, requester, ip, **kw)
        by_bucket.setdefault(bucket, []).append(_with(rec, **fields))

    t = p["presigned"]
    for i in range(t["requests"]):
        add(
            i,
            t["bucket"],
            t["signer"],
            t["remote_ip"],
            operation=get,
            object_key=f"exports/finance/q{i}.csv",
            fields={"auth_type": "QueryString"},
        )
    t = p["legacy_client"]
    for i in range(t["requests"]):
        add(
            i,
            t["bucket"],
            t["principal"],
            t["remote_ip"],
            operation=get,
            object_key=f"backups/db/{i}.dump",
            fields={
                "signature_version": "SigV2",
                "tls_version": "TLSv1.1",
                "auth_type": "AuthHeader",
            },
        )
        add(
            i,
            t["bucket"],
            t["principal"],
            t["plain_http_ip"],
            operation=get,
            object_key=f"backups/db/{i}.dump",
            fields={"tls_version": None, "cipher_suite": None, "auth_type": "AuthHeader"},
        )
    t = p["partner"]
    for i in range(t["requests"]):
        add(
            i,
            t["bucket"],
            t["principal"],
            t["remote_ip"],
            operation=get,
            object_key=f"raw/events/shared-{i}.json",
            fields={"auth_type": "AuthHeader"},
        )
    t = p["settings"]
    for i, operation in enumerate(t["operations"]):
        method = operation.split(".")[1]
        add(
            30 + i,
            t["bucket"],
            t["principal"],
            t["remote_ip"],
            operation=(operation, method, 200, False, 0),
            fields={"auth_type": "AuthHeader"},
        )
    t = p["uploads"]
    for i in range(t["requests"]):
        add(
            i,
            t["bucket"],
            t["principal"],
            t["remote_ip"],
            operation=("REST.PUT.OBJECT", "PUT", 200, True, 0),
            object_key=f"tmp/upload-{i}.bin",
            fields={"object_size": t["object_size"]},
        )
    t = p["busy_job"]
    for i in range(t["requests"]):
        denied = i < t["denied"]
        add(
            i * 60 / t["requests"],
            t["bucket"],
            t["principal"],
            t["remote_ip"],
            operation=get,
            object_key=f"raw/events/part-{i:05d}.parquet",
            status=403 if denied else None,
            error_code="AccessDenied" if denied else None,
            bytes_sent=243 if denied else 1_000,
        )
    t = p["service_deletes"]
    for i in range(t["requests"]):
        add(
            i / 30,
            t["bucket"],
            None,
            None,
            operation=("BATCH.DELETE.OBJECT", None, None, True, 0),
            object_key=f"tmp/expired-{i}.dat",
        )
    delivered = BASELINE_DAY + dt.timedelta(hours=11, minutes=30)
    for n, (bucket, records) in enumerate(sorted(by_bucket.items())):
        path = folder / demo_data._object_key(bucket, "simple", delivered, f"PLANTED{n:09d}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(format_line(rec) + "\n" for rec in sorted(records, key=str)))


def compiled_rows(project: DbtProject, groups: list[tuple[dict, dict[str, str]]]) -> dict:
    """Run queries the fast way: one `dbt compile` per set of vars (vars are global to a dbt
    invocation, so each set serves every analysis of its group), then the SQL on DuckDB."""
    results: dict[str, list] = {}
    folder = project.root / "target" / "compiled" / "s3logs" / "analyses"
    for dbt_vars, labels in groups:
        project.dbt("compile", "-s", *sorted(set(labels.values())), "--vars", json.dumps(dbt_vars))
        for label, name in labels.items():
            with duckdb.connect(str(project.database), read_only=True) as con:
                cursor = con.execute((folder / f"{name}.sql").read_text())
                columns = [d[0] for d in cursor.description]
                rows = cursor.fetchall()
            results[label] = [dict(zip(columns, row, strict=True)) for row in rows]
    return results


def new_queries(incidents: dict[str, dict]) -> list[tuple[dict, dict[str, str]]]:
    """The analyses added with the var checks, and the old defaults: (vars, {label: analysis})."""
    scan = incidents["access_denied_scan"]
    burst = incidents["delete_burst"]
    return [
        (
            {},
            {
                "presigned": "ir_presigned_url_usage",
                "insecure": "ir_insecure_transport",
                "cross_account": "ir_cross_account_access",
                "settings": "ir_configuration_changes",
                "traffic": "quickstart_traffic_by_ip",
                "requests_by_ip": "quickstart_requests_by_ip",
            },
        ),
        (
            {
                "owner_accounts": synth.ACCOUNT,
                "one_row_per": "request",
                "kind": "logging",
                "min_bytes": "60GB",
                "only_successful": True,
                "requester": incidents["download_burst"]["principal"],
                # the old defaults, back: the noise is there, the defaults leave it out
                "min_denied_share": 0,
                "include_aws_services": True,
            },
            {
                "cross_account_given": "ir_cross_account_access",
                "settings_logging": "ir_configuration_changes",
                "large_downloads_in_units": "dlp_large_downloads_from_new_ips",
                "anonymous_requests": "quickstart_anonymous_requests",
                "thief_actions": "quickstart_principal_actions",
                "denied_scans_without_share": "ir_access_denied_scans",
                "delete_bursts_with_services": "ir_delete_bursts",
            },
        ),
        (
            # 16:00 to 16:30 at UTC+02:00 is 14:00 to 14:30 UTC, when the scan ran
            {
                "remote_ip": scan["remote_ip"],
                "start_at": scan["start"][:11] + "16:00:00+02:00",
                "end_at": scan["start"][:11] + "16:30:00+02:00",
            },
            {
                "scanner_ip_offset_window": "ir_remote_ip_activity",
                "scanner_denials": "quickstart_access_denied",
            },
        ),
        (
            {"bucket": burst["bucket"], "start_at": burst["start"], "end_at": "2026-03-03T02:30Z"},
            {"burst_deletes": "quickstart_object_deletes"},
        ),
        (
            {"min_bytes": "63.1 GB"},
            {"larger_downloads_in_units": "dlp_large_downloads_from_new_ips"},
        ),
    ]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("analyses")
    summary = demo_data.generate(base / "logs", **DEMO)
    plant(base / "logs")
    project = copy_project(base / "project")
    loader.load_logs(str(base / "logs"), str(project.database))
    project.dbt("build")
    incidents = {truth["id"]: truth for truth in summary.incidents}
    involved = ", ".join(f"'{t['principal']}'" for t in summary.incidents if t["principal"])
    # The busiest human principal that no incident involves: what normal work looks like.
    ((benign,),) = project.query(
        f"""select requester from s3_access_logs_v2
            where requester_type in ('iam_user', 'assumed_role') and requester not in ({involved})
            group by requester order by count(*) desc, requester limit 1"""
    )
    benign_ips = project.query(
        f"select distinct remote_ip from s3_access_logs_v2 where requester = '{benign}'"
    )
    # Two cores: a second copy of the built project lets two `dbt show` run at once.
    twin = copy_project(base / "twin")
    shutil.copy(project.database, twin.database)
    return {
        "incidents": incidents,
        "benign": benign,
        "benign_ips": {ip for (ip,) in benign_ips},
        "shown": {
            **run_all([project, twin], queries(incidents, benign)),
            **compiled_rows(project, new_queries(incidents)),
        },
    }


def test_delete_burst_is_found_as_one_burst_of_its_principal(demo: dict) -> None:
    truth = demo["incidents"]["delete_burst"]
    rows = demo["shown"]["delete_bursts"]
    assert [row["principal"] for row in rows] == [truth["principal"]]
    (burst,) = rows
    assert burst["succeeded_deletes"] >= truth["requests"]
    assert burst["distinct_objects"] >= truth["requests"]
    assert burst["first_delete_at"] <= truth["start"].rstrip("Z")
    assert burst["last_delete_at"] >= truth["end"].rstrip("Z")
    assert burst["duration_minutes"] <= 15
    assert burst["buckets"].startswith(f"{truth['bucket']} (")
    assert burst["remote_ips"].startswith(f"{truth['remote_ip']} (")


def test_download_burst_is_the_only_large_download(demo: dict) -> None:
    truth = demo["incidents"]["download_burst"]
    rows = demo["shown"]["downloads"]
    assert [row["remote_ip"] for row in rows] == [truth["remote_ip"]]
    (found,) = rows
    assert found["bytes_sent"] == truth["bytes_sent"]
    assert found["downloads"] == truth["requests"]
    assert found["principals"] == truth["principal"]
    assert found["buckets"] == truth["bucket"]


def test_only_ips_unseen_before_the_window_are_new(demo: dict) -> None:
    truth = demo["incidents"]["download_burst"]
    rows = demo["shown"]["downloads_from_new_ips"]
    # With no volume threshold: the burst's IP first, then the anonymous readers of the leaked
    # object (addresses new on the incident day); not the scanner (denied: no content sent),
    # and no address the day before had used.
    assert rows[0]["remote_ip"] == truth["remote_ip"]
    assert rows[0]["first_seen_at"] == truth["start"].rstrip("Z")
    assert {row["principals"] for row in rows[1:]} == {"anonymous"}
    assert all(row["first_seen_at"] >= INCIDENT_DAY for row in rows)
    assert not {row["remote_ip"] for row in rows} & demo["benign_ips"]


def test_access_denied_scan_is_found_with_every_probed_key(demo: dict) -> None:
    truth = demo["incidents"]["access_denied_scan"]
    rows = demo["shown"]["denied_scans"]
    assert [(row["principal"], row["remote_ip"]) for row in rows] == [
        (truth["principal"], truth["remote_ip"])
    ]
    (scan,) = rows
    assert scan["denied_requests"] == truth["requests"]
    assert scan["distinct_denied_keys"] == truth["distinct_keys"]
    assert scan["denied_share"] == 1.0
    assert scan["succeeded_requests"] == 0
    assert scan["error_codes"] == f"AccessDenied ({truth['requests']})"


def test_anonymously_read_object_tops_anonymous_access(demo: dict) -> None:
    truth = demo["incidents"]["anonymous_reads"]
    top, *others = demo["shown"]["anonymous_access"]
    assert (top["bucket"], top["object_key"]) == (truth["bucket"], truth["key"])
    assert top["successful_reads"] == top["requests"] == truth["requests"]
    assert top["distinct_ips"] == truth["distinct_ips"]
    assert all(row["requests"] < truth["requests"] / 4 for row in others)


def test_object_history_returns_every_read_of_the_object_in_time_order(demo: dict) -> None:
    truth = demo["incidents"]["anonymous_reads"]
    rows = demo["shown"]["leaked_object_history"]
    assert len(rows) == truth["requests"]
    assert {
        (r["bucket"], r["operation"], r["category"], r["requester_type"], r["http_status"])
        for r in rows
    } == {(truth["bucket"], "REST.GET.OBJECT", "read", "anonymous", 200)}
    times = [row["requested_at"] for row in rows]
    assert times == sorted(times)
    assert (times[0], times[-1]) == (truth["start"].rstrip("Z"), truth["end"].rstrip("Z"))
    assert len({row["remote_ip"] for row in rows}) == truth["distinct_ips"]


def test_object_history_by_prefix_bucket_and_time_window(demo: dict) -> None:
    truth = demo["incidents"]["access_denied_scan"]
    rows = demo["shown"]["probed_prefix_history"]
    probes = [row for row in rows if row["requester"] == truth["principal"]]
    assert len(probes) == truth["requests"]
    assert {row["bucket"] for row in rows} == {truth["bucket"]}
    assert all(row["object_key"].startswith("backups/") for row in rows)
    assert all(
        truth["start"].rstrip("Z") <= row["requested_at"] < "2026-03-03T14:30" for row in rows
    )
    assert all(row["is_security_error"] for row in probes)


def test_principal_activity_shows_the_burst_hours_and_the_new_ip(demo: dict) -> None:
    truth = demo["incidents"]["download_burst"]
    rows = demo["shown"]["thief_activity"]
    assert {row["principal"] for row in rows} == {truth["principal"]}
    reads = {row["hour_at"]: row["bytes_sent"] for row in rows if row["category"] == "read"}
    burst_hours = ("2026-03-03T03:00:00", "2026-03-03T04:00:00")
    assert sum(reads.get(hour, 0) for hour in burst_hours) >= truth["bytes_sent"]
    assert rows[0]["total_distinct_ips"] >= 2  # its usual address(es) and the new one
    assert rows[0]["total_requests"] == sum(row["requests"] for row in rows)


def test_benign_principal_appears_in_activity_but_in_no_detection(demo: dict) -> None:
    benign = demo["benign"]
    activity = demo["shown"]["benign_activity"]
    assert activity and {row["principal"] for row in activity} == {benign}
    for label in ("delete_bursts", "downloads", "downloads_from_new_ips", "denied_scans"):
        for row in demo["shown"][label]:
            principals = {row.get("principal"), *(row.get("principals") or "").split(", ")}
            listed_ips = (row.get("remote_ips") or "").split(", ")
            ips = {row.get("remote_ip"), *(part.split(" (")[0] for part in listed_ips)}
            assert benign not in principals, label
            assert not ips & demo["benign_ips"], label


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.rstrip("Z"))


# What the defaults may list on this demo (about 4,000 lines and the planted patterns): the
# planted signal and little else. The bounds hold with a margin for the demo's own traffic.
MAX_DEFAULT_ROWS = {
    "presigned": 3,
    # the legacy client's three (SigV2, old TLS, plain HTTP) and the demo's own weak_transport
    # incident (SigV2 over TLS 1.0: two rows)
    "insecure": 5,
    "cross_account": 8,
    "delete_bursts": 1,
    "denied_scans": 1,
}


def test_defaults_do_not_flood(demo: dict) -> None:
    for label, bound in MAX_DEFAULT_ROWS.items():
        assert 1 <= len(demo["shown"][label]) <= bound, (label, demo["shown"][label])


def test_old_defaults_would_list_the_planted_noise(demo: dict) -> None:
    # Without the share of denials, the busy job's everyday denials are a "scan"...
    busy = PLANTED["busy_job"]
    rows = demo["shown"]["denied_scans_without_share"]
    assert busy["principal"] in {row["principal"] for row in rows}
    # ...and with AWS services, S3's own batch deletes are a "burst".
    rows = demo["shown"]["delete_bursts_with_services"]
    assert "svc:s3.amazonaws.com" in {row["principal"] for row in rows}
    assert "svc:s3.amazonaws.com" not in {r["principal"] for r in demo["shown"]["delete_bursts"]}


def test_presigned_use_from_an_ip_the_signer_never_used(demo: dict) -> None:
    truth = PLANTED["presigned"]
    top = demo["shown"]["presigned"][0]
    assert (top["signer"], top["remote_ip"], top["bucket"]) == (
        truth["signer"],
        truth["remote_ip"],
        truth["bucket"],
    )
    assert top["requests"] == top["succeeded_requests"] == truth["requests"]
    assert top["distinct_objects"] == truth["requests"]
    assert top["signer_used_ip"] is False


def test_insecure_transport_finds_sigv2_old_tls_and_plain_http(demo: dict) -> None:
    truth = PLANTED["legacy_client"]
    found = {
        (row["issue"], row["remote_ip"]): row
        for row in demo["shown"]["insecure"]
        if row["principal"] == truth["principal"]
    }
    assert set(found) == {
        ("sigv2", truth["remote_ip"]),
        ("tls_below_1_2", truth["remote_ip"]),
        ("no_tls", truth["plain_http_ip"]),
    }
    assert all(row["requests"] == truth["requests"] for row in found.values())
    assert found[("sigv2", truth["remote_ip"])]["protocols"] == "TLSv1.1 / SigV2"
    assert found[("no_tls", truth["plain_http_ip"])]["protocols"] == "none / SigV4"
    weak = demo["incidents"]["weak_transport"]
    assert weak["principal"] in {row["principal"] for row in demo["shown"]["insecure"]}


def test_cross_account_access_names_the_partner_and_the_scanner(demo: dict) -> None:
    partner = PLANTED["partner"]
    scan = demo["incidents"]["access_denied_scan"]
    for label in ("cross_account", "cross_account_given"):
        rows = {row["requester"]: row for row in demo["shown"][label]}
        found = rows[partner["principal"]]
        assert found["requester_account"] == partner["account"]
        assert found["bucket"] == partner["bucket"]
        assert found["successful_reads"] == found["requests"] == partner["requests"]
        assert found["owner_account"] == synth.ACCOUNT
        assert found["owner_account_inferred"] is (label == "cross_account")
        assert rows[scan["principal"]]["denied_requests"] == scan["requests"]
        # the bucket owner itself and the account's own principals are not listed
        assert synth.OWNER not in rows
        assert not any(r["requester_account"] == synth.ACCOUNT for r in rows.values())


def test_configuration_changes_list_access_first_and_the_logging_change(demo: dict) -> None:
    truth = PLANTED["settings"]
    rows = demo["shown"]["settings"]
    kinds = [row["kind"] for row in rows]
    assert kinds == sorted(kinds, key=lambda k: k != "access")  # access kinds first
    mine = {row["operation"]: row for row in rows if row["principal"] == truth["principal"]}
    assert set(mine) == set(truth["operations"])
    assert mine["REST.DELETE.PUBLIC_ACCESS_BLOCK"]["kind"] == "access"
    assert mine["REST.PUT.LOGGING_STATUS"]["remote_ips"] == truth["remote_ip"]
    logging_changes = {row["principal"]: row for row in demo["shown"]["settings_logging"]}
    # the planted change and the demo's own config_tampering incident, nothing else
    tampering = demo["incidents"]["config_tampering"]
    assert set(logging_changes) == {truth["principal"], tampering["principal"]}
    logging_change = logging_changes[truth["principal"]]
    assert logging_change["api_action"] == "PutBucketLogging"
    assert logging_change["principal"] == truth["principal"]
    assert logging_change["is_success"] is True


def test_traffic_by_ip_counts_downloads_and_uploads_in_the_right_direction(demo: dict) -> None:
    thief = demo["incidents"]["download_burst"]
    rows = {row["remote_ip"]: row for row in demo["shown"]["traffic"]}
    assert demo["shown"]["traffic"][0]["remote_ip"] == thief["remote_ip"]
    assert rows[thief["remote_ip"]]["bytes_downloaded"] == thief["bytes_sent"]
    assert rows[thief["remote_ip"]]["bytes_uploaded"] == 0
    uploads = PLANTED["uploads"]
    uploader = rows[uploads["remote_ip"]]
    assert uploader["uploads"] == uploads["requests"]
    assert uploader["bytes_uploaded"] == uploads["requests"] * uploads["object_size"]
    by_requests = demo["shown"]["requests_by_ip"]
    assert by_requests[0]["requests"] >= by_requests[-1]["requests"]
    scanner = next(
        r
        for r in by_requests
        if r["remote_ip"] == demo["incidents"]["access_denied_scan"]["remote_ip"]
    )
    assert scanner["denied_share"] == 1.0


def test_quickstart_listings_find_the_incidents(demo: dict) -> None:
    incidents = demo["incidents"]
    burst = incidents["delete_burst"]
    deletes = [r for r in demo["shown"]["burst_deletes"] if r["requester"] == burst["principal"]]
    assert len(deletes) == burst["requests"]
    assert all(r["is_success"] and not r["deleted_by_rule"] for r in deletes)
    scan = incidents["access_denied_scan"]
    denials = demo["shown"]["scanner_denials"]
    assert len(denials) == scan["requests"]
    assert {r["error_code"] for r in denials} == {"AccessDenied"}
    thief = incidents["download_burst"]
    actions = demo["shown"]["thief_actions"]
    assert {r["principal"] for r in actions} == {thief["principal"]}
    assert sum(r["remote_ip"] == thief["remote_ip"] for r in actions) == thief["requests"]
    leaked = incidents["anonymous_reads"]
    anonymous = demo["shown"]["anonymous_requests"]
    assert sum(r["object_key"] == leaked["key"] for r in anonymous) == leaked["requests"]
    assert all(r["http_status"] < 400 for r in anonymous)


def test_a_window_with_an_offset_is_converted_to_utc(demo: dict) -> None:
    # 16:00-16:30 at +02:00 is 14:00-14:30 UTC: the whole scan; read as UTC it would be empty.
    scan = demo["incidents"]["access_denied_scan"]
    rows = demo["shown"]["scanner_ip_offset_window"]
    assert len(rows) == scan["requests"]
    assert min(r["requested_at"] for r in rows) == _at(scan["start"])
    assert max(r["requested_at"] for r in rows) == _at(scan["end"])
    assert rows[0]["ip_requests"] == scan["requests"]


def test_sizes_with_units_are_bytes(demo: dict) -> None:
    thief = demo["incidents"]["download_burst"]  # 63.08 GB
    assert [r["remote_ip"] for r in demo["shown"]["large_downloads_in_units"]] == [
        thief["remote_ip"]
    ]
    assert demo["shown"]["larger_downloads_in_units"] == []


def test_every_analysis_is_documented_with_the_vars_it_reads() -> None:
    spec = {e["name"]: e for e in yaml.safe_load(ANALYSES_YML.read_text())["analyses"]}
    assert (
        set(spec)
        == set(NAMES)
        >= {
            "ir_object_history",
            "ir_principal_activity",
            "ir_delete_bursts",
            "dlp_large_downloads_from_new_ips",
            "ir_access_denied_scans",
            "ir_anonymous_access",
        }
    )
    for name in NAMES:
        sql = (ANALYSES / f"{name}.sql").read_text()
        # Every var goes through a check of macros/analysis_vars.sql, none is read bare.
        assert not re.findall(r"\bvar\(", sql), f"{name}: a var read without its check"
        reads = set(re.findall(r"s3logs_\w+_var\('(\w+)'", sql))
        if "s3logs_in_window(" in sql or "s3logs_window_vars(" in sql:
            reads |= {"start_at", "end_at"}  # checked by s3logs_window_vars
        assert reads == set(spec[name]["config"]["meta"]["vars"])
        assert spec[name]["description"].strip(), name
        header = sql[: sql.index("{%")]
        for expected in (f"dbt show -s {name}", f"dbt compile -s {name}", "Look at:"):
            assert expected in header, f"{name}: header lacks {expected!r}"
        # Only the public model, at the version whose columns it uses, and the seeds.
        assert set(re.findall(r"\bref\(([^)]*)\)", sql)) <= {
            "'s3_access_logs', v=2",
            "'s3_operations'",
            "'s3_error_codes'",
            "'s3_access_log_findings'",
        }, name
        assert "source(" not in sql, name


# Every var set (they are global to a dbt invocation); the strings need escaping.
STRING_VARS = {
    "object_key": "it's here.csv",
    "key_prefix": "o'brien/",
    "bucket": "acme-web-assets",
    "requester": "arn:aws:iam::123456789012:user/o'neil",
    "requester_prefix": "arn:aws:sts::123456789012:assumed-role/o'hara/",
    "remote_ip": "2001:db8::'1",
    "ip_prefix": "203.0.'",
    "group_by": "ip",
}
ALL_VARS = {
    **STRING_VARS,
    "start_at": "2026-03-03T00:00:00",
    "end_at": "2026-03-04T00:00:00",
    "window_minutes": 30,
    "min_deletes": 10,
    "min_bytes": 1,
    "min_denied": 5,
    "min_distinct_keys": 5,
    "min_requests": 2,
    "min_denied_share": 0.25,
    "include_aws_services": True,
    "only_successful": True,
    "only_unknown_ips": False,
    "issue": "sigv2",
    "owner_accounts": ["123456789012", 210987654321],
    "one_row_per": "request",
    "kind": "access",
}


@pytest.fixture(scope="module")
def snowflake_sql(
    tmp_path_factory: pytest.TempPathFactory, fakesnow_kwargs: dict[str, Any]
) -> dict[tuple[str, str], str]:
    project = copy_project(tmp_path_factory.mktemp("analyses_snowflake") / "project")
    project.env = {"S3LOGS_FAKESNOW_PORT": str(fakesnow_kwargs["port"])}
    compiled: dict[tuple[str, str], str] = {}
    for label, dbt_vars in (("defaults", {}), ("all vars", ALL_VARS)):
        args = ["compile", "--target", "snowflake_fake", "-s", "resource_type:analysis"]
        project.dbt(*args, "--vars", json.dumps(dbt_vars))
        folder = project.root / "target" / "compiled" / "s3logs" / "analyses"
        for path in folder.glob("*.sql"):
            compiled[(path.stem, label)] = path.read_text()
    return compiled


@pytest.mark.parametrize("label", ["defaults", "all vars"])
@pytest.mark.parametrize("name", NAMES)
def test_analysis_compiles_to_sql_snowflake_can_parse(
    snowflake_sql: dict[tuple[str, str], str], name: str, label: str
) -> None:
    sql = snowflake_sql[(name, label)]
    (statement,) = sqlglot.parse(sql, read="snowflake")
    assert isinstance(statement, exp.Query)
    # Every function is one sqlglot knows in Snowflake: nothing DuckDB-only slipped through.
    unknown = {f.name for f in statement.find_all(exp.Anonymous)}
    assert not unknown, f"{name}: functions Snowflake may lack: {unknown}"
    for duckdb_only in ("date_diff(", "string_agg(", "list_aggr("):
        assert duckdb_only not in sql, f"{name}: {duckdb_only}"
    if label == "all vars":
        # Snowflake string literals escape a quote with a backslash.
        documented = {e["name"]: e for e in yaml.safe_load(ANALYSES_YML.read_text())["analyses"]}
        for var in set(documented[name]["config"]["meta"]["vars"]) & set(STRING_VARS):
            if var == "group_by":
                continue
            assert "'" + STRING_VARS[var].replace("'", "\\'") + "'" in sql, (name, var)
