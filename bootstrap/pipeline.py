"""`s3logs run`: the local job in one process: load what is new, then `dbt build`.

On Snowflake, Snowpipe loads objects as they land and a schedule runs `dbt build`. Locally the
same two steps are `s3logs load` and `dbt build`, two processes that each pay their start-up.
`s3logs run` does both in one process:

- dbt's start-up (its import and the parse of this project) needs no database, so it runs
  while the loader appends the new objects; the loader then runs in a child process, so that
  neither waits for the other's Python (in one process, the GIL made the pair slower than the
  two one after the other);
- with `--every SECONDS` it repeats, as a schedule would, keeping dbt loaded and the parsed
  project (the manifest) between cycles; the project is parsed again only when one of its files
  changed;
- a cycle holds the DuckDB file open from its load to the end of its build (a later cycle
  loads through the same DuckDB instance), and lets DuckDB merge the small row groups the
  appends leave only once they add up to a whole one (MERGE_ROWS). Between cycles the file is
  closed.

Each cycle builds what a scheduled `dbt build` builds (unit tests excluded: they belong in CI).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bootstrap import interrupts
from bootstrap.options import DATABASE_ENV, listing_options, source_options

# bootstrap.loader (DuckDB and Arrow: a quarter of a second to import) is imported where it is
# used, so that `s3logs run` starts its loader process first.
if TYPE_CHECKING:
    import duckdb

    from bootstrap import loader

REPO = Path(__file__).resolve().parent.parent
BUILD_ARGS = ("build", "--exclude-resource-type", "unit_test")
LATER_SELECT = (
    "--select",
    "int_s3_access_logs__parsed",
    "resource_type:test,int_s3_access_logs__parsed+",
    "resource_type:test,stg_s3logs__raw_lines+",
    # Tests that restate a parse-model test on a view keeping a subset of its rows, keys and
    # load times (a key test, a not-null loaded_at): the parse model's passing means theirs do,
    # so they run when the views are built (a first cycle, or after a change or a failure); in
    # a later cycle they took about a fifth of its time.
    "--exclude",
    "tag:restates_parse_model_test",
    # results are printed; the JSON artifacts and debug log of every few minutes would cost a
    # fifth of such a cycle (target/ keeps those of the first cycle)
    "--no-write-json",
    "--log-level-file",
    "info",
)
# Later cycles rebuild the detection layer (models tagged detections: the hourly aggregate, the
# detection models, the findings and their tests) at most this often; in between they leave it
# out, as its findings are per hour (at 1M lines it would take several times what the rest of
# a later cycle takes). A first cycle, and one after a failure or a project change, builds it.
DETECT_EVERY_SECONDS = 15 * 60
DETECTIONS_TAG = "tag:detections"
# What dbt reads to parse the project: a change to any of these means parsing again.
_PROJECT_FILES = (
    "dbt_project.yml",
    "profiles.yml",
    "packages.yml",
    "dependencies.yml",
    "selectors.yml",
)
_PROJECT_DIRS = ("models", "macros", "seeds", "tests", "analyses")
_PROJECT_SUFFIXES = (".sql", ".yml", ".yaml", ".md", ".csv", ".py")
# Rows in a DuckDB row group. A later cycle appends its few lines to each table as a small row
# group; by default almost every checkpoint merges such neighbours ("vacuum"), rewriting the
# growing tail of both tables cycle after cycle (the closing checkpoint took 0.06 s to 2.6 s,
# 0.3 s on average, over 16 cycles of 10,000 lines; 0.06 s without merging). Later cycles merge
# only once the lines appended since the last merge fill a row group: most cycles skip it, and
# a line is rewritten about once (with the part-filled row group a merge leaves, again at the
# next merge). The merging cycle pays it all: 2.6-4 s at 10,000 lines a cycle (DuckDB merges
# on one thread).
MERGE_ROWS = 122_880


class PipelineError(Exception):
    """A failure the user can act on; the message says what to do."""


@dataclass
class CycleResult:
    """One load + build: what was loaded, how dbt's nodes ended, and how long each step took."""

    number: int
    load: loader.LoadSummary
    success: bool
    statuses: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    # nodes that ended in a warning, with dbt's message: the new findings of the detections
    warnings: list[str] = field(default_factory=list)
    parsed: bool = False  # whether this cycle parsed the project (the first, or after a change)
    # from the start to the end of the load (a parsing cycle's: to the end of load and parse)
    load_seconds: float = 0.0
    parse_seconds: float = 0.0  # dbt parsing the project (a first cycle, or after a change)
    dbt_seconds: float = 0.0  # from the end of the load to the end of the build
    seconds: float = 0.0
    nodes: dict[str, float] = field(default_factory=dict)  # unique_id -> execution time
    # whether the cycle let DuckDB merge small row groups (see MERGE_ROWS)
    merged: bool = False

    def describe(self) -> str:
        """The cycle in one line (then its failures and warnings): where the time went."""
        ended = ", ".join(f"{n} {status}" for status, n in sorted(self.statuses.items()))
        ended = ended or "no node ran"
        loaded = f"{self.load.objects} objects, {self.load.lines:,} lines loaded"
        if self.parsed:
            # the load ran in a child process while dbt parsed the project (see Pipeline.cycle)
            spent = (
                f"{loaded} in {self.load.seconds:.1f} s while dbt parsed the project in "
                f"{self.parse_seconds:.1f} s"
            )
        else:
            spent = f"{loaded} in {self.load_seconds:.1f} s (project unchanged: not parsed)"
        text = (
            f"cycle {self.number}: {spent}; dbt build in {self.dbt_seconds:.1f} s ({ended}); "
            f"{self.seconds:.1f} s in all"
        )
        if self.failures:
            text += "\n" + "\n".join(f"  failed: {f}" for f in self.failures)
        if self.warnings:
            text += "\n" + "\n".join(f"  warning: {w}" for w in self.warnings)
        return text


