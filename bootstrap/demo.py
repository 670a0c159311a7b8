"""`make demo`: the main job on DuckDB, end to end, from nothing.

Generates the demo log set (once), then does what `s3logs run` does: loads what is new into
the raw table and runs `dbt build` (dbt starting while the loader works), and prints a short
summary. Running it again loads nothing twice and parses nothing twice.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import duckdb

from bootstrap import demo_data, loader, pipeline


def _summary(database: Path) -> str:
    with duckdb.connect(str(database), read_only=True) as con:
        (raw,) = con.execute("select count(*) from s3_access_logs_raw").fetchone()
        (parsed,) = con.execute("select count(*) from s3_access_logs_v2").fetchone()
        (rejected,) = con.execute("select count(*) from s3_access_logs_quarantine").fetchone()
        top = con.execute(
            """
            select coalesce(requester, '(anonymous)'), requester_type, count(*) as requests,
                   count(*) filter (where http_status = 403) as denied,
                   sum(coalesce(bytes_sent, 0)) as bytes_sent
            from s3_access_logs_v2
            group by all order by requests desc limit 5
            """
        ).fetchall()
        findings = con.execute(
            "select detection, count(*) from s3_access_log_findings_v1 group by all order by 1"
        ).fetchall()
    lines = [
        f"raw lines: {raw:,}   parsed: {parsed:,}   quarantined: {rejected:,}"
        + ("   (raw = parsed + quarantined)" if raw == parsed + rejected else "   MISMATCH"),
        "top requesters:",
    ]
    for requester, kind, requests, denied, sent in top:
        lines.append(
            f"  {requests:>8,} requests  {denied:>6,} denied  {sent / 1e9:>7.2f} GB sent  "
            f"{kind:<15} {requester}"
        )
    lines.append(
        "findings: "
        + (", ".join(f"{detection} {n}" for detection, n in findings) or "none")
        + " (list them: .venv/bin/dbt show -s ir_finding_evidence --limit 20)"
    )
    lines.append(
        "explore: .venv/bin/dbt show --inline "
        "\"select * from {{ ref('s3_access_logs') }} where http_status = 403\""
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bootstrap.demo", description=__doc__)
    ap.add_argument("--logs", default="data/demo-logs", help="demo log folder (generated once)")
    ap.add_argument(
        "--database",
        default=os.environ.get("S3LOGS_DUCKDB", "data/s3logs.duckdb"),
        help="DuckDB file (default: $S3LOGS_DUCKDB or data/s3logs.duckdb)",
    )
    args = ap.parse_args(argv)
    logs, database = Path(args.logs), Path(args.database).resolve()
    started = time.monotonic()
    if not (logs / "incidents.json").exists():
        print(f"[1/2] generating demo logs into {logs} …", flush=True)
        made = demo_data.generate(logs)
        print(f"wrote {made.lines:,} lines in {made.objects:,} objects", flush=True)
    else:
        print(f"[1/2] demo logs already in {logs} (delete the folder to regenerate)", flush=True)
    print(
        f"[2/2] loading new log objects into {database} and running dbt build "
        "(what `s3logs run` does) …",
        flush=True,
    )
    database.parent.mkdir(parents=True, exist_ok=True)
    try:
        cycle = pipeline.Pipeline(str(logs), str(database), show_progress=True).cycle()
    except (loader.LoadError, pipeline.PipelineError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(cycle.load.describe(), flush=True)
    if not cycle.success:
        print(cycle.describe(), file=sys.stderr)
        print("error: dbt build failed (see its output above)", file=sys.stderr)
        return 1
    print()
    print(_summary(database))
    print(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
