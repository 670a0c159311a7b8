"""`python -m bootstrap.bench --loader`: the loader on its own, as real buckets make it work.

Two measurements, each load in a fresh Python process so that its peak RSS is its own:

1. **S3 over a network**, against each of two stand-ins in its own process on loopback: moto's
   server (the tests' S3) and a minimal S3 (`bootstrap/bench_s3_server.py`), each holding
   `objects` small log objects from four sources (two per key layout) spread over `days`
   days. Every request the loader sends waits `latency_ms` first (a botocore `before-send`
   hook and the same wait before each direct GET, in the loader's process, on whichever
   thread sends it), as a request to S3 over a network would. Reported: the first load (a
   full listing) in objects/s and lines/s, its LIST requests and peak RSS; then a later cycle
   after one new object per source (an incremental listing), with its LIST requests. Each
   server's CPU time is reported too: it competes with the loader for this machine's cores,
   which S3 does not; moto's needs 2.5 to 5 ms a request, the minimal one about 0.3 ms.
2. **A local backfill**: `lines` lines written as log objects to a folder, loaded into a fresh
   DuckDB file: seconds, lines/s and peak RSS.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bootstrap import synth

REPO = Path(__file__).resolve().parent.parent
TARGET_S3_SECONDS = 20.0  # 10,000 objects at 30 ms a request
TARGET_PEAK_RSS_MB = 1024.0
SOURCES = [  # (stream prefix, partitioned)
    ("s3-access/acme-web-assets/", False),
    ("s3-access/acme-backups/", False),
    ("s3-partitioned/123456789012/us-east-1/acme-data-lake/", True),
    ("s3-partitioned/123456789012/us-east-1/acme-finance-exports/", True),
]
START = dt.datetime(2026, 3, 1)

# One load in a child process: options as JSON in argv[1]; prints one JSON line with the
# summary, wall seconds, CPU seconds and peak RSS (ru_maxrss, KiB on Linux).
_CHILD = """
import dataclasses, json, os, resource, sys, time
from bootstrap import loader
options = json.loads(sys.argv[1])
latency = options.pop("latency_ms", 0) / 1000
if latency:
    from bootstrap import s3_reader
    real_init, real_get = loader._S3Source.__init__, s3_reader.DirectGet.get
    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        self.s3.meta.events.register("before-send.s3", lambda **_: time.sleep(latency))
    def get(self, *args, **kwargs):
        time.sleep(latency)
        return real_get(self, *args, **kwargs)
    loader._S3Source.__init__ = init
    s3_reader.DirectGet.get = get