def _load(options: dict, show_progress: bool) -> loader.LoadSummary:
    """One load (in this process or a child): with progress on stderr, or quietly."""
    from bootstrap import loader

    if show_progress:
        return loader.console_load(**options)
    return loader.load_logs(**options)


def _hold(database: str) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB file and keep this connection open around a cycle's load and build (a
    later cycle's from before its load; a first cycle's from the end of its load, which its
    child process did holding the file the same way). The loader and dbt then connect to this
    one DuckDB instance, which reads the file once and checkpoints when its log passes 16 MB
    and when this connection, the last, is closed. Row groups are not merged ("vacuum") unless
    the cycle lifts this global setting (see MERGE_ROWS)."""
    from bootstrap import loader

    con = loader.open_database(database)
    con.execute("set max_vacuum_tasks = 0")  # global: for every connection of the instance
    return con


def _hold_for_build(database: str, load: loader.LoadSummary) -> duckdb.DuckDBPyConnection:
    """_hold, after a child process's load: another program may have opened the file since,
    and then it is the build, not the load, that has to be run again."""
    from bootstrap import loader

    try:
        return _hold(database)
    except loader.DatabaseInUseError as exc:
        raise PipelineError(
            f"{load.objects} objects ({load.lines:,} lines) were loaded, but another process "
            f"opened the DuckDB file {database} before the build could "
            "(a DuckDB shell, a notebook, a dbt command?). Close it: the next run, or the "
            "schedule's next cycle, builds on these lines and loads nothing twice. "
            f"DuckDB says: {exc.__cause__}"
        ) from exc


def _load_unmerged(options: dict, show_progress: bool) -> loader.LoadSummary:
    """The load of a cycle that parses the project, in the child process. It holds the file
    as the cycle's build does, so that its closing checkpoint leaves merging to the cycle's
    rule (see cycle()): the loader reads its files on several threads, each leaving a
    part-filled row group between full ones, and merging them rewrote half of the raw table,
    0.7 s of a 2.6 s load of 1M lines."""
    holds = []  # opened once the loader found the source usable: a wrong one creates no file
    try:
        return _load({**options, "before_open": lambda db: holds.append(_hold(db))}, show_progress)
    finally:
        for hold in holds:
            hold.close()


# A child process that loads: options as JSON in argv[1], the summary as JSON on stdout (or
# {"error": message} for a LoadError); log lines and progress go to the inherited stderr.
# Interrupted (Ctrl-C, SIGTERM, or its parent's death: see _die_with_parent), it rolls back
# its open batch and exits 130 or 143 without a word: the parent says what happened.
_CHILD = """
import dataclasses, json, sys
from bootstrap import interrupts, loader, pipeline
interrupts.install()
options, show_progress = json.loads(sys.argv[1]), sys.argv[2] == "1"
try:
    summary = pipeline._load_unmerged(options, show_progress)
