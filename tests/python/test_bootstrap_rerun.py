"""apply is safe to re-run after any failure (issue 12, item C): the refresh of files already
in the bucket does not depend on the pipe having been created by the same run.

Snowflake behaviour relied on, which no stand-in shows: "[ALTER PIPE ... REFRESH] checks the load
history for both the target table and the pipe to ensure the same files are not loaded twice"
and "An ALTER PIPE ... REFRESH statement copies a set of data files staged within the previous 7
days to the Snowpipe ingest queue" (https://docs.snowflake.com/en/user-guide/data-load-snowpipe-manage,
"Loading historic data"); the same page, "Load history": "When a pipe is recreated, the load
history is dropped." MODIFIED_AFTER takes an ISO-8601 timestamp of the oldest files to queue
(https://docs.snowflake.com/en/sql-reference/sql/alter-pipe).

So a high water more than 7 days old is before every file a refresh reaches, and a plain REFRESH
is sent (item C); a high water inside the window is sent as MODIFIED_AFTER. A replaced pipe's
rows give their high water as MAX(file_last_modified), exact whatever loaded_at the old pipe
stamped (item D): METADATA$FILE_LAST_MODIFIED is "Last modified timestamp of the staged data file
the current row belongs to. Returned as TIMESTAMP_NTZ."
(https://docs.snowflake.com/en/user-guide/querying-metadata), while an older bootstrap's pipe
stamped CURRENT_TIMESTAMP(), which in a pipe "can be a few hours earlier than the LOAD_TIME"
(https://docs.snowflake.com/en/sql-reference/sql/create-pipe).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from bootstrap_fixtures import Deployment
from test_bootstrap_adoption import _make_quickstart

from bootstrap.cloud import plan
from bootstrap.cloud.aws import AwsError

pytest_plugins = ["bootstrap_fixtures"]


def _fail_notification_once(dep: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    real = dep.aws.ensure_notification
    calls = {"n": 0}

    def flaky(queue_arn: str) -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            raise AwsError("PutBucketNotificationConfiguration failed: SlowDown")
        return real(queue_arn)

    monkeypatch.setattr(dep.aws, "ensure_notification", flaky)


def test_rerun_after_a_failure_past_the_pipe_still_refreshes(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fail_notification_once(deployment, monkeypatch)
    with pytest.raises(AwsError):
        deployment.apply()
    assert deployment.double.pipes  # the first run created the pipe, then failed
    assert deployment.double.refreshes == []

    results = {r.title: r.outcome for r in deployment.apply()}

    assert deployment.double.refreshes == [None]
    assert results["auto-ingest pipe"] == "unchanged"
    assert results["pipe refresh for files of the last 7 days already in the bucket"].startswith(
        "sent 1 file(s) to the pipe"
    )


def test_rerun_after_a_failed_adoption_run_refreshes_after_the_adopted_rows(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    _make_quickstart(deployment)
    _fail_notification_once(deployment, monkeypatch)
    deployment.now = datetime(2026, 1, 6, tzinfo=timezone.utc)  # 2 days after the last row
    with pytest.raises(AwsError):
        deployment.apply()

    deployment.apply()

    # the latest quickstart row: 2026-01-03 12:45 in America/Los_Angeles
    assert deployment.double.refreshes == ["2026-01-03T20:45:00+00:00"]


def test_a_high_water_older_than_the_refresh_window_sends_a_plain_refresh(
    deployment: Deployment,
) -> None:
    # Item C: the adopted rows end 2026-01-03 20:45 UTC; 7 days and a minute later every file
    # the refresh can reach is newer than that, so no MODIFIED_AFTER is sent.
    _make_quickstart(deployment)
    deployment.now = datetime(2026, 1, 10, 20, 46, tzinfo=timezone.utc)

    deployment.apply()

    assert deployment.double.refreshes == [None]
    refresh = next(line for line in deployment.log if "pipe refresh" in line)
    assert "end at 2026-01-03T20:45:00+00:00, more than 7 days ago" in refresh


def test_a_high_water_just_inside_the_window_is_sent_as_modified_after(
    deployment: Deployment,
) -> None:
    _make_quickstart(deployment)
    deployment.now = datetime(2026, 1, 10, 20, 44, tzinfo=timezone.utc)

    deployment.apply()

    assert deployment.double.refreshes == ["2026-01-03T20:45:00+00:00"]


def _insert_loaded_rows(
    dep: Deployment, loaded_at: list[datetime], modified: list[datetime] | None = None
) -> None:
    sf = dep.config.snowflake
    for number, when in enumerate(loaded_at, start=1):
        changed = (modified or loaded_at)[number - 1]
        dep.connection.fakesnow.execute(
            f"INSERT INTO {sf.qualified(sf.raw_table)} VALUES ('line', "
            f"'corp-data/2026-01-0{number}-00-00-00-AAAA', 1, '{changed:%Y-%m-%d %H:%M:%S}', "
            f"'{when.isoformat()}')"
        )


def test_a_recreated_pipe_is_refreshed_only_after_the_files_its_predecessor_loaded(
    deployment: Deployment,
) -> None:
    sf = deployment.config.snowflake
    deployment.apply()
    earlier = (datetime.now(timezone.utc) - timedelta(days=2)).replace(microsecond=0)
    # Item D: the old pipe stamped CURRENT_TIMESTAMP(), hours before the load: its second file
    # was modified at `earlier`, but its rows say they were loaded 3 hours before that.
    _insert_loaded_rows(
        deployment,
        loaded_at=[earlier - timedelta(hours=8), earlier - timedelta(hours=3)],
        modified=[earlier - timedelta(hours=9), earlier],
    )
    # the manual replacement docs/bootstrap.md describes: pause, drain, drop, re-run apply
    deployment.double.execute(plan.drop_pipe_sql(sf, sf.pipe))

    deployment.apply()

    assert deployment.double.refreshes == [None, earlier.isoformat()]


def test_rows_the_pipe_itself_loaded_do_not_limit_its_refresh(deployment: Deployment) -> None:
    deployment.apply()
    _insert_loaded_rows(deployment, [datetime.now(timezone.utc) + timedelta(minutes=5)])

    deployment.apply()

    assert deployment.double.refreshes == [None, None]


def test_the_refresh_is_not_counted_as_a_change(deployment: Deployment) -> None:
    deployment.apply()

    second: list[Any] = deployment.apply()

    refresh = [r for r in second if r.title.startswith("pipe refresh")]
    assert len(refresh) == 1 and not refresh[0].changed
    assert "apply finished: 0 change(s)" in deployment.log[-1]
