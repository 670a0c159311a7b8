"""`s3logs bootstrap backfill`: load the log files older than the pipe's refresh window.

ALTER PIPE ... REFRESH queues only files staged within the last 7 days, so log objects already
in the bucket for longer are never loaded by the pipe. The backfill loads them with the pipe's
own COPY (same SELECT, same file format), naming the files, and cannot load a file twice:

- a file whose name already appears in the raw table is left out (whoever loaded it). Whether
  METADATA$FILENAME is relative to the stage URL or to the bucket (the prefix included) is not
  certain, so a file counts as loaded when either form of its name is there (fail closed);
- a file modified within the refresh window is left out: the pipe's refresh covers it;
- when rows were adopted from the quickstart, a file modified between the quickstart's first
  load less 7 days (what its initial refresh reached back) and the latest adopted row is left
  out: the quickstart loaded it, under a name it did not record. Older files are backfilled;
- it refuses while the pipe still has files pending, since a file the pipe is loading is not in
  the raw table yet.

COPY runs with LOAD_UNCERTAIN_FILES = TRUE (otherwise it silently skips files older than 64 days
whose load status it no longer knows), and every file it names is reported: loaded, skipped for
errors, or left out by COPY itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from bootstrap.cloud import plan
from bootstrap.cloud.snowflake import SnowflakeSetupError, SnowflakeSide

# What ALTER PIPE ... REFRESH reaches back: files staged within the previous 7 days.
REFRESH_WINDOW = timedelta(days=7)

Report = Callable[[str], None]


@dataclass(frozen=True)
class StagedFile:
    name: str  # relative to the stage URL, as METADATA$FILENAME and COPY's FILES take it
    size: int
    last_modified: datetime  # aware, UTC


@dataclass(frozen=True)
class BackfillPlan:
    cutoff: datetime  # files modified at or after this are the pipe's
    high_water: datetime | None  # latest adopted row; files modified up to it are left out ...
    adopted_from: datetime | None  # ... from the quickstart's first load less 7 days
    listed: int
    to_load: tuple[StagedFile, ...]
    already_loaded: int
    recent: int
    adopted_period: int

    def batches(self, size: int = plan.COPY_FILES_LIMIT) -> list[list[str]]:
        names = [f.name for f in self.to_load]
        return [names[i : i + size] for i in range(0, len(names), size)]


@dataclass
class BackfillResult:
    batches: int = 0
    files_loaded: int = 0
    rows_loaded: int = 0
    files_failed: list[tuple[str, str]] = field(default_factory=list)
    files_skipped_by_copy: list[str] = field(default_factory=list)  # COPY returned no row


def parse_timestamp(value: Any) -> datetime:
    """LIST's last_modified ('Tue, 9 Jan 2018 15:31:44 GMT') or a datetime, as aware UTC."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = parsedate_to_datetime(str(value))
        except (TypeError, ValueError):
            moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def staged_files(sf: SnowflakeSide) -> list[StagedFile]:
    """LIST the stage; names made relative to the stage URL (LIST gives full URLs)."""
    url = sf.config.aws.stage_url
    files = []
    for row in sf.list_stage():
        name = str(row["name"])
        if not name.startswith(url):
            raise SnowflakeSetupError(
                f"LIST @{sf.sf.qualified(sf.sf.stage)} returned {name}, outside {url}; the "
                "stage does not read the configured log location (run `s3logs bootstrap verify`)"
            )
        files.append(
            StagedFile(
                name=name[len(url) :],
                size=int(row.get("size") or 0),
                last_modified=parse_timestamp(row["last_modified"]),
            )
        )
    return files


def loaded_forms(sf: SnowflakeSide, name: str) -> tuple[str, str]:
    """The two forms METADATA$FILENAME may have given a stage-relative name: as it is, and
    relative to the bucket (the log prefix in front)."""
    return name, sf.config.aws.log_prefix + name


def plan_backfill(
    sf: SnowflakeSide, *, now: datetime, older_than: timedelta = REFRESH_WINDOW
) -> BackfillPlan:
    """Which staged files to load, and why each of the others is left out."""
    cutoff = now.astimezone(timezone.utc) - older_than
    files = staged_files(sf)
    loaded = sf.loaded_file_names()
    adopted_rows = sf.adopted_rows()
    high_water = adopted_rows.adopted_last
    # The quickstart's pipe loaded what arrived while it ran, and its initial refresh what was
    # staged in the 7 days before: nothing older.
    adopted_from = (
        adopted_rows.adopted_first - REFRESH_WINDOW if adopted_rows.adopted_first else None
    )
    to_load, already, recent, adopted = [], 0, 0, 0
    for staged in sorted(files, key=lambda f: (f.last_modified, f.name)):
        if staged.last_modified >= cutoff:
            recent += 1
        elif any(form in loaded for form in loaded_forms(sf, staged.name)):
            already += 1
        elif (
            high_water is not None
            and adopted_from is not None
            and adopted_from <= staged.last_modified <= high_water
        ):
            adopted += 1
        else:
            to_load.append(staged)
    return BackfillPlan(
        cutoff=cutoff,
        high_water=high_water,
        adopted_from=adopted_from,
        listed=len(files),
        to_load=tuple(to_load),
        already_loaded=already,
        recent=recent,
        adopted_period=adopted,
    )


