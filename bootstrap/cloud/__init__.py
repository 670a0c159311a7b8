"""Cloud bootstrap: set up, verify and remove the AWS + Snowflake side of S3 log ingestion.

Modules, one job each:
- `names`     validation of AWS/Snowflake names and quoting for SQL
- `config`    the TOML config, validated into frozen dataclasses
- `plan`      pure builders for every SQL statement and IAM/S3 document, and the ordered plan
- `aws`       the AWS side over boto3 (S3 logging, bucket policy, IAM role, notifications)
- `snowflake` the Snowflake side over a minimal `Connection` (execute(sql) -> rows)
- `apply`     runs the plan idempotently, including the quickstart adoption
- `backfill`  loads the log files older than the pipe's 7-day refresh window
- `verify`    checks every piece is present and wired together
- `destroy`   removes what apply created, and only that
- `cli`       the `s3logs bootstrap` click group
"""