except loader.LoadError as exc:
    print(json.dumps({"error": str(exc)}))
except BaseException as exc:
    if interrupts.interrupted(exc):
        sys.exit(interrupts.exit_status())
    if not isinstance(exc, Exception):
        raise
    print(json.dumps({"failure": f"{type(exc).__name__}: {exc}"}))
else:
    print(json.dumps(dataclasses.asdict(summary)))
"""
_INTERRUPTED = (130, 143, -signal.SIGINT, -signal.SIGTERM)


def _die_with_parent(parent: int) -> None:
    """The loader child's preexec_fn: SIGTERM when the parent dies, even by kill -9.

    Linux's prctl(PR_SET_PDEATHSIG) does it in the kernel, at the moment the parent goes,
    with nothing to run in either process (polling the parent's pid from the child would
    need a thread in it and would notice late). The signal survives the exec; the child
    handles it as an interrupt (its open batch rolls back). The parent may have died before
    prctl ran: then the child stops at once. Elsewhere (no prctl) the child outlives a
    killed parent, as before. SIGTERM is unblocked: the parent blocks it (see interrupts).
    """
    from bootstrap import interrupts

    interrupts.unblock_in_child()
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1  # <linux/prctl.h>
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(143)


def _start_child_load(options: dict, show_progress: bool) -> subprocess.Popen:
    # this package importable whatever the working directory (paths in options are absolute)
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    parent = os.getpid()
    import ctypes  # noqa: F401 - imported here, so that the forked child finds it loaded

    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, json.dumps(options), "1" if show_progress else "0"],
        env={**os.environ, "PYTHONPATH": path},
        stdout=subprocess.PIPE,
        text=True,
        # (the only other thread then waits in sigwait, holding no lock the child needs)
        preexec_fn=lambda: _die_with_parent(parent),
    )


def _finish_child_load(child: subprocess.Popen) -> loader.LoadSummary:
    from bootstrap import loader

    out, _ = child.communicate()
    if child.returncode in _INTERRUPTED:
        raise KeyboardInterrupt
    try:
        answer = json.loads(out.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise PipelineError(
            f"the load stopped (exit status {child.returncode}; see its output above)"
        ) from None
    if "error" in answer:
        raise loader.LoadError(answer["error"])
    if "failure" in answer:
        raise PipelineError(f"the load failed: {answer['failure']}")
    return loader.LoadSummary(**answer)


def _release_duckdb() -> None:
    """Close the DuckDB file dbt-duckdb keeps open in the process after an invocation, so that
    other programs (a `dbt show`, the DuckDB shell) can open it between cycles. dbt-duckdb
    holds it in a class attribute; it opens the file again on the next invocation."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # another adapter: nothing kept open here
        return
    lock = getattr(DuckDBConnectionManager, "_LOCK", None)
    if lock is None or not hasattr(DuckDBConnectionManager, "_ENV"):
        return  # another dbt-duckdb than the pinned one: it keeps the file open, nothing worse
    with lock:
        environment = DuckDBConnectionManager._ENV
        if environment is not None:
            DuckDBConnectionManager._ENV = None
            environment.close()


