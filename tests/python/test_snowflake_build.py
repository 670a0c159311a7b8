"""The dbt project on Snowflake as a real account would run it, as far as fakesnow shows it.

`dbt build --target snowflake_fake` runs against fakesnow's server (a real dbt-snowflake
connection on loopback) while every statement dbt sends is recorded. fakesnow cannot run a
Python UDTF: its `create function … language python` is answered as a success and recorded,
and the statements that call the UDTF then fail in fakesnow. What these tests read is what dbt
sent and in which order, and what it compiled; Snowflake behaviour that fakesnow does not
reproduce is cited from Snowflake's documentation next to the test that relies on it.

Database and schema are lower- and mixed-case here (`security`, `S3Logs`), as users write them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from conftest import DbtProject, copy_project
from sqlglot import exp

DATABASE, SCHEMA = "security", "S3Logs"
UDTF = "s3logs_parse_access_log"
_PYTHON_FUNCTION = re.compile(
    r"\s*create\s+or\s+replace\s+function\b.*\blanguage\s+python\b", re.I | re.S
)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch, fakesnow_kwargs: dict[str, Any]) -> list[str]:
    """Every statement fakesnow's server receives during the test, in order."""
    import fakesnow.cursor

    statements: list[str] = []
    execute = fakesnow.cursor.FakeSnowflakeCursor.execute

    def recording_execute(self: Any, command: str, *args: Any, **kwargs: Any) -> Any:
        statements.append(command)
        if _PYTHON_FUNCTION.match(command):
            return execute(self, "select 'Function created.' as status", *args, **kwargs)
        return execute(self, command, *args, **kwargs)

    monkeypatch.setattr(fakesnow.cursor.FakeSnowflakeCursor, "execute", recording_execute)
    return statements


def _project(base: Path, fakesnow_kwargs: dict[str, Any], schema: str) -> DbtProject:
    project = copy_project(base)
    project.env = {
        "S3LOGS_FAKESNOW_PORT": str(fakesnow_kwargs["port"]),
        "S3LOGS_FAKESNOW_DATABASE": DATABASE,
        "S3LOGS_FAKESNOW_SCHEMA": schema,
    }
    return project


def _create_raw_table(fakesnow_kwargs: dict[str, Any], schema: str) -> None:
    import snowflake.connector

    with snowflake.connector.connect(**fakesnow_kwargs, database=DATABASE, schema=schema) as con:
        con.cursor().execute(
            "create table if not exists s3_access_logs_raw (raw varchar, file_name varchar,"
            " file_row_number number(38, 0), file_last_modified timestamp_ntz,"
            " loaded_at timestamp_ltz)"
        )


@pytest.fixture
def project(
    tmp_path: Path, fakesnow_kwargs: dict[str, Any], request: pytest.FixtureRequest
) -> Iterator[DbtProject]:
    # a schema of its own per test: fakesnow keeps its databases for the whole session
    schema = f"{SCHEMA}_{re.sub(r'[^A-Za-z0-9]', '', request.node.name)[-30:]}"
    _create_raw_table(fakesnow_kwargs, schema)
    yield _project(tmp_path / "project", fakesnow_kwargs, schema)


def _resolved(table: exp.Table) -> tuple[str, str, str]:
    """(database, schema, name) as Snowflake resolves them: unquoted parts upper-case."""
    parts = [table.args.get("catalog"), table.args.get("db"), table.this]
    return tuple(p.name if p.args.get("quoted") else p.name.upper() for p in parts)  # type: ignore[return-value]


def _udtf_name(statement: str) -> tuple[str, str, str]:
    name = re.match(r"\s*create\s+or\s+replace\s+function\s+([^\s(]+)", statement, re.I).group(1)
    return _resolved(sqlglot.to_table(name, dialect="snowflake"))


