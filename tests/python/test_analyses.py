"""The incident-response and DLP analyses (analyses/*.sql) on the demo data: each finds the
incident planted for it (ground truth in incidents.json) and nothing else, on DuckDB through
`dbt show`; and each compiles for Snowflake (fakesnow) to SQL a Snowflake parser accepts, with
its vars unset and set.

One small demo set is built once per module; every `dbt show` runs against it.
"""

from __future__ import annotations

import json
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlglot
import yaml
from conftest import REPO, DbtProject, copy_project
from sqlglot import exp

from bootstrap import demo_data, loader

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


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("analyses")
    summary = demo_data.generate(base / "logs", **DEMO)
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
        "shown": run_all([project, twin], queries(incidents, benign)),
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
        }, name
        assert "source(" not in sql, name


# Every var set (they are global to a dbt invocation); the strings need escaping.
STRING_VARS = {
    "object_key": "it's here.csv",
    "key_prefix": "o'brien/",
    "bucket": "acme-web-assets",
    "requester": "arn:aws:iam::123456789012:user/o'neil",
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
