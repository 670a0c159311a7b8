"""Adopting a quickstart deployment (issue 12, item B), with the tables in fakesnow: the raw
table is created from the staging table with stable unique keys and UTC times, the quickstart's
tables are renamed aside and kept, every step resumes from what it finds, and a second apply
changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from bootstrap_fixtures import (
    Deployment,
    RecordingSnowflake,
    base_config,
    make_config,
    writes,
)

from bootstrap.cloud import plan
from bootstrap.cloud.config import load_config
from bootstrap.cloud.names import ValidationError
from bootstrap.cloud.snowflake import SnowflakeSetupError

pytest_plugins = ["bootstrap_fixtures"]


# The quickstart's staging rows: (raw, timestamp). Its pipe stored CURRENT_TIMESTAMP() cast to
# TIMESTAMP_NTZ, i.e. the wall clock of the time zone it ran in. Two identical rows (a file
# delivered twice) and a NULL line (the quickstart's format read \N as NULL) must survive too.
STAGING_ROWS = [
    ("owner corp-data [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - REQ1", "2026-01-01 10:00:00"),
    ("owner corp-data [06/Feb/2019:00:01:02 +0000] 192.0.2.4 - REQ2", "2026-01-02 11:30:00"),
    ("owner corp-data [06/Feb/2019:00:01:02 +0000] 192.0.2.4 - REQ2", "2026-01-02 11:30:00"),
    ("owner corp-data [06/Feb/2019:00:02:10 +0000] 192.0.2.5 - REQ3", "2026-01-03 12:45:00"),
    (None, "2026-01-03 12:45:00"),
]
ADOPTED = "quickstart-adopted/S3_ACCESS_LOGS_STAGING"


def _make_quickstart(dep: Deployment, rows: list[tuple[str | None, str]] = STAGING_ROWS) -> None:
    """The quickstart's own SQL, unquoted, as users ran it by hand."""
    sf = dep.config.snowflake
    fs = dep.connection.fakesnow
    fs.execute(f"USE SCHEMA {sf.schema_sql}")
    fs.execute("create table s3_access_logs_staging(raw TEXT, timestamp DATETIME)")
    for raw, loaded in rows:
        value = "NULL" if raw is None else f"'{raw}'"
        fs.execute(f"insert into s3_access_logs_staging values ({value}, '{loaded}')")
    fs.execute("create table s3_access_logs(bucketowner STRING, bucket_name STRING, key STRING)")
    fs.execute("insert into s3_access_logs values ('owner', 'corp-data', 'a/b')")
    dep.double.add_quickstart(sf.database, sf.schema)


def _rows(dep: Deployment, table: str) -> list[dict[str, Any]]:
    sf = dep.config.snowflake
    return dep.connection.fakesnow.execute(f"SELECT * FROM {sf.qualified(table)}")


@pytest.fixture
def quickstart(deployment: Deployment) -> Deployment:
    _make_quickstart(deployment)
    return deployment


def test_adopted_rows_have_unique_keys_and_none_is_lost(quickstart: Deployment) -> None:
    sf = quickstart.config.snowflake

    quickstart.apply()

    raw = _rows(quickstart, sf.raw_table)
    assert sorted((r["raw"] or "") for r in raw) == sorted((r or "") for r, _ in STAGING_ROWS)
    keys = [(r["file_name"], r["file_row_number"]) for r in raw]
    assert all(name == ADOPTED and number is not None for name, number in keys)
    assert sorted(number for _, number in keys) == list(range(1, len(STAGING_ROWS) + 1))
    # numbered in load order ("TIMESTAMP", then raw)
    first = min(raw, key=lambda r: r["file_row_number"])
    assert first["raw"] == STAGING_ROWS[0][0]
    creates = [s for s in quickstart.connection.statements if s.startswith("CREATE TABLE")]
    assert creates == [plan.adopt_quickstart_sql(sf, "America/Los_Angeles")]


def test_adopted_times_are_converted_from_the_account_time_zone_to_utc(
    quickstart: Deployment,
) -> None:
    # The account's TIMEZONE parameter (SHOW PARAMETERS ... IN ACCOUNT: columns key, value,
    # default, level) takes IANA names: https://docs.snowflake.com/en/sql-reference/parameters
    # ("TIMEZONE ... You can specify a time zone name or a link name from release 2021a of the
    # IANA Time Zone Database (e.g. America/Los_Angeles, Europe/London, UTC, Etc/GMT, etc.)").
    quickstart.double.account_timezone = "Asia/Tokyo"
    sf = quickstart.config.snowflake

    quickstart.apply()

    raw = sorted(_rows(quickstart, sf.raw_table), key=lambda r: r["file_row_number"])
    assert [r["loaded_at"].strftime("%Y-%m-%d %H:%M") for r in raw][:2] == [
        "2026-01-01 01:00",  # 10:00 in Tokyo (UTC+9)
        "2026-01-02 02:30",
    ]
    assert raw[0]["loaded_at"].utcoffset().total_seconds() == 0
    assert raw[0]["file_last_modified"].isoformat() == "2026-01-01T01:00:00"
    assert plan.show_account_timezone_sql() in quickstart.connection.statements


