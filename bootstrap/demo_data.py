"""`s3logs demo-data`: a realistic multi-day S3 server access log set with planted incidents.

The folder looks like a log bucket that several source buckets deliver to: some buckets with
the simple key layout (`s3-access/<bucket>/YYYY-mm-DD-HH-MM-SS-Unique`), some date-partitioned
(`s3-partitioned/<account>/<region>/<bucket>/YYYY/MM/DD/YYYY-mm-DD-HH-MM-SS-Unique`), one object
per bucket per five minutes of traffic, some gzipped. Records come from `synth.record` and are
written with `parser.format_line`, so every line but the deliberately malformed ones parses.

Traffic follows a daily curve; each principal works from a few home IPs with one client, and
only the administrators' role changes bucket policies. On top of it sit seven incidents whose
ground truth goes to `incidents.json` beside the logs: a delete burst, a download burst from a
new IP, an access-denied scan, anonymous reads of one object, a principal listing a sensitive
bucket from a network it never used, bucket settings tampered with (logging turned off,
encryption removed, the policy replaced), and a legacy client on Signature Version 2 over
TLS 1.0. Delivery is best-effort as in AWS: a few records arrive hours late or twice.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import click

from bootstrap import synth
from bootstrap.parser import CONTRACT_COLUMNS, format_line

DEFAULT_OUT = "data/demo-logs"
DEFAULT_START = dt.datetime(2026, 3, 2)  # fixed, so that a seed always gives the same bytes
REGION = "us-east-1"
SLOT = dt.timedelta(minutes=5)
MARKER = "incidents.json"

# (bucket, key layout, share of the traffic)
BUCKETS = [
    ("acme-data-lake", "partitioned", 0.40),
    ("acme-web-assets", "simple", 0.30),
    ("acme-finance-exports", "partitioned", 0.15),
    ("acme-backups", "simple", 0.15),
]
PUBLIC_BUCKET = "acme-web-assets"
# The one role that changes bucket policies in normal traffic (the others read them).
ADMIN_ROLE = "assumed-role/AWSReservedSSO_Admin_"
_OP = {op[0]: op for op in synth.OPERATIONS}
_OP_WEIGHTS = [op[4] for op in synth.OPERATIONS]
# operations of the planted incidents that normal traffic does not use: (name, method,
# status, has a key, weight) as in synth.OPERATIONS
_READ_POLICY = ("REST.GET.BUCKETPOLICY", "GET", 200, False, 0)
_TAMPERING = [
    (("REST.PUT.LOGGING_STATUS", "PUT", 200, False, 0), "logging"),
    (("REST.DELETE.ENCRYPTION", "DELETE", 204, False, 0), "encryption"),
    (("REST.DELETE.PUBLIC_ACCESS_BLOCK", "DELETE", 204, False, 0), "publicAccessBlock"),
    (("REST.PUT.BUCKETPOLICY", "PUT", 204, False, 0), "policy"),
]
# (status, error code, bytes sent) and their shares of the requests that have a status.
_ERRORS = [
    ((403, "AccessDenied", 243), 0.03),
    ((404, "NoSuchKey", 309), 0.015),
    ((503, "SlowDown", 233), 0.003),
    ((500, "InternalError", 231), 0.001),
]
_LATE_SHARE = 0.005  # records delivered one to three hours late
_DUPLICATE_SHARE = 0.001  # records delivered twice
_MALFORMED_SHARE = 0.0003
_GZIP_SHARE = 0.125


@dataclass(frozen=True)
class _Actor:
    requester: str | None
    ips: tuple[str, ...]
    user_agent: str


@dataclass(frozen=True)
class DemoSummary:
    folder: Path
    objects: int
    lines: int
    malformed_lines: int
    incidents: list[dict]


def _iso(at: dt.datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _diurnal(at: dt.datetime) -> float:
    """Relative traffic by hour of day: quiet nights, a working-day peak."""
    hour = at.hour + at.minute / 60
    return 0.25 + (1.0 if 8 <= hour < 19 else 0.35 if 6 <= hour < 22 else 0.0)


def _actors(rng: random.Random) -> list[_Actor]:
    actors = []
    for requester in synth.principals(rng):
        ips = tuple(synth.ip(rng) for _ in range(rng.randint(1, 3)))
        actors.append(_Actor(requester, ips, rng.choice(synth.USER_AGENTS)))
    return actors


def _background(
    rng: random.Random,
    when: dt.datetime,
    bucket: str,
    actors: list[_Actor],
    keys: list[str],
) -> tuple:
    actor = rng.choice(actors)
    if actor.requester is None:
        if bucket != PUBLIC_BUCKET:  # only the website bucket is public
            actor = rng.choice(actors[1:])
        operation = _OP["REST.GET.OBJECT" if rng.random() < 0.85 else "REST.HEAD.OBJECT"]
    else:
        operation = rng.choices(synth.OPERATIONS, _OP_WEIGHTS)[0]
        if operation[0] == "REST.PUT.BUCKETPOLICY" and ADMIN_ROLE not in actor.requester:
            operation = _READ_POLICY  # no draw more: the rest of the traffic stays the same
    status = error = sent = None
    if operation[1] is not None:
        roll = rng.random()
        for (code, name, size), share in _ERRORS:
            if roll < share:
                status, error, sent = code, name, size
                break
            roll -= share
    return synth.record(
        rng,
        when,
        bucket,
        actor.requester,
        rng.choice(actor.ips),
        operation=operation,
        object_key=rng.choice(keys),
        status=status,
        error_code=error,
        bytes_sent=sent,
        user_agent=actor.user_agent,
    )


def _with(rec: tuple, **fields: object) -> tuple:
    """`rec` with some contract fields replaced."""
    values = list(rec)
    for name, value in fields.items():
        values[CONTRACT_COLUMNS.index(name)] = value
    return tuple(values)


def _incidents(
    rng: random.Random, start: dt.datetime, days: int, actors: list[_Actor], seed: int = 42
) -> tuple[list[dict], list[tuple[dt.datetime, str, tuple]]]:
    """The planted incidents: their ground truth and their (time, bucket, record) entries."""
    day = start + dt.timedelta(days=min(1, days - 1))
    by_requester = {a.requester: a for a in actors}
    truths: list[dict] = []
    entries: list[tuple[dt.datetime, str, tuple]] = []

    def plant(truth: dict, records: list[tuple[dt.datetime, tuple]]) -> None:
        times = [at for at, _ in records]
        truth.update(start=_iso(min(times)), end=_iso(max(times)), requests=len(records))
        truths.append(truth)
        entries.extend((at, truth["bucket"], rec) for at, rec in records)

    def spread(begin: dt.datetime, minutes: int, n: int) -> list[dt.datetime]:
        seconds = minutes * 60
        return sorted(begin + dt.timedelta(seconds=rng.randrange(seconds)) for _ in range(n))

    # (a) one principal deletes hundreds of objects in a few minutes
    who = by_requester[
        f"arn:aws:sts::{synth.ACCOUNT}:assumed-role/data-engineer/jane.doe@example.com"
    ]
    bucket = "acme-data-lake"
    records = [
        (
            at,
            synth.record(
                rng,
                at,
                bucket,
                who.requester,
                who.ips[0],
                _OP["REST.DELETE.OBJECT"],
                user_agent=who.user_agent,
            ),
        )
        for at in spread(day.replace(hour=2, minute=13), 12, 400)
    ]
    plant(
        {
            "id": "delete_burst",
            "description": "one principal deletes 400 objects in 12 minutes",
            "bucket": bucket,
            "principal": who.requester,
            "remote_ip": who.ips[0],
            "operation": "REST.DELETE.OBJECT",
        },
        records,
    )

    # (b) stolen credentials download gigabytes from an address never seen before. synth.ip never
    # yields 185.0.0.0/8, so this IP is new to the whole log set.
    who = by_requester[f"arn:aws:iam::{synth.ACCOUNT}:user/analyst-03"]
    bucket, new_ip = "acme-finance-exports", "185.220.101.47"
    records = []
    for at in spread(day.replace(hour=3, minute=40), 25, 300):
        size = rng.randrange(20_000_000, 400_000_000)
        rec = synth.record(
            rng,
            at,
            bucket,
            who.requester,
            new_ip,
            _OP["REST.GET.OBJECT"],
            status=200,
            bytes_sent=size,
            user_agent="python-requests/2.31.0",
        )
        # signed in the header, as the stolen access key would sign
        records.append((at, _with(rec, object_size=size, auth_type="AuthHeader")))
    plant(
        {
            "id": "download_burst",
            "description": "300 large GETs from an IP never seen before",
            "bucket": bucket,
            "principal": who.requester,
            "remote_ip": new_ip,
            "operation": "REST.GET.OBJECT",
            "bytes_sent": sum(r[11] for _, r in records),
        },
        records,
    )

    # (c) an outside principal probes many keys and is denied every time
    scanner, scan_ip, bucket = (
        "arn:aws:iam::444455556666:user/recon",
        "45.155.205.233",
        "acme-backups",
    )
    records = []
    for i, at in enumerate(spread(day.replace(hour=14, minute=5), 20, 250)):
        name = rng.choice(("db/prod", "db/users", "config/secrets", "keys/id_rsa", ".env", "vault"))
        probe = f"backups/{name}-{i:03d}.tar.gz"
        operation = _OP["REST.HEAD.OBJECT" if i % 3 == 0 else "REST.GET.OBJECT"]
        records.append(
            (
                at,
                synth.record(
                    rng,
                    at,
                    bucket,
                    scanner,
                    scan_ip,
                    operation,
                    probe,
                    403,
                    "AccessDenied",
                    243,
                    "Go-http-client/1.1",
                ),
            )
        )
    plant(
        {
            "id": "access_denied_scan",
            "description": "250 keys probed, every request denied (403)",
            "bucket": bucket,
            "principal": scanner,
            "remote_ip": scan_ip,
            "error_code": "AccessDenied",
            "distinct_keys": 250,
        },
        records,
    )

    # (d) one object is read anonymously from many addresses (it leaked through a public link)
    bucket, leaked = PUBLIC_BUCKET, "exports/customers-2026-full.csv"
    ips = [synth.ip(rng) for _ in range(60)]
    records = []
    for at in spread(day.replace(hour=18), 5 * 60, 120):
        rec = synth.record(
            rng,
            at,
            bucket,
            None,
            rng.choice(ips),
            _OP["REST.GET.OBJECT"],
            leaked,
            200,
            None,
            48_213_377,
            rng.choice(synth.USER_AGENTS[3:8]),
        )
        records.append((at, rec[:12] + (48_213_377,) + rec[13:]))
    plant(
        {
            "id": "anonymous_reads",
            "description": "one object read anonymously 120 times",
            "bucket": bucket,
            "principal": None,
            "key": leaked,
            "distinct_ips": len({r[3] for _, r in records}),
        },
        records,
    )

    # The incidents added later draw from their own generator, so that the traffic around them
    # stays what it was.
    rng = random.Random(seed * 7919 + 13)

    # (e) a principal lists and probes a sensitive bucket from a network it never used: no
    # content is downloaded, only keys and metadata
    who = by_requester[f"arn:aws:iam::{synth.ACCOUNT}:user/analyst-09"]
    bucket, new_ip = "acme-finance-exports", "91.134.12.77"  # synth.ip never yields 91.0.0.0/8
    records = []
    for i, at in enumerate(spread(day.replace(hour=10, minute=20), 30, 60)):
        operation = _OP["REST.GET.BUCKET" if i % 3 == 0 else "REST.HEAD.OBJECT"]
        rec = synth.record(
            rng, at, bucket, who.requester, new_ip, operation, user_agent=who.user_agent
        )
        records.append((at, _with(rec, auth_type="AuthHeader")))
    plant(
        {
            "id": "new_network_access",
            "description": "a principal lists and probes a sensitive bucket from a new network",
            "bucket": bucket,
            "principal": who.requester,
            "remote_ip": new_ip,
            "network": "91.134.12.0/24",
        },
        records,
    )

    # (f) a principal that never changed a bucket's settings turns its logging off, removes its
    # default encryption and public access block, and replaces its policy, in three minutes
    who = by_requester[f"arn:aws:iam::{synth.ACCOUNT}:user/analyst-07"]
    bucket = "acme-data-lake"
    records = []
    changes = spread(day.replace(hour=21, minute=10), 3, len(_TAMPERING))
    for (operation, query), at in zip(_TAMPERING, changes, strict=True):
        rec = synth.record(
            rng, at, bucket, who.requester, who.ips[0], operation, user_agent=who.user_agent
        )
        uri = f"{operation[1]} /{bucket}?{query} HTTP/1.1"
        records.append((at, _with(rec, request_uri=uri, auth_type="AuthHeader")))
    plant(
        {
            "id": "config_tampering",
            "description": "logging turned off, encryption and public access block removed, "
            "policy replaced",
            "bucket": bucket,
            "principal": who.requester,
            "remote_ip": who.ips[0],
            "operations": [op[0] for op, _ in _TAMPERING],
        },
        records,
    )

    # (g) a legacy backup client uploads with Signature Version 2 over TLS 1.0
    who = by_requester[f"arn:aws:sts::{synth.ACCOUNT}:assumed-role/etl-runner/airflow"]
    bucket = "acme-backups"
    records = []
    for at in spread(day.replace(hour=8, minute=30), 40, 30):
        rec = synth.record(
            rng,
            at,
            bucket,
            who.requester,
            who.ips[0],
            _OP["REST.PUT.OBJECT"],
            user_agent="legacy-backup-agent/3.2 (SigV2)",
        )
        records.append(
            (
                at,
                _with(
                    rec,
                    signature_version="SigV2",
                    tls_version="TLSv1",
                    cipher_suite="ECDHE-RSA-AES128-SHA",
                    auth_type="AuthHeader",
                ),
            )
        )
    plant(
        {
            "id": "weak_transport",
            "description": "30 uploads signed with SigV2 over TLS 1.0",
            "bucket": bucket,
            "principal": who.requester,
            "remote_ip": who.ips[0],
            "signature_version": "SigV2",
            "tls_version": "TLSv1",
        },
        records,
    )
    return truths, entries


def _object_key(bucket: str, layout: str, delivered: dt.datetime, unique: str) -> str:
    name = f"{delivered:%Y-%m-%d-%H-%M-%S}-{unique}"
    if layout == "simple":
        return f"s3-access/{bucket}/{name}"
    return f"s3-partitioned/{synth.ACCOUNT}/{REGION}/{bucket}/{delivered:%Y/%m/%d}/{name}"


def _prepare(folder: Path) -> Path:
    """Check that `folder` may be replaced (only what an earlier demo-data run wrote is ever
    deleted) and make the folder the set is written in first: a hidden sibling, renamed to
    `folder` once complete, so that an interrupted run leaves the old set (or nothing)."""
    if folder.exists() and not folder.is_dir():
        raise click.ClickException(f"{folder} is a file; give --out a folder")
    try:
        _check_replaceable(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{folder.name}.writing-", dir=folder.parent))
        work.chmod(0o755)  # mkdtemp makes it private; the set is not
        return work
    except OSError as exc:
        raise click.ClickException(
            f"cannot prepare {folder}: {exc.strerror or exc}; give --out a writable folder"
        ) from None


def _check_replaceable(folder: Path) -> None:
    if folder.exists() and any(folder.iterdir()) and not (folder / MARKER).is_file():
        raise click.ClickException(
            f"{folder} is not empty and was not written by demo-data (no {MARKER}); "
            "choose another --out or empty it yourself"
        )


def _replace(folder: Path, work: Path) -> None:
    """Put the complete set in `work` where `folder` was."""
    if folder.exists():
        _check_replaceable(folder)
        shutil.rmtree(folder)
    work.rename(folder)


def generate(
    folder: str | Path = DEFAULT_OUT,
    *,
    seed: int = 42,
    days: int = 3,
    lines: int = 200_000,
    start: dt.datetime = DEFAULT_START,
    progress: Callable[[Progress], None] | None = None,
) -> DemoSummary:
    """Write the demo log set into `folder` (replacing an earlier one) and its incidents.json.

    Same arguments, same bytes. `lines` is approximate: traffic is drawn around it.
    `progress` is called after each five-minute slot of traffic with what is written so far.
    """
    if days < 1 or lines < 1:
        raise click.ClickException("--days and --lines must be at least 1")
    folder = Path(folder)
    work = _prepare(folder)
    try:
        summary = _write(work, seed, days, lines, start, progress)
        _replace(folder, work)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return dataclasses.replace(summary, folder=folder)


def _write(
    folder: Path,
    seed: int,
    days: int,
    lines: int,
    start: dt.datetime,
    progress: Callable[[Progress], None] | None,
) -> DemoSummary:
    rng = random.Random(seed)
    actors = _actors(rng)
    keys = {bucket: [synth.key(rng) for _ in range(400)] for bucket, _, _ in BUCKETS}
    truths, planted = _incidents(rng, start, days, actors, seed)

    slots = int(dt.timedelta(days=days) / SLOT)
    by_slot: dict[tuple[str, int], list[tuple[dt.datetime, tuple]]] = {}
    for at, bucket, rec in planted:
        by_slot.setdefault((bucket, int((at - start) / SLOT)), []).append((at, rec))
    curve = [_diurnal(start + i * SLOT) for i in range(slots)]
    scale = max(lines - len(planted), 0) / sum(curve)

    objects = written = malformed = 0
    redelivered: dict[str, list[str]] = {}  # bucket -> lines to deliver again in its next object
    for i in range(slots):
        slot_start = start + i * SLOT
        for bucket, layout, share in BUCKETS:
            expected = scale * share * curve[i]
            records = [
                (slot_start + dt.timedelta(seconds=rng.uniform(0, SLOT.total_seconds())), None)
                for _ in range(int(expected * rng.uniform(0.4, 1.6) + rng.random()))
            ]
            records += by_slot.get((bucket, i), [])
            out = redelivered.pop(bucket, [])
            for at, rec in sorted(records, key=lambda r: r[0]):
                if rec is None:
                    if rng.random() < _LATE_SHARE:
                        at -= dt.timedelta(minutes=rng.randrange(60, 180))
                    rec, fields = synth.shaped(
                        rng, _background(rng, max(at, start), bucket, actors, keys[bucket])
                    )
                    line = format_line(rec, fields)
                    if rng.random() < _MALFORMED_SHARE:
                        line = synth.malformed(rng, line)
                        malformed += 1
                    elif rng.random() < _DUPLICATE_SHARE:
                        redelivered.setdefault(bucket, []).append(line)
                else:
                    line = format_line(rec)
                out.append(line)
            if not out:
                continue
            delivered = slot_start + SLOT + dt.timedelta(seconds=rng.randrange(60, 600))
            unique = "".join(rng.choice("0123456789ABCDEF") for _ in range(16))
            path = folder / _object_key(bucket, layout, delivered, unique)
            data = ("\n".join(out) + "\n").encode()
            if rng.random() < _GZIP_SHARE:
                path = path.with_name(path.name + ".gz")
                data = gzip.compress(data, mtime=0)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            stamp = delivered.replace(tzinfo=dt.timezone.utc).timestamp()
            # The delivery time as mtime, so a regenerated identical set loads as a no-op.
            os.utime(path, (stamp, stamp))
            objects += 1
            written += len(out)
        if progress is not None:
            progress(Progress(i + 1, slots, slots // days, objects, written))

    ground_truth = {
        "generator": "s3logs demo-data",
        "seed": seed,
        "days": days,
        "start": _iso(start),
        "objects": objects,
        "lines": written,
        "malformed_lines": malformed,
        "incidents": truths,
    }
    (folder / MARKER).write_text(json.dumps(ground_truth, indent=2, sort_keys=True) + "\n")
    (folder / "README.txt").write_text(
        "Synthetic S3 server access logs written by `s3logs demo-data`; load them with "
        "`s3logs load`.\nincidents.json holds the ground truth of the planted incidents.\n"
    )
    return DemoSummary(folder, objects, written, malformed, truths)


@dataclass(frozen=True)
class Progress:
    """How far `generate` got: slots of five minutes written of all, lines and objects."""

    slots: int
    total_slots: int
    slots_a_day: int
    objects: int
    lines: int


class _Status:
    """demo-data's progress on stderr: on a terminal, a status line redrawn at most five times
    a second; elsewhere (a log file, CI), one line per day of traffic written."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.live = stream.isatty()
        self.last = None  # time.monotonic() of the last redraw
        self.shown = False

    def __call__(self, done: Progress) -> None:
        day, rest = divmod(done.slots, done.slots_a_day)
        days = done.total_slots // done.slots_a_day
        text = (
            f"{done.lines:,} lines in {done.objects:,} objects "
            f"({100 * done.slots / done.total_slots:.0f}% of {days} days)"
        )
        if not self.live:
            if rest == 0:
                click.echo(f"day {day} of {days} written: {text}", file=self.stream)
            return
        now = time.monotonic()
        if self.last is not None and now - self.last < 0.2 and done.slots < done.total_slots:
            return
        self.last = now
        click.echo(f"\r\x1b[K{text}", file=self.stream, nl=False)
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            click.echo("\r\x1b[K", file=self.stream, nl=False)
            self.shown = False


