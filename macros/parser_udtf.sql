{#-
  The output columns of the parser and their SQL types, in order: OUTPUT_COLUMNS and
  COLUMN_TYPES of bootstrap/parser.py (tests/python/test_snowflake_compile.py checks they agree).
-#}
{% macro s3logs_output_columns() %}
    {{ return([
        ("bucket_owner", "varchar"),
        ("bucket", "varchar"),
        ("requested_at", "timestamp"),
        ("remote_ip", "varchar"),
        ("requester", "varchar"),
        ("request_id", "varchar"),
        ("operation", "varchar"),
        ("key", "varchar"),
        ("request_uri", "varchar"),
        ("http_status", "integer"),
        ("error_code", "varchar"),
        ("bytes_sent", "bigint"),
        ("object_size", "bigint"),
        ("total_time_ms", "integer"),
        ("turnaround_time_ms", "integer"),
        ("referer", "varchar"),
        ("user_agent", "varchar"),
        ("version_id", "varchar"),
        ("host_id", "varchar"),
        ("signature_version", "varchar"),
        ("cipher_suite", "varchar"),
        ("auth_type", "varchar"),
        ("host_header", "varchar"),
        ("tls_version", "varchar"),
        ("access_point_arn", "varchar"),
        ("acl_required", "boolean"),
        ("source_region", "varchar"),
        ("extra_fields", "varchar"),
        ("object_key", "varchar"),
        ("http_method", "varchar"),
        ("request_path", "varchar"),
        ("request_query", "varchar"),
        ("http_version", "varchar"),
        ("requester_type", "varchar"),
        ("requester_account_id", "varchar"),
        ("operation_interface", "varchar"),
        ("operation_verb", "varchar"),
        ("operation_resource", "varchar"),
        ("parse_error", "varchar")
    ]) }}
{% endmacro %}

{#-
  The fully qualified name of the Snowflake UDTF that runs the parser, in the database and
  schema of the target, written as dbt writes its own relations (api.Relation with the quoting
  of the adapter: unquoted on Snowflake). With SNOWFLAKE_DATABASE=security, the UDTF and the
  models both live in SECURITY, the name Snowflake gives an unquoted identifier.
-#}
{% macro s3logs_parser_function() %}
    {{ return(api.Relation.create(
        database=target.database,
        schema=target.schema,
        identifier="s3logs_parse_access_log",
    ).render()) }}
{% endmacro %}

{#-
  create_parser_udtf(): an on-run-start hook (dbt_project.yml), so that it runs before every
  node of every dbt build, run or test: dbt runs the unit tests of a model before the model
  and runs no hooks for them, so a model pre-hook would leave them calling a UDTF that does not
  exist yet (a new schema) or the parser of the previous build. On Snowflake it (re)creates the
  Python UDTF whose body is bootstrap/parser.py itself, read through the macro
  s3logs_parser_source() (macros/s3logs_parser_source.sql is a symlink to that file). On DuckDB
  the same module is registered as a function by the dbt-duckdb plugin bootstrap.duckdb_udf, so
  there is nothing to create.
-#}
{% macro create_parser_udtf() %}
    {{ return(adapter.dispatch('create_parser_udtf', 's3logs')()) }}
{% endmacro %}

{#-
  The on-run-start hook: the UDTF for the commands that run models or unit tests only. dbt
  runs on-run-start hooks for other commands too (dbt source freshness, seed, snapshot), whose
  role need not be allowed to create functions, and which must not replace the function under
  a build running at the same time.
-#}
{% macro s3logs_parser_udtf_hook() %}
    {%- if flags.WHICH in ('build', 'run', 'test', 'retry') %}
        {{ return(create_parser_udtf()) }}
    {%- endif %}
    {{ return('select 1 as parser_not_needed') }}
{% endmacro %}

{% macro default__create_parser_udtf() %}
    select 1 as parser_registered_by_plugin
{% endmacro %}

{% macro snowflake__create_parser_udtf() %}
    create or replace function {{ s3logs_parser_function() }}(line varchar)
    returns table (
        {%- for name, type in s3logs_output_columns() %}
        {{ name }} {{ s3logs_sql_type(type) }}{{ "," if not loop.last }}
        {%- endfor %}
    )
    language python
    runtime_version = '3.11'
    handler = 'S3AccessLogParser'
    comment = 's3logs: S3 server access log parser (bootstrap/parser.py)'
    as $$
{{ s3logs_parser_source() }}
$$
{% endmacro %}

{#- Incremental strategy per engine: both honour unique_key. -#}
{% macro s3logs_incremental_strategy() %}
    {{ return(adapter.dispatch('s3logs_incremental_strategy', 's3logs')()) }}
{% endmacro %}

{% macro default__s3logs_incremental_strategy() %}
    {{ return("delete+insert") }}
{% endmacro %}

{% macro snowflake__s3logs_incremental_strategy() %}
    {{ return("merge") }}
{% endmacro %}

{#-
  The Snowflake merge would otherwise read the whole parsed table to find the rows a run
  replaces. A row is replaced only by a later load of the same line (same object name and
  row), and the pipe loads an object name once: a later copy arrives, if ever, with a
  re-delivery or a reload, which the window (var s3logs_lookback_hours behind the newest parsed
  row, as the parse model reads) covers for some hours. So the target side of the merge is
  limited to that window, which Snowflake can prune by loaded_at, as the table grows in load
  order (not verified on an account). A line
  whose earlier copy was parsed before the window would be added beside it instead: the parse
  model primary-key test fails on it, and dbt build --full-refresh repairs it. The DuckDB
  delete+insert reads the keys only, and has no such limit.
-#}
{% macro s3logs_incremental_predicates(relation) %}
    {{ return(adapter.dispatch('s3logs_incremental_predicates', 's3logs')(relation)) }}
{% endmacro %}

{% macro default__s3logs_incremental_predicates(relation) %}
    {{ return(none) }}
{% endmacro %}

{% macro snowflake__s3logs_incremental_predicates(relation) %}
    {%- set window_start = dbt.dateadd('hour', -1 * var('s3logs_lookback_hours'), 'max(loaded_at)') %}
    {{ return([
        "DBT_INTERNAL_DEST.loaded_at >= (select " ~ window_start ~ " from " ~ relation ~ ")"
    ]) }}
{% endmacro %}