cpu, started = os.times(), time.perf_counter()
summary = loader.load_logs(**options)
seconds, end = time.perf_counter() - started, os.times()
print(json.dumps({
    "summary": dataclasses.asdict(summary),
    "seconds": seconds,
    "cpu_seconds": end.user - cpu.user + end.system - cpu.system,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""

# A moto server on a free loopback port, in its own process: prints its port, stops at EOF.
# (werkzeug's line per request silenced: the server's CPU is measured.)
_SERVER = """
import logging, sys
logging.getLogger("werkzeug").setLevel(logging.ERROR)
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"""
SERVERS = {  # name -> the command that starts it
    "moto": [sys.executable, "-c", _SERVER],
    "minimal": [sys.executable, "-m", "bootstrap.bench_s3_server"],
}


@dataclass
class Load:
    """One load in its own process."""

    objects: int
    lines: int
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    list_requests: int = 0
    full_listing: bool = True
    server_cpu_seconds: float = 0.0

    @property
    def objects_per_s(self) -> float:
        return self.objects / self.seconds if self.seconds else 0.0

    @property
    def lines_per_s(self) -> float:
        return self.lines / self.seconds if self.seconds else 0.0


@dataclass
class LoaderResult:
    objects: int = 0
    latency_ms: float = 0.0
    readers: int = 0
    days: int = 0
    servers: list[str] = field(default_factory=lambda: list(SERVERS))
    s3_first: Load | None = None  # against moto's server
    s3_later: Load | None = None
    minimal_first: Load | None = None  # against the minimal S3
    minimal_later: Load | None = None
    backfill_lines: int = 0
    backfill_objects: int = 0
    backfill_from: str | None = None  # an existing folder loaded instead of written lines
    backfill: Load | None = None
    notes: list[str] = field(default_factory=list)


def run_load(options: dict) -> Load:
    """`loader.load_logs(**options)` in a fresh process (plus `latency_ms`, see _CHILD)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(options)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the load failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    summary = out["summary"]
    return Load(
        objects=summary["objects"],
        lines=summary["lines"],
        seconds=out["seconds"],
        cpu_seconds=out["cpu_seconds"],
        peak_rss_mb=out["peak_rss_mb"],
        list_requests=summary["list_requests"],
        full_listing=summary["full_listing"],
    )


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _key(stream: str, partitioned: bool, at: dt.datetime, unique: str) -> str:
    if partitioned:
        return f"{stream}{at:%Y/%m/%d}/{at:%Y-%m-%d-%H-%M-%S}-{unique}"
    return f"{stream}{at:%Y-%m-%d-%H-%M-%S}-{unique}"


def _bodies(count: int, seed: int) -> list[bytes]:
    """`count` distinct small log objects (10-50 lines: a few KB, as most deliveries are)."""
    rng = random.Random(seed)
    pool = [line for line, _ in synth.lines(rng, 4000, START, ["acme-web-assets"])]
    out = []
    for _ in range(count):
        n = rng.randint(10, 50)
        first = rng.randrange(len(pool) - n)
        out.append(("\n".join(pool[first : first + n]) + "\n").encode())
    return out


def s3_bench(
    result: LoaderResult,
    database: Path,
    *,
    seed: int,
    log: Callable[[str], None],
    server_name: str = "moto",
) -> None:
    import boto3
    from botocore.config import Config

    env = {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    os.environ.update(env)
    server = subprocess.Popen(
        SERVERS[server_name],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        endpoint = f"http://127.0.0.1:{server.stdout.readline().strip()}"
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            config=Config(max_pool_connections=16, request_checksum_calculation="when_required"),
        )
        bucket = "bench-access-logs"
        s3.create_bucket(Bucket=bucket)
        per_source = result.objects // len(SOURCES)
        step = dt.timedelta(days=result.days) / per_source
        bodies = _bodies(result.objects, seed)
        puts = []
        for s, (stream, partitioned) in enumerate(SOURCES):
            for i in range(per_source):
                key = _key(stream, partitioned, START + step * i, f"{s:02X}{i:014X}")
                puts.append((key, bodies[s * per_source + i]))
        log(f"putting {len(puts):,} objects into the {server_name} S3 server (not timed)")
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda kv: s3.put_object(Bucket=bucket, Key=kv[0], Body=kv[1]), puts))
        options = {
            "source": f"s3://{bucket}/",
            "database": str(database),
            "endpoint_url": endpoint,
            "readers": result.readers,
            "latency_ms": result.latency_ms,
        }
        log(f"first load: {len(puts):,} objects at {result.latency_ms:g} ms a request")
        before = _process_cpu(server.pid)
        first = run_load(options)
        first.server_cpu_seconds = _process_cpu(server.pid) - before
        latest = START + step * (per_source - 1)
        for s, (stream, partitioned) in enumerate(SOURCES):
            at = latest + dt.timedelta(minutes=5)
            s3.put_object(
                Bucket=bucket, Key=_key(stream, partitioned, at, f"NEW{s:02X}"), Body=bodies[s]
            )
        log("later cycle: one new object per source")
        before = _process_cpu(server.pid)
        later = run_load(options)
        later.server_cpu_seconds = _process_cpu(server.pid) - before
        if server_name == "moto":
            result.s3_first, result.s3_later = first, later
        else:
            result.minimal_first, result.minimal_later = first, later
    finally:
        server.stdin.close()
        server.wait(timeout=60)


def backfill_bench(
    result: LoaderResult,
    workdir: Path,
    *,
    seed: int,
    log: Callable[[str], None],
    folder: Path | None = None,
) -> None:
    from bootstrap.bench import write_log_objects

    if folder is None:
        folder = workdir / "backfill"
        log(f"writing {result.backfill_lines:,} lines as log objects (not timed)")
        # about 620 lines an object, as `s3logs demo-data` writes for a week of four buckets
        objects, lines, _ = write_log_objects(
            folder, result.backfill_lines, lines_per_object=620, seed=seed
        )
        result.backfill_objects = objects
        log(f"loading {lines:,} lines in {objects:,} objects from a local folder")
    else:
        result.backfill_from = str(folder)
        log(f"loading the log objects of {folder}")
    result.backfill = run_load(
        {"source": str(folder), "database": str(workdir / "backfill.duckdb")}
    )
    result.backfill_objects = result.backfill.objects


def loader_bench(
    *,
    objects: int = 10_000,
    latency_ms: float = 30.0,
    readers: int | None = None,
    servers: list[str] | None = None,
    days: int = 365,
    backfill_lines: int = 1_000_000,
    backfill_from: str | None = None,
    workdir: str | None = None,
    seed: int = 20260301,
    log: Callable[[str], None] = lambda _: None,
) -> LoaderResult:
    from bootstrap.options import DEFAULT_READERS

    result = LoaderResult(
        objects=objects,
        latency_ms=latency_ms,
        readers=readers or DEFAULT_READERS,
        servers=list(SERVERS) if servers is None else servers,
        days=days,
        backfill_lines=backfill_lines,
    )
    root = Path(tempfile.mkdtemp(prefix="s3logs-loader-bench-", dir=workdir))
    try:
        for name in result.servers if objects else []:
            s3_bench(result, root / f"s3-{name}.duckdb", seed=seed, log=log, server_name=name)
        if backfill_from:
            backfill_bench(result, root, seed=seed, log=log, folder=Path(backfill_from))
        elif backfill_lines:
            backfill_bench(result, root, seed=seed, log=log)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return result


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


_SERVER_NOTES = {
    "moto": "moto's server on loopback",
    "minimal": "a minimal S3 on loopback, bootstrap/bench_s3_server.py",
}


def _describe_s3(res: LoaderResult, name: str, first: Load, later: Load | None) -> list[str]:
    out = [
        f"  S3 ({_SERVER_NOTES[name]}; {res.latency_ms:g} ms added to every request, "
        f"{res.readers} readers): {res.objects:,} objects over {res.days} days, 4 sources",
        f"    first load (full listing): {first.seconds:.1f} s = {first.objects_per_s:,.0f} "
        f"objects/s, {first.lines_per_s:,.0f} lines/s ({first.lines:,} lines); "
        f"{first.list_requests} LIST requests; peak RSS {first.peak_rss_mb:,.0f} MB",
        f"      target <= {TARGET_S3_SECONDS:g} s for 10,000 objects: "
        f"{_verdict(first.seconds <= TARGET_S3_SECONDS * res.objects / 10_000)}",
        f"      CPU: loader {first.cpu_seconds:.1f} s ("
        f"{1000 * first.cpu_seconds / max(first.objects, 1):.2f} ms an object), "
        f"{name} server {first.server_cpu_seconds:.1f} s "
        f"(the server shares this machine's cores; S3 would not)",
    ]
    if later is not None:
        out.append(
            f"    later cycle (+1 object per source, "
            f"{'full' if later.full_listing else 'incremental'} listing): "
            f"{later.objects} objects in {later.seconds:.2f} s; "
            f"{later.list_requests} LIST requests "
            f"(a full listing: {first.list_requests})"
        )
    return out


def describe_loader(res: LoaderResult) -> str:
    out = ["Loader (each load in a fresh process; peak RSS is that process's)"]
    if res.s3_first is not None:
        out += _describe_s3(res, "moto", res.s3_first, res.s3_later)
    if res.minimal_first is not None:
        out += _describe_s3(res, "minimal", res.minimal_first, res.minimal_later)
    if res.backfill is not None:
        b = res.backfill
        source = f" from {res.backfill_from}" if res.backfill_from else ""
        out += [
            f"  local backfill{source}: {b.lines:,} lines in {b.objects:,} objects: "
            f"{b.seconds:.1f} s = "
            f"{b.lines_per_s:,.0f} lines/s; peak RSS {b.peak_rss_mb:,.0f} MB "
            f"(target <= {TARGET_PEAK_RSS_MB:,.0f} MB: "
            f"{_verdict(b.peak_rss_mb <= TARGET_PEAK_RSS_MB)})"
        ]
    return "\n".join(out)