def test_udtf_is_created_before_the_unit_tests_and_the_model_call_it(
    project: DbtProject, recorded: list[str]
) -> None:
    # dbt runs a model's unit tests before the model, and runs the model's hooks for neither:
    # a pre-hook left the unit tests of a new schema calling a function that did not exist
    # ("Unknown user-defined table function"), and every later node was skipped.
    project.dbt(
        "build", "--target", "snowflake_fake", "-s", "int_s3_access_logs__parsed", check=False
    )
    created = [i for i, sql in enumerate(recorded) if _PYTHON_FUNCTION.match(sql)]
    callers = [
        i
        for i, sql in enumerate(recorded)
        if UDTF in sql.lower() and not _PYTHON_FUNCTION.match(sql)
    ]
    assert created, "no statement created the parser's UDTF"
    assert callers, "nothing called the UDTF: the unit tests did not run"
    assert created[0] < callers[0]
    # created from the parser as it is now, on every run: not the previous build's
    project.dbt("test", "--target", "snowflake_fake", "-s", "test_type:unit", check=False)
    assert len([sql for sql in recorded if _PYTHON_FUNCTION.match(sql)]) == 2


def test_udtf_lives_where_the_models_do_with_lower_and_mixed_case_names(
    project: DbtProject,
) -> None:
    # Snowflake resolves an unquoted identifier to upper case and keeps a quoted one as
    # written; dbt writes its relations unquoted. https://docs.snowflake.com/en/sql-reference/identifiers-syntax
    # (unquoted object identifiers "Are stored and resolved as uppercase characters (e.g. id is
    # stored and resolved as ID)"; with double quotes "The case of the identifier is preserved
    # when storing and resolving the identifier").
    out = project.dbt(
        "compile", "--target", "snowflake_fake", "--inline", "{{ create_parser_udtf() }}"
    ).stdout
    create = out[out.index("Compiled inline node is:") :].split("\n", 1)[1]
    project.dbt("compile", "--target", "snowflake_fake", "-s", "int_s3_access_logs__parsed")
    manifest = json.loads((project.root / "target" / "manifest.json").read_text())
    model = manifest["nodes"]["model.s3logs.int_s3_access_logs__parsed"]
    where_models_are = _resolved(sqlglot.to_table(model["relation_name"], dialect="snowflake"))[:2]
    assert where_models_are == (DATABASE.upper(), project.env["S3LOGS_FAKESNOW_SCHEMA"].upper())
    assert _udtf_name(create)[:2] == where_models_are
    compiled = next((project.root / "target" / "compiled").rglob("int_s3_access_logs__parsed.sql"))
    calls = [
        _resolved(sqlglot.to_table(name, dialect="snowflake"))
        for name in re.findall(rf"table\(([^()]*\.{UDTF})\(", compiled.read_text(), re.I)
    ]
    assert calls and all(call == _udtf_name(create) for call in calls)


def _compiled_models(project: DbtProject) -> dict[str, str]:
    project.dbt("compile", "--target", "snowflake_fake")
    return {
        path.stem: path.read_text()
        for path in (project.root / "target" / "compiled").rglob("*.sql")
        if "/models/" in str(path) or "/analyses/" in str(path)
    }