def run_backfill(
    sf: SnowflakeSide,
    report: Report = print,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    older_than: timedelta = REFRESH_WINDOW,
    batch_size: int = plan.COPY_FILES_LIMIT,
) -> BackfillResult:
    if not 1 <= batch_size <= plan.COPY_FILES_LIMIT:
        raise ValueError(f"batch_size must be 1..{plan.COPY_FILES_LIMIT} (COPY's FILES limit)")
    cfg = sf.sf
    if not sf.table_columns(cfg.raw_table) or sf.pipe() is None:
        raise SnowflakeSetupError(
            f"the raw table {cfg.qualified(cfg.raw_table)} or the pipe "
            f"{cfg.qualified(cfg.pipe)} does not exist; run `s3logs bootstrap apply` first"
        )
    pending = int(sf.pipe_status().get("pendingFileCount", 0) or 0)
    if pending and dry_run:
        report(f"note: the pipe has {pending} pending file(s); a real run waits for 0")
    elif pending:
        raise SnowflakeSetupError(
            f"the pipe {cfg.qualified(cfg.pipe)} still has {pending} pending file(s); a file it "
            "is loading is not in the raw table yet, so the backfill could load it again. Wait "
            "until SYSTEM$PIPE_STATUS shows pendingFileCount 0, then re-run. Nothing was loaded."
        )
    moment = now or datetime.now(timezone.utc)
    chosen = plan_backfill(sf, now=moment, older_than=older_than)
    report(
        f"{chosen.listed} file(s) in the stage: {chosen.recent} modified since "
        f"{chosen.cutoff:%Y-%m-%d %H:%M:%S} UTC (the pipe's refresh window), "
        f"{chosen.already_loaded} already in the raw table"
        + (
            f", {chosen.adopted_period} modified between "
            f"{chosen.adopted_from:%Y-%m-%d %H:%M:%S} UTC (7 days before the quickstart's first "
            f"load) and {chosen.high_water:%Y-%m-%d %H:%M:%S} UTC (its latest adopted row), "
            "loaded by the quickstart"
            if chosen.high_water is not None and chosen.adopted_from is not None
            else ""
        )
        + f"; {len(chosen.to_load)} to load"
    )
    result = BackfillResult()
    batches = chosen.batches(batch_size)
    for number, names in enumerate(batches, start=1):
        result.batches += 1
        if dry_run:
            report(f"batch {number}/{len(batches)}: would load {len(names)} file(s)")
            for name in names:
                report(f"  {name}")
            continue
        _load_batch(sf, names, number, len(batches), result, report)
    if dry_run:
        report(f"dry run: nothing was loaded ({len(chosen.to_load)} file(s) would be)")
        return result
    skipped = result.files_skipped_by_copy
    report(
        f"backfill finished: {result.files_loaded} file(s) loaded ({result.rows_loaded} "
        f"row(s)) in {result.batches} batch(es), {len(result.files_failed)} skipped for "
        f"errors, {len(skipped)} not loaded by COPY"
        + (
            f" ({', '.join(skipped[:SHOWN])}"
            + (f" and {len(skipped) - SHOWN} more" if len(skipped) > SHOWN else "")
            + "; COPY returned no result for them, so they are not in the raw table: check "
            "them with COPY_HISTORY or LIST, and load each one by hand if it should be)"
            if skipped
            else ""
        )
    )
    return result


SHOWN = 10  # file names a summary lists


def _relative(sf: SnowflakeSide, reported: str) -> str:
    """COPY's `file` column (a full URL, or a path) as a stage-relative name."""
    for base in (sf.config.aws.stage_url, sf.config.aws.log_prefix):
        if base and reported.startswith(base):
            return reported[len(base) :]
    return reported


def _load_batch(
    sf: SnowflakeSide,
    names: list[str],
    number: int,
    total: int,
    result: BackfillResult,
    report: Report,
) -> None:
    """COPY one batch and account for every file in it, by name."""
    by_name = {
        _relative(sf, str(row["file"])): row for row in sf.copy_files(names) if row.get("file")
    }
    loaded = failed = rows_loaded = 0
    not_loaded = []
    for name in names:
        row = by_name.get(name)
        status = str((row or {}).get("status") or "").upper()
        if status == "LOADED":
            loaded += 1
            rows_loaded += int(row.get("rows_loaded") or 0) if row else 0
        elif row is not None:
            failed += 1
            error = str(row.get("first_error") or status)
            result.files_failed.append((str(row.get("file")), error))
            report(f"  skipped {row.get('file')}: {error}")
        else:
            not_loaded.append(name)
            report(f"  not loaded by COPY (no result for it): {name}")
    result.files_loaded += loaded
    result.rows_loaded += rows_loaded
    result.files_skipped_by_copy += not_loaded
    report(
        f"batch {number}/{total}: {len(names)} file(s): {loaded} loaded ({rows_loaded} row(s)), "
        f"{failed} skipped for errors"
        + (f", {len(not_loaded)} not loaded by COPY" if not_loaded else "")
    )