def test_configured_quickstart_time_zone_wins_over_the_account(
    moto: str, fakesnow_connection: Any, snowflake_double: RecordingSnowflake
) -> None:
    dep = Deployment(
        moto,
        fakesnow_connection,
        snowflake_double,
        snowflake={"quickstart": {"timezone": "Europe/Paris"}},
    )
    dep.create_buckets()
    _make_quickstart(dep)

    dep.apply()

    raw = sorted(_rows(dep, dep.config.snowflake.raw_table), key=lambda r: r["file_row_number"])
    assert raw[0]["loaded_at"].strftime("%H:%M") == "09:00"  # 10:00 in Paris (UTC+1)
    assert plan.show_account_timezone_sql() not in dep.connection.statements


def test_an_account_time_zone_that_is_not_an_iana_name_is_refused_before_any_change(
    quickstart: Deployment,
) -> None:
    quickstart.double.account_timezone = "GMT+8; DROP"

    with pytest.raises(SnowflakeSetupError, match=r"set \[snowflake.quickstart\] timezone"):
        quickstart.apply()

    assert writes(quickstart.connection.statements) == []


@pytest.mark.parametrize("zone", ["Not a zone", "Europe/", "../etc/passwd", "+08:00", ""])
def test_configured_time_zone_must_look_like_an_iana_name(zone: str) -> None:
    with pytest.raises(ValidationError, match=r"quickstart\.timezone: .*(IANA|empty)"):
        make_config(base_config(snowflake={"quickstart": {"timezone": zone}}))


@pytest.mark.parametrize("zone", ["UTC", "America/Argentina/Buenos_Aires", "Etc/GMT+8"])
def test_iana_time_zone_names_are_accepted(zone: str) -> None:
    config = make_config(base_config(snowflake={"quickstart": {"timezone": zone}}))
    assert config.snowflake.quickstart.timezone == zone


def test_raw_table_must_not_take_a_quickstart_table_name() -> None:
    with pytest.raises(ValidationError, match=r"snowflake\.raw_table: must differ"):
        make_config(base_config(snowflake={"raw_table": "s3_access_logs_staging"}))


def test_quickstart_tables_are_renamed_aside_and_kept(quickstart: Deployment) -> None:
    sf = quickstart.config.snowflake

    quickstart.apply()

    types = quickstart.sf.table_types(["S3_ACCESS_LOGS_STAGING", "S3_ACCESS_LOGS", *_archives()])
    assert types == {name: "BASE TABLE" for name in _archives()}
    assert len(_rows(quickstart, "S3_ACCESS_LOGS_STAGING_QUICKSTART_ARCHIVE")) == len(STAGING_ROWS)
    assert len(_rows(quickstart, "S3_ACCESS_LOGS_QUICKSTART_ARCHIVE")) == 1
    assert not [s for s in quickstart.connection.statements if s.startswith("DROP TABLE")]
    assert [key[2] for key in quickstart.double.pipes] == [sf.pipe]  # quickstart pipe replaced
    said = "\n".join(quickstart.log)
    assert "converted from America/Los_Angeles to UTC" in said
    assert "S3_ACCESS_LOGS_QUICKSTART_ARCHIVE" in said


def _archives() -> list[str]:
    return ["S3_ACCESS_LOGS_STAGING_QUICKSTART_ARCHIVE", "S3_ACCESS_LOGS_QUICKSTART_ARCHIVE"]


def test_second_apply_after_adoption_changes_nothing_even_beside_dbts_view(
    quickstart: Deployment,
) -> None:
    sf = quickstart.config.snowflake
    quickstart.apply()
    # what the dbt project then creates under the parsed table's old name
    quickstart.connection.fakesnow.execute(
        f"CREATE VIEW {sf.qualified('S3_ACCESS_LOGS')} AS "
        f"SELECT raw FROM {sf.qualified(sf.raw_table)}"
    )
    rows_before = sorted(str(r) for r in _rows(quickstart, sf.raw_table))
    before = len(quickstart.connection.statements)

    second = quickstart.apply()

    assert [r for r in second if r.changed] == []
    later = writes(quickstart.connection.statements[before:])
    assert [s for s in later if "REFRESH" not in s] == []
    assert sorted(str(r) for r in _rows(quickstart, sf.raw_table)) == rows_before