def test_every_timestamp_is_timestamp_ntz_in_utc_on_snowflake(project: DbtProject) -> None:
    # A bare TIMESTAMP is whatever the account's TIMESTAMP_TYPE_MAPPING says, TIMESTAMP_LTZ on
    # some accounts: https://docs.snowflake.com/sql-reference/data-types-datetime ("TIMESTAMP
    # in Snowflake is a user-specified alias associated with one of the TIMESTAMP_*
    # variations"), and an LTZ value's "operations are performed in the current session's
    # time zone controlled by the TIMEZONE session parameter".
    # The pipe fills loaded_at from METADATA$START_SCAN_TIME, a TIMESTAMP_LTZ; casting an LTZ
    # value to NTZ keeps its wall-clock time in the session's time zone, so it is converted
    # to UTC first: https://docs.snowflake.com/en/sql-reference/functions/convert_timezone
    # (two-argument form: "If the value is of type TIMESTAMP_TZ, the time zone is taken from
    # its value. Otherwise, the current session time zone is used", which for an LTZ value,
    # an instant shown in the session's zone, gives that instant's UTC time).
    compiled = _compiled_models(project)
    for name, sql in compiled.items():
        for statement in sqlglot.parse(sql, read="snowflake"):
            for cast in statement.find_all(exp.Cast):
                assert cast.to.this != exp.DataType.Type.TIMESTAMP, (name, cast.sql("snowflake"))
            assert not list(statement.find_all(exp.CurrentTimestamp)), name
    staging = sqlglot.parse_one(compiled["stg_s3logs__raw_lines"], read="snowflake")
    loaded_at = next(e for e in staging.find_all(exp.Alias) if e.alias == "loaded_at")
    converted = loaded_at.find(exp.ConvertTimezone)
    assert converted is not None and converted.args["target_tz"].name == "UTC"
    assert loaded_at.this.to.this == exp.DataType.Type.TIMESTAMPNTZ
    # the contracts say timestamp_ntz too, so an LTZ-mapped account cannot fail them
    manifest = json.loads((project.root / "target" / "manifest.json").read_text())
    timestamp_types = {
        column["data_type"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
        for column in node["columns"].values()
        if "timestamp" in (column.get("data_type") or "")
    }
    assert timestamp_types == {"timestamp_ntz"}


def test_merge_reads_only_the_window_that_can_match(project: DbtProject) -> None:
    # dbt-snowflake puts incremental_predicates into the MERGE's ON clause, where they limit
    # the target rows the merge reads: https://docs.getdbt.com/docs/build/incremental-strategy#about-incremental_predicates
    manifest_dir = project.root / "target"
    project.dbt("parse", "--target", "snowflake_fake")
    manifest = json.loads((manifest_dir / "manifest.json").read_text())
    config = manifest["nodes"]["model.s3logs.int_s3_access_logs__parsed"]["config"]
    assert config["transient"] is True  # rebuilt from the raw table by a full refresh
    (predicate,) = config["incremental_predicates"]
    merge = project.dbt(
        "compile",
        "--target",
        "snowflake_fake",
        "--inline",
        "{%- set target = ref('int_s3_access_logs__parsed') -%}"
        "{%- set source = api.Relation.create(identifier='parsed__dbt_tmp') -%}"
        "{{ get_merge_sql(target, source, ['file_name', 'file_row_number'],"
        " [api.Column.create('file_name', 'varchar'), api.Column.create('loaded_at',"
        " 'timestamp_ntz')], [" + json.dumps(predicate) + "]) }}",
    ).stdout
    statement = merge[merge.index("merge into") :]
    parsed = sqlglot.parse_one(statement[: statement.index(";")], read="snowflake")
    on = parsed.args["on"].sql("snowflake").lower()
    window = "dbt_internal_dest.loaded_at >= (select dateadd(hour, -6, max(loaded_at)) from "
    assert window + f"{DATABASE}.{project.env['S3LOGS_FAKESNOW_SCHEMA']}.".lower() in on
    assert on.endswith(
        "int_s3_access_logs__parsed)) and (dbt_internal_source.file_name = "
        "dbt_internal_dest.file_name) and (dbt_internal_source.file_row_number = "
        "dbt_internal_dest.file_row_number)"
    )


def test_missing_raw_table_error_names_the_role_and_the_privileges(
    tmp_path: Path, fakesnow_kwargs: dict[str, Any]
) -> None:
    # Snowflake reports an object the role may not see as not existing at all, so the message
    # must name both causes: https://docs.snowflake.com/en/user-guide/security-access-control-overview
    # ("a role must have the USAGE privilege on the database and schema" to access an object).
    project = _project(tmp_path / "project", fakesnow_kwargs, f"{SCHEMA}_noraw")
    result = project.dbt("build", "--target", "snowflake_fake", check=False)
    assert result.returncode != 0
    out = " ".join(result.stdout.split())
    assert "is not visible to role" in out and "has no privilege on it" in out
    assert "GRANT SELECT ON TABLE" in out and "s3logs bootstrap apply" in out


_PROFILE_SCRIPT = """
import json, os, sys
from argparse import Namespace
from dbt.flags import set_from_args
set_from_args(Namespace(), None)
from dbt_common.context import set_invocation_context
set_invocation_context(os.environ)
import dbt.adapters.snowflake
from dbt.config.profile import Profile, read_profile
from dbt.config.renderer import ProfileRenderer
profile = Profile.from_raw_profiles(read_profile(sys.argv[1]), "s3logs", ProfileRenderer({}))
c = profile.credentials
print(json.dumps({k: getattr(c, k, None) for k in
    ("role", "password", "private_key_path", "private_key_passphrase", "database", "schema")}))
"""


def _snowflake_credentials(env: dict[str, str]) -> dict[str, Any]:
    base = {
        k: v
        for k, v in __import__("os").environ.items()
        if not k.startswith(("SNOWFLAKE_", "S3LOGS_"))
    }
    base.update(
        S3LOGS_TARGET="snowflake",
        SNOWFLAKE_ACCOUNT="xy12345",
        SNOWFLAKE_USER="dbt",
        SNOWFLAKE_WAREHOUSE="transforming",
        SNOWFLAKE_DATABASE="security",
        **env,
    )
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", _PROFILE_SCRIPT, str(repo)],
        env=base,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_profile_leaves_unset_settings_out_and_passes_the_key_passphrase() -> None:
    with_password = _snowflake_credentials({"SNOWFLAKE_PASSWORD": "pw"})
    # an unset role must not reach the connector as an empty role name
    assert with_password["role"] is None
    assert with_password["private_key_path"] is None
    assert with_password["private_key_passphrase"] is None
    with_key = _snowflake_credentials(
        {
            "SNOWFLAKE_PRIVATE_KEY_PATH": "/keys/dbt.p8",
            "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE": "s3cret",
            "SNOWFLAKE_ROLE": "transformer",
        }
    )
    assert with_key["private_key_passphrase"] == "s3cret"
    assert with_key["password"] is None
    assert with_key["role"] == "transformer"


def test_bootstrap_and_dbt_name_the_same_objects(
    tmp_path: Path, fakesnow_kwargs: dict[str, Any]
) -> None:
    """One naming rule: the raw table bootstrap creates is the source dbt reads, and the UDTF
    dbt creates lives in the schema bootstrap set up, with lower- and mixed-case names."""
    import tomllib

    from bootstrap.cloud.config import parse_config

    repo = Path(__file__).resolve().parents[2]
    data = tomllib.loads((repo / "bootstrap.example.toml").read_text())
    data["snowflake"].update(database=DATABASE, schema=SCHEMA)
    sf = parse_config(data).snowflake
    created = _resolved(sqlglot.to_table(sf.qualified(sf.raw_table), dialect="snowflake"))

    project = _project(tmp_path / "project", fakesnow_kwargs, SCHEMA)
    project.dbt("parse", "--target", "snowflake_fake")
    manifest = json.loads((project.root / "target" / "manifest.json").read_text())
    source = manifest["sources"]["source.s3logs.s3logs.s3_access_logs_raw"]
    read = _resolved(sqlglot.to_table(source["relation_name"], dialect="snowflake"))
    assert read == created == ("SECURITY", "S3LOGS", "S3_ACCESS_LOGS_RAW")
    out = project.dbt(
        "compile", "--target", "snowflake_fake", "--inline", "{{ create_parser_udtf() }}"
    ).stdout
    assert _udtf_name(out[out.index("Compiled inline node is:") :].split("\n", 1)[1])[:2] == (
        "SECURITY",
        "S3LOGS",
    )


def test_unit_test_load_times_are_utc_instants(project: DbtProject) -> None:
    # dbt casts each fixture value of a source to the source column's type, and the raw
    # table's loaded_at is TIMESTAMP_LTZ on Snowflake: a value without an offset would be read
    # in the session's time zone (America/Los_Angeles by default), which the staging SQL then
    # converts to UTC, shifting every load time of the unit tests by hours. "TIMESTAMP_LTZ
    # internally stores UTC values ... All operations are performed in the current session's
    # time zone": https://docs.snowflake.com/sql-reference/data-types-datetime
    # So the parse model's unit tests feed the staging view (UTC already, as SQL), or the raw
    # source with an explicit offset.
    project.dbt("parse", "--target", "snowflake_fake")
    manifest = json.loads((project.root / "target" / "manifest.json").read_text())
    fixtures = [
        fixture
        for test in manifest["unit_tests"].values()
        if test["model"] == "int_s3_access_logs__parsed"
        for fixture in test["given"]
        if fixture["input"] != "this"
    ]
    assert fixtures
    for fixture in fixtures:
        if fixture["input"].startswith("source("):
            assert all(str(row["loaded_at"]).endswith("+00:00") for row in fixture["rows"])
        else:
            assert fixture["input"] == "ref('stg_s3logs__raw_lines')", fixture["input"]


def test_a_table_where_the_quickstart_view_goes_is_kept_and_the_build_stops(
    project: DbtProject, fakesnow_kwargs: dict[str, Any]
) -> None:
    # The quickstart's own table of parsed logs is named s3_access_logs: a build before
    # `s3logs bootstrap apply` adopted it would drop it to put the view there.
    import snowflake.connector

    schema = project.env["S3LOGS_FAKESNOW_SCHEMA"]
    with snowflake.connector.connect(**fakesnow_kwargs, database=DATABASE, schema=schema) as con:
        con.cursor().execute("create table s3_access_logs (bucketowner varchar, requestid varchar)")
        con.cursor().execute("insert into s3_access_logs values ('o', 'r1'), ('o', 'r2')")
    result = project.dbt(
        "run", "--target", "snowflake_fake", "-s", "s3_access_logs_quickstart", check=False
    )
    assert result.returncode != 0
    assert "s3_access_logs_quickstart_archive" in " ".join(result.stdout.split())
    with snowflake.connector.connect(**fakesnow_kwargs, database=DATABASE, schema=schema) as con:
        rows = con.cursor().execute("select count(*) from s3_access_logs").fetchall()
    assert rows == [(2,)]


def test_source_freshness_does_not_replace_the_udtf(
    project: DbtProject, recorded: list[str]
) -> None:
    # on-run-start hooks run for `dbt source freshness` too, whose role may not create
    # functions, and which must not replace the function under a build running meanwhile
    project.dbt("source", "freshness", "--target", "snowflake_fake", check=False)
    assert recorded, "freshness sent nothing: the test did not run"
    assert not [sql for sql in recorded if _PYTHON_FUNCTION.match(sql)]


def test_bootstrap_example_schema_is_the_one_dbt_uses_by_default() -> None:
    # README: `s3logs bootstrap apply` with the example config, then
    # `S3LOGS_TARGET=snowflake dbt build` with SNOWFLAKE_SCHEMA unset must meet at one schema
    import tomllib

    from bootstrap.cloud.config import parse_config

    repo = Path(__file__).resolve().parents[2]
    example = parse_config(tomllib.loads((repo / "bootstrap.example.toml").read_text()))
    profile = _snowflake_credentials({"SNOWFLAKE_PASSWORD": "pw"})
    assert profile["schema"].upper() == example.snowflake.schema