@click.command("demo-data")
@click.option(
    "--out",
    default=DEFAULT_OUT,
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder to write (replaced if an earlier demo-data run wrote it).",
)
@click.option("--seed", default=42, show_default=True, help="Same seed, same bytes.")
@click.option("--days", default=3, show_default=True, help="Days of traffic.")
@click.option("--lines", default=200_000, show_default=True, help="Approximate total lines.")
def demo_data(out: str, seed: int, days: int, lines: int) -> None:
    """Write a realistic multi-day S3 access log set with planted incidents to a folder.

    Several buckets in both key layouts, one object per bucket per five minutes (some
    gzipped), a daily traffic curve, errors, legacy short records, a few malformed lines and
    late or duplicate deliveries. The ground truth of seven planted incidents (a delete burst,
    a download burst from a new IP, an access-denied scan, anonymous reads of one object,
    access from a new network, bucket settings tampered with, SigV2 over TLS 1.0) is written
    to incidents.json in the same folder. Next: `s3logs load`, then `dbt build`.

    Progress goes to stderr: a status line on a terminal, a line per day of traffic otherwise.
    The set is written beside --out and takes its place once complete: an interrupted run
    leaves the earlier set as it was.
    """
    status = _Status(sys.stderr)
    try:
        summary = generate(out, seed=seed, days=days, lines=lines, progress=status)
    finally:
        status.clear()
    click.echo(
        f"wrote {summary.lines:,} lines in {summary.objects:,} objects to {summary.folder} "
        f"({summary.malformed_lines} malformed on purpose); "
        f"incidents: {', '.join(t['id'] for t in summary.incidents)} (see {MARKER})",
        err=True,
    )
