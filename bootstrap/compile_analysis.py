"""`s3logs compile-analysis`: an analysis as Snowflake SQL, without a Snowflake account.

`dbt compile --target snowflake` needs credentials, because dbt-snowflake opens a connection
before it renders anything. A responder who wants the Snowflake SQL of an investigation, to
paste into a worksheet, often has a worksheet and no service credentials at hand. This command
starts fakesnow's server (a stand-in that speaks Snowflake's HTTP protocol) on loopback for the
length of one `dbt compile` against the project's `snowflake_fake` target, and prints the
compiled SQL. dbt renders the analysis exactly as for Snowflake (the `snowflake__` macros,
Snowflake's type names and string escapes); nothing leaves the machine and no query runs. The
names in the SQL are `<database>.<schema>.<model>`, from `--database` and `--schema` (by
default $SNOWFLAKE_DATABASE and $SNOWFLAKE_SCHEMA, as the `snowflake` target reads them).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import click

STARTUP_SECONDS = 30


@contextlib.contextmanager
def fakesnow_server() -> Iterator[int]:
    """fakesnow's server on a free loopback port for the length of the block: its port.

    Started here with uvicorn rather than with `fakesnow.server()`, which can run only once per
    process (importing its submodule `fakesnow.server` shadows the function).
    """
    import uvicorn

    with warnings.catch_warnings():  # the connector's notes about its vendored packages
        warnings.simplefilter("ignore")
        app = importlib.import_module("fakesnow.server").app
    logging.getLogger("fakesnow.server").setLevel(logging.WARNING)  # one line per login
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="fakesnow", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while thread.is_alive() and not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        raise click.ClickException("could not start the local Snowflake stand-in (fakesnow)")
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _dbt() -> str:
    """The dbt of this environment (beside the running Python), else the one on PATH."""
    beside = Path(sys.executable).with_name("dbt")
    return str(beside) if beside.exists() else "dbt"


def _dbt_error(output: str) -> str:
    """dbt's error message: its output from the line that announces the error on."""
    lines = [line.rstrip() for line in output.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if "Encountered an error" in line or "Compilation Error" in line:
            return "\n".join(lines[i:])
    return "\n".join(lines[-12:])


def compile_analysis(
    name: str,
    dbt_vars: str | None,
    project_dir: Path,
    profiles_dir: Path,
    database: str,
    schema: str,
) -> str:
    """The Snowflake SQL of analysis `name`, compiled offline; ClickException on failure."""
    if not (project_dir / "dbt_project.yml").is_file():
        raise click.ClickException(
            f"{project_dir} holds no dbt_project.yml: run this from the project folder, or "
            "pass --project-dir"
        )
    analyses = sorted(p.stem for p in (project_dir / "analyses").glob("*.sql"))
    if name not in analyses:
        raise click.UsageError(f"no analysis named {name!r}; analyses: {', '.join(analyses)}")
    scratch_dir = tempfile.TemporaryDirectory(prefix="s3logs-compile-")
    with scratch_dir as scratch, fakesnow_server() as port:
        args = [
            _dbt(), "compile", "--target", "snowflake_fake", "--select", name,
            "--project-dir", str(project_dir), "--profiles-dir", str(profiles_dir),
            "--target-path", str(Path(scratch) / "target"), "--log-path", scratch,
        ]  # fmt: skip
        if dbt_vars:
            args += ["--vars", dbt_vars]
        env = {
            **os.environ,
            "S3LOGS_FAKESNOW_PORT": str(port),
            "S3LOGS_FAKESNOW_DATABASE": database,
            "S3LOGS_FAKESNOW_SCHEMA": schema,
        }
        env.pop("S3LOGS_TARGET", None)
        done = subprocess.run(args, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise click.ClickException(
                f"dbt could not compile {name}:\n{_dbt_error(done.stdout + done.stderr)}"
            )
        compiled = list((Path(scratch) / "target" / "compiled").rglob(f"analyses/{name}.sql"))
        if len(compiled) != 1:
            raise click.ClickException(f"dbt compiled no SQL for {name}:\n{done.stdout[-2000:]}")
        return compiled[0].read_text()


@click.command("compile-analysis")
@click.argument("name")
@click.option(
    "--vars",
    "dbt_vars",
    metavar="YAML",
    help="The analysis's vars, as dbt --vars takes them: '{start_at: \"2026-03-03\"}'.",
)
@click.option(
    "--database",
    envvar="SNOWFLAKE_DATABASE",
    default="security",
    show_default=True,
    help="Database the models live in (default: $SNOWFLAKE_DATABASE when set).",
)
@click.option(
    "--schema",
    envvar="SNOWFLAKE_SCHEMA",
    default="S3LOGS",
    show_default=True,
    help="Schema the models live in (default: $SNOWFLAKE_SCHEMA when set).",
)
@click.option(
    "--project-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="The dbt project.",
)
@click.option(
    "--profiles-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of the profiles.yml with the snowflake_fake target (default: the project's).",
)
def compile_analysis_cmd(
    name: str,
    dbt_vars: str | None,
    database: str,
    schema: str,
    project_dir: Path,
    profiles_dir: Path | None,
) -> None:
    """Print the Snowflake SQL of analysis NAME, compiled offline (no account, no credentials).

    dbt compiles NAME for Snowflake against fakesnow, a local stand-in for Snowflake started
    for the length of the command; the SQL goes to stdout, ready to paste into a worksheet:

        s3logs compile-analysis ir_delete_bursts --vars '{min_deletes: 500}' > bursts.sql

    A var of the wrong kind stops with the message of its check and exit code 1; an unknown
    NAME lists the analyses (exit code 2).
    """
    project_dir = project_dir.resolve()
    click.echo(
        f"compiling {name} for Snowflake offline ({database}.{schema}); SQL on stdout",
        err=True,
    )
    sql = compile_analysis(
        name, dbt_vars, project_dir, (profiles_dir or project_dir).resolve(), database, schema
    )
    click.echo(sql.rstrip("\n"))
