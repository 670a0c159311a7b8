"""`make demo`: the main job on DuckDB, end to end, from nothing.

Generates the demo log set (once), loads what is new into the raw table, runs `dbt build`,
and prints a short summary. Running it again loads nothing twice and parses nothing twice.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from bootstrap import demo_data, loader

REPO = Path(__file__).resolve().parents[1]


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
        print(f"[1/3] generating demo logs into {logs} …", flush=True)
        made = demo_data.generate(logs)
        print(f"wrote {made.lines:,} lines in {made.objects:,} objects", flush=True)
    else:
        print(f"[1/3] demo logs already in {logs} (delete the folder to regenerate)", flush=True)
    print(f"[2/3] loading new log objects into {database} …", flush=True)
    database.parent.mkdir(parents=True, exist_ok=True)
    try:
        print(loader.load_logs(str(logs), str(database)).describe(), flush=True)
    except loader.LoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("[3/3] dbt build (parse what is new, test, document) …", flush=True)
    dbt = Path(sys.executable).with_name("dbt")
    env = {**os.environ, "S3LOGS_DUCKDB": str(database)}
    result = subprocess.run(
        [str(dbt), "build", "--project-dir", str(REPO), "--profiles-dir", str(REPO)],
        cwd=REPO,
        env=env,
    )
    if result.returncode != 0:
        print("error: dbt build failed (see its output above)", file=sys.stderr)
        return result.returncode
    print()
    print(_summary(database))
    print(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