def _utc_now() -> dt.datetime:
    """The loader's clock: loaded_at is UTC without a zone."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def project_signature(project_dir: Path = REPO) -> tuple:
    """Names, sizes and modification times of the files dbt parses."""
    entries = []
    for name in _PROJECT_FILES:
        path = project_dir / name
        if path.exists():
            st = path.stat()
            entries.append((name, st.st_size, st.st_mtime_ns))
    for folder in _PROJECT_DIRS:
        for path in sorted((project_dir / folder).rglob("*")):
            # tests/python holds pytest's files, which dbt does not read
            if path.suffix == ".py" and folder != "models":
                continue
            if path.suffix in _PROJECT_SUFFIXES and path.is_file():
                st = path.stat()
                entries.append((str(path.relative_to(project_dir)), st.st_size, st.st_mtime_ns))
    return tuple(entries)


class Pipeline:
    """Load `source` into `database` and build the dbt project on it, once per `cycle()`.

    `dbt_options` are added to every dbt invocation (e.g. `--target-path`); `build_args` is the
    dbt command of a cycle. `more_cycles` says whether later cycles follow the first (a
    schedule): only then may a first cycle leave merging row groups to them (see cycle());
    without it, a first cycle merges as DuckDB would.
    """

    def __init__(
        self,
        source: str,
        database: str,
        *,
        endpoint_url: str | None = None,
        reload_changed: bool = False,
        project_dir: Path = REPO,
        dbt_options: Sequence[str] = (),
        build_args: Sequence[str] = BUILD_ARGS,
        later_select: Sequence[str] = LATER_SELECT,
        show_progress: bool = False,
        more_cycles: bool = False,
        s3_options: dict | None = None,
    ) -> None:
        # Absolute: the loader of a first cycle runs in a child process, dbt reads the path
        # from the environment; both must mean the files the user named from where they are.
        self.source = source if source.startswith("s3://") else os.path.abspath(source)
        self.database = os.path.abspath(database)
        self.endpoint_url, self.reload_changed = endpoint_url, reload_changed
        # readers, listing_margin_hours, full_listing_hours (`s3logs load --help`)
        self.s3_options = dict(s3_options or {})
        self.project_dir = Path(project_dir)
        self.options = [
            "--project-dir",
            str(self.project_dir),
            "--profiles-dir",
            str(self.project_dir),
            # the DuckDB file the loader fills, whatever S3LOGS_TARGET says
            "--target",
            "local",
            *dbt_options,
        ]
        self.build_args = list(build_args)
        # After a first successful cycle, with the project unchanged, views and seeds are as
        # built: later cycles build the parse model and run the tests downstream of it and of
        # the staging view (seeds and their tests wait for a change to the project).
        self.later_select = list(later_select)
        self.show_progress = show_progress
        self.more_cycles = more_cycles
        self.cycles = 0
        # what the current cycle is doing ("load", "build"; "" between cycles), when it started
        # and what its load committed: what an interrupt message says
        self.phase = ""
        self.cycle_started = _utc_now()
        self.last_load: loader.LoadSummary | None = None
        self._manifest = None
        self._signature: tuple | None = None
        # When the last successful cycle's load ended: the next cycle's tests start there.
        self._tested_until: dt.datetime | None = None
        # Lines appended since row groups were last merged (see MERGE_ROWS and cycle()).
        self._unmerged_lines = 0
        # When a cycle last built the detection layer (time.monotonic()), or None.
        self._detected_at: float | None = None
        self.detect_every = DETECT_EVERY_SECONDS

    def interrupted_message(self) -> str:
        """What an interrupt left behind, and what to run next."""
        from bootstrap import loader

        again = "run `s3logs run` again (it loads nothing twice)"
        if self.phase == "load":
            objects, lines = loader.committed_since(self.database, self.cycle_started)
            return (
                f"cycle {self.cycles} stopped while loading: {objects} objects ({lines:,} lines)"
                f" were committed and the batch in progress was rolled back; {again}"
            )
        if self.phase == "build" and self.last_load is not None:
            load = self.last_load
            return (
                f"cycle {self.cycles} stopped during its dbt build; its load was committed "
                f"({load.objects} objects, {load.lines:,} lines); {again} or `dbt build` to "
                "build on them"
            )
        return f"{self.cycles} cycles ran; everything they loaded was committed"

    def _environment(self) -> None:
        # The `local` profile reads the DuckDB path from here; dbt reads its settings too.
        os.environ[DATABASE_ENV] = self.database
        os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")

    def _prepare(self) -> None:
        """Import dbt and parse the project."""
        from dbt.cli.main import dbtRunner

        signature = project_signature(self.project_dir)
        # no manifest.json here: the build writes it at its end anyway
        result = dbtRunner().invoke(["parse", "--quiet", "--no-write-json", *self.options])
        if isinstance(result.exception, KeyboardInterrupt):  # dbt returns it as a result
            raise KeyboardInterrupt
        if not result.success:
            raise PipelineError(
                "dbt could not parse the project"
                + (f": {result.exception}" if result.exception else " (see its output above)")
            )
        self._manifest, self._signature = result.result, signature

    def _load_options(self) -> dict:
        return {
            "source": self.source,
            "database": self.database,
            "endpoint_url": self.endpoint_url,
            "reload_changed": self.reload_changed,
            **self.s3_options,
        }

    def cycle(self) -> CycleResult:
        """Load what is new, then build. Raises PipelineError (or loader.LoadError)."""
        self._environment()
        self.cycles += 1
        self.phase, self.cycle_started, self.last_load = "load", _utc_now(), None
        interrupts.reblock()  # dbt's multiprocessing unblocks it (see interrupts.install)
        started = time.perf_counter()
        parse = self._manifest is None or project_signature(self.project_dir) != self._signature
        hold = None  # the cycle's own connection to the DuckDB file (see _hold)
        merge = False
        parse_seconds = 0.0
        try:
            if parse:
                # The loader in a child process while this one starts dbt.
                child = _start_child_load(self._load_options(), self.show_progress)
                try:
                    with interrupts.deferred(lambda: child.send_signal(signal.SIGINT)):
                        self._prepare()
                    parse_seconds = time.perf_counter() - started
                except KeyboardInterrupt:
                    child.send_signal(signal.SIGINT)  # its open batch is rolled back
                    child.communicate()
                    raise
                except BaseException:
                    child.communicate()  # a parse error waits for the load, which is not wasted
                    raise
                load = _finish_child_load(child)
                hold = _hold_for_build(self.database, load)
            else:
                hold = _hold(self.database)
                load = _load(self._load_options(), self.show_progress)
                # the loader caps DuckDB's memory (global to the instance); dbt needs more
                hold.execute("reset memory_limit")
            if self.cycles > 1:
                self._unmerged_lines += load.lines
            elif load.lines < MERGE_ROWS or not self.more_cycles:
                # What earlier processes appended is not known here: the first cycle merges, as
                # DuckDB would, unless its own load fills row groups (a backfill) and later
                # cycles follow. Such a load leaves a few part-filled row groups between full
                # ones, and merging them rewrites those (0.7 s of a 2.6 s load of 1M lines):
                # the schedule's next merge takes them.
                self._unmerged_lines = MERGE_ROWS
            if self._unmerged_lines >= MERGE_ROWS:
                # merge at this cycle's next checkpoint: an automatic one during the build
                # (the log passing 16 MB) or the close's
                hold.execute("reset max_vacuum_tasks")
                merge = True
            loaded = time.perf_counter()
            load_ended = _utc_now()
            self.phase, self.last_load = "build", load
            interrupts.reblock()

            from dbt.cli.main import dbtRunner

            args = [*self.build_args, *self.options]
            detect = True
            if self._tested_until is not None and not parse:
                # Only the rows loaded since the previous cycle's load need testing (see
                # macros/tests_since.sql); after a project change, everything is tested again.
                since = self._tested_until.isoformat(sep=" ")
                detect = (
                    self._detected_at is None
                    or time.monotonic() - self._detected_at >= self.detect_every
                )
                args += [
                    "--vars",
                    json.dumps({"s3logs_tests_since": since}),
                    *_with_detections(self.later_select, detect),
                ]
            detection_started = time.monotonic()
            with interrupts.dbt_build():
                result = dbtRunner(manifest=self._manifest).invoke(args)
        finally:
            try:
                _release_duckdb()
            finally:
                if hold is not None:
                    hold.close()  # the instance's last connection: DuckDB checkpoints
        # A build that failed may have written nothing after the load: no checkpoint, no
        # merge; the next cycle merges then.
        merged = merge and result.success
        if merged:
            self._unmerged_lines = 0
        # dbt returns the interrupt as a result; one that code in dbt caught and swallowed
        # still interrupted the command
        if isinstance(result.exception, KeyboardInterrupt) or interrupts.received is not None:
            raise KeyboardInterrupt
        self.phase = ""
        ended = time.perf_counter()
        cycle = CycleResult(
            number=self.cycles,
            load=load,
            success=result.success,
            parsed=parse,
            load_seconds=loaded - started,
            parse_seconds=parse_seconds,
            dbt_seconds=ended - loaded,
            seconds=ended - started,
            merged=merged,
        )
        results = getattr(result.result, "results", None) or []
        for node in results:
            status = str(node.status)
            cycle.statuses[status] = cycle.statuses.get(status, 0) + 1
            cycle.nodes[node.node.unique_id] = float(node.execution_time or 0.0)
            if status in ("error", "fail"):
                cycle.failures.append(f"{node.node.unique_id}: {node.message}")
            elif status == "warn":
                cycle.warnings.append(f"{node.node.name}: {node.message}")
        if result.exception is not None and not results:
            cycle.failures.append(f"dbt: {result.exception}")
        # After a failure, the next cycle tests every row again.
        self._tested_until = load_ended if cycle.success else None
        if detect and cycle.success:
            self._detected_at = detection_started
        return cycle


def _with_detections(later_select: Sequence[str], detect: bool) -> list[str]:
    """The selection of a later cycle with the detection layer selected (`detect`), or left
    out, tests included (they would test the tables the cycle did not rebuild)."""
    args = list(later_select)
    flag = "--select" if detect else "--exclude"
    if flag in args:
        args.insert(args.index(flag) + 1, DETECTIONS_TAG)
    else:
        args += [flag, DETECTIONS_TAG]
    return args


@click.command("run")
@source_options("DuckDB file to load into and build on (created if missing).")
@listing_options()
@click.option(
    "--every",
    type=click.FloatRange(min=1),
    metavar="SECONDS",
    help="Start a cycle every SECONDS (the next one right away if a cycle took longer), "
    "until interrupted.",
)
@click.option(
    "--cycles",
    type=click.IntRange(min=1),
    help="With --every: stop after this many cycles.",
)
def run(
    source: str,
    database: str,
    endpoint_url: str | None,
    reload_changed: bool,
    keep_going: bool,
    every: float | None,
    cycles: int | None,
    **s3_options: float,
) -> None:
    """Load new log objects from SOURCE, then `dbt build` the project on them, in one process.

    What `s3logs load SOURCE` followed by `dbt build --exclude-resource-type unit_test` does,
    faster: dbt starts while the loader works. SOURCE, --database, --endpoint-url,
    --reload-changed and the S3 reading options mean what they mean for `s3logs load` (see
    `s3logs load --help`).

    With --every, a schedule in one process (the local stand-in for Snowpipe plus a scheduled
    `dbt build`): dbt stays loaded and the project is parsed again only when one of its files
    changed. Once the lines loaded since the last merge fill a DuckDB row group (122,880), a
    cycle also merges the small row groups the cycles before it appended, and takes longer.
    A failing cycle is reported and the next one runs; Ctrl-C stops.

    Exit status: 0 when the last cycle built without error, 1 when it failed (failed nodes
    are listed), 2 for a wrong option, 3 when its build passed but some objects could not be
    read (--keep-going: 0), 130 when interrupted (Ctrl-C), 143 when terminated (SIGTERM): an
    interrupted load leaves no part of a batch behind, and the next run loads it again.
    """
    if cycles is not None and every is None:
        raise click.UsageError("--cycles needs --every")
    interrupts.install()
    from bootstrap.loader import EXIT_FAILED_OBJECTS, LoadError, failed_objects_message

    pipeline = Pipeline(
        source,
        database,
        endpoint_url=endpoint_url,
        reload_changed=reload_changed,
        show_progress=True,
        more_cycles=every is not None and cycles != 1,
        s3_options=s3_options,
    )
    ok = False
    failed_objects = False
    try:
        while True:
            started = time.monotonic()
            try:
                result = pipeline.cycle()
            except (LoadError, PipelineError) as exc:
                if every is None:
                    raise click.ClickException(str(exc)) from exc
                click.echo(f"error: cycle {pipeline.cycles}: {exc}", err=True)
                ok = False
            else:
                click.echo(result.load.describe(), err=True)  # what `s3logs load` prints
                click.echo(result.describe(), err=True)
                ok = result.success
                failed_objects = result.load.failed > 0
                if failed_objects:
                    click.echo(failed_objects_message(result.load, keep_going), err=True)
            if every is None or (cycles is not None and pipeline.cycles >= cycles):
                break
            time.sleep(max(0.0, started + every - time.monotonic()))
    except BaseException as exc:
        if not interrupts.interrupted(exc):
            raise
        interrupts.stop(pipeline.interrupted_message())
    if not ok:
        sys.exit(1)
    if failed_objects and not keep_going:
        sys.exit(EXIT_FAILED_OBJECTS)
