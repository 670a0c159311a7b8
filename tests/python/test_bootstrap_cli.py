"""The `s3logs bootstrap` commands: help, plan without credentials, clear errors, confirmation,
and apply/verify through the CLI against the stand-ins."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from bootstrap_fixtures import Deployment
from click.testing import CliRunner

from bootstrap.cloud import cli as cloud_cli
from bootstrap.cloud import plan

pytest_plugins = ["bootstrap_fixtures"]

EXAMPLE = str(Path(__file__).resolve().parents[2] / "bootstrap.example.toml")


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("AWS_", "SNOWFLAKE_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def _invoke(args: list[str], **kwargs):
    return CliRunner().invoke(cloud_cli.bootstrap, args, **kwargs)


def _write_config(tmp_path: Path, config: dict) -> str:
    def toml_value(value: object) -> str:
        return json.dumps(value) if not isinstance(value, bool) else str(value).lower()

    lines = []
    for table, values in config.items():
        lines.append(f"[{table}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in values.items()]
    path = tmp_path / "bootstrap.toml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.mark.parametrize("command", [[], ["plan"], ["apply"], ["verify"], ["destroy"]])
def test_every_command_explains_its_options(command: list[str]) -> None:
    result = _invoke([*command, "--help"])

    assert result.exit_code == 0
    if command:
        assert "--config" in result.output
        assert "S3LOGS_BOOTSTRAP_CONFIG" in result.output
        assert "SNOWFLAKE_ACCOUNT" in result.output
    else:
        for sub in ("plan", "apply", "verify", "destroy"):
            assert sub in result.output
    if command == ["destroy"]:
        assert "--yes" in result.output and "confirmation" in result.output


def test_plan_prints_the_full_plan_without_credentials(no_credentials: None) -> None:
    result = _invoke(["plan", "--config", EXAMPLE])

    assert result.exit_code == 0, result.output
    config = cloud_cli.load_config(EXAMPLE)
    for action in plan.build_plan(config):
        assert action.title in result.output
    assert plan.create_pipe_sql(config.snowflake).splitlines()[0] in result.output
    assert '"s3:GetObject"' in result.output


def test_invalid_config_exits_nonzero_with_a_message_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(Path(EXAMPLE).read_text().replace('"example-s3-access-logs"', '"Bad_Bucket"'))

    result = _invoke(["apply", "--config", str(path)])

    assert result.exit_code == 1
    assert "invalid configuration: aws.log_bucket" in result.output
    assert "Nothing was changed" in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_apply_without_aws_credentials_says_what_to_set(no_credentials: None) -> None:
    result = _invoke(["apply", "--config", EXAMPLE])

    assert result.exit_code == 1
    assert "no AWS credentials found" in result.output
    assert "Traceback" not in result.output


def test_apply_without_snowflake_credentials_says_what_to_set(
    no_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")

    result = _invoke(["verify", "--config", EXAMPLE])

    assert result.exit_code == 1
    assert "missing Snowflake credentials" in result.output
    assert "SNOWFLAKE_PRIVATE_KEY_PATH" in result.output


def test_destroy_refuses_without_yes_when_there_is_no_terminal(no_credentials: None) -> None:
    result = _invoke(["destroy", "--config", EXAMPLE])

    assert result.exit_code == 1
    assert "re-run with --yes" in result.output
    assert "Nothing was changed" in result.output


def test_destroy_asks_on_a_terminal_and_stops_on_no(
    no_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cloud_cli, "_stdin_is_interactive", lambda: True)

    result = _invoke(["destroy", "--config", EXAMPLE], input="n\n")

    assert result.exit_code == 1
    assert "Remove the s3logs setup" in result.output
    assert "Aborted" in result.output


def test_cli_apply_verify_destroy_round_trip(deployment: Deployment, tmp_path: Path) -> None:
    aws, sf = deployment.config.aws, deployment.config.snowflake
    path = _write_config(
        tmp_path,
        {
            "aws": {
                "account_id": aws.account_id,
                "region": aws.region,
                "log_bucket": aws.log_bucket,
                "log_prefix": aws.log_prefix,
                "source_buckets": list(aws.source_buckets),
                "role_name": aws.role_name,
                "endpoint_url": aws.endpoint_url,
            },
            "snowflake": {"database": sf.database, "schema": sf.schema},
        },
    )
    obj = {"snowflake_connection": deployment.connection, "sleep": lambda _s: None}

    applied = _invoke(["apply", "-c", path], obj=obj)
    verified = _invoke(["verify", "-c", path], obj=obj)
    deployment.clients["s3"].put_bucket_logging(Bucket="corp-data", BucketLoggingStatus={})
    broken = _invoke(["verify", "-c", path], obj=obj)
    destroyed = _invoke(["destroy", "-c", path, "--yes"], obj=obj)

    assert applied.exit_code == 0, applied.output
    assert "apply finished" in applied.output
    assert verified.exit_code == 0, verified.output
    assert "0 failed" in verified.output
    assert broken.exit_code == 1
    assert "FAIL  server access logging on corp-data" in broken.output
    assert "fix: run `s3logs bootstrap apply`" in broken.output
    assert destroyed.exit_code == 0, destroyed.output
    assert deployment.double.pipes == {}