def test_adoption_interrupted_before_the_renames_resumes_with_the_renames_only(
    quickstart: Deployment,
) -> None:
    sf = quickstart.config.snowflake
    # the first apply created the raw table, then stopped
    quickstart.connection.fakesnow.execute(plan.adopt_quickstart_sql(sf, "America/Los_Angeles"))

    quickstart.apply()

    assert not [s for s in quickstart.connection.statements if s.startswith("CREATE TABLE")]
    renames = [s for s in quickstart.connection.statements if " RENAME TO " in s]
    assert renames == [
        plan.rename_table_sql(sf, "S3_ACCESS_LOGS_STAGING", _archives()[0]),
        plan.rename_table_sql(sf, "S3_ACCESS_LOGS", _archives()[1]),
    ]
    assert len(_rows(quickstart, sf.raw_table)) == len(STAGING_ROWS)
    assert "an earlier apply stopped before renaming" in "\n".join(quickstart.log)


def test_adoption_interrupted_between_the_renames_renames_the_parsed_table(
    quickstart: Deployment,
) -> None:
    sf = quickstart.config.snowflake
    fs = quickstart.connection.fakesnow
    fs.execute(plan.adopt_quickstart_sql(sf, "America/Los_Angeles"))
    fs.execute(plan.rename_table_sql(sf, "S3_ACCESS_LOGS_STAGING", _archives()[0]))

    quickstart.apply()

    renames = [s for s in quickstart.connection.statements if " RENAME TO " in s]
    assert renames == [plan.rename_table_sql(sf, "S3_ACCESS_LOGS", _archives()[1])]
    assert len(_rows(quickstart, sf.raw_table)) == len(STAGING_ROWS)


def test_raw_table_with_other_rows_beside_the_staging_table_is_refused(
    quickstart: Deployment,
) -> None:
    sf = quickstart.config.snowflake
    fs = quickstart.connection.fakesnow
    fs.execute(plan.adopt_quickstart_sql(sf, "America/Los_Angeles"))
    fs.execute(
        f"INSERT INTO {sf.qualified(sf.raw_table)} (raw, file_name, file_row_number) "
        "VALUES ('x', 'corp-data/2026-01-05-00-00-00-AAAA', 1)"
    )

    with pytest.raises(SnowflakeSetupError, match="apply will not merge them") as exc:
        quickstart.apply()

    assert "6 row(s), 5 adopted from it" in str(exc.value)
    assert writes(quickstart.connection.statements) == []


def test_an_archive_name_already_taken_is_refused_before_any_change(
    quickstart: Deployment,
) -> None:
    sf = quickstart.config.snowflake
    quickstart.connection.fakesnow.execute(
        f"CREATE TABLE {sf.qualified('S3_ACCESS_LOGS_QUICKSTART_ARCHIVE')} (x INT)"
    )

    with pytest.raises(SnowflakeSetupError, match="S3_ACCESS_LOGS_QUICKSTART_ARCHIVE"):
        quickstart.apply()

    assert writes(quickstart.connection.statements) == []


def test_configured_parsed_table_name_is_the_one_renamed(
    moto: str, fakesnow_connection: Any, snowflake_double: RecordingSnowflake
) -> None:
    dep = Deployment(
        moto,
        fakesnow_connection,
        snowflake_double,
        snowflake={"quickstart": {"parsed_table": "parsed_logs"}},
    )
    dep.create_buckets()
    _make_quickstart(dep)
    sf = dep.config.snowflake
    dep.connection.fakesnow.execute(f"CREATE TABLE {sf.qualified('PARSED_LOGS')} (x INT)")

    dep.apply()

    types = dep.sf.table_types(["S3_ACCESS_LOGS", "PARSED_LOGS", "PARSED_LOGS_QUICKSTART_ARCHIVE"])
    assert types == {"S3_ACCESS_LOGS": "BASE TABLE", "PARSED_LOGS_QUICKSTART_ARCHIVE": "BASE TABLE"}


def test_example_config_documents_the_quickstart_keys(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "bootstrap.example.toml"
    text = example.read_text()
    assert "\n# timezone = " in text
    uncommented = tmp_path / "bootstrap.toml"
    uncommented.write_text(text.replace("\n# timezone = ", "\ntimezone = "))

    quickstart = load_config(uncommented).snowflake.quickstart

    assert quickstart.parsed_table == "S3_ACCESS_LOGS"
    assert quickstart.timezone == "America/Los_Angeles"
    assert load_config(example).snowflake.quickstart.timezone is None
