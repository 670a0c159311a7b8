{#-
  The parser's output columns and their SQL types, in order: bootstrap/parser.py's
  OUTPUT_COLUMNS and COLUMN_TYPES (tests/python/test_snowflake_compile.py checks they agree).
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

{#- The fully qualified name of the Snowflake UDTF that runs the parser. -#}
{% macro s3logs_parser_function() %}
    {{ return(adapter.quote(target.database) ~ "." ~ adapter.quote(target.schema)
        ~ ".s3logs_parse_access_log") }}
{% endmacro %}

{#-
  create_parser_udtf(): a pre-hook of the parse model. On Snowflake it (re)creates the Python
  UDTF whose body is bootstrap/parser.py itself, read through the macro
  s3logs_parser_source() (macros/s3logs_parser_source.sql is a symlink to that file). On DuckDB
  the same module is registered as a function by the dbt-duckdb plugin bootstrap.duckdb_udf, so
  there is nothing to create.
-#}
{% macro create_parser_udtf() %}
    {{ return(adapter.dispatch('create_parser_udtf', 's3logs')()) }}
{% endmacro %}

{% macro default__create_parser_udtf() %}
    select 1 as parser_registered_by_plugin
{% endmacro %}

{% macro snowflake__create_parser_udtf() %}
    create or replace function {{ s3logs_parser_function() }}(line varchar)
    returns table (
        {%- for name, type in s3logs_output_columns() %}
        {{ name }} {{ "timestamp_ntz" if type == "timestamp" else type }}{{ "," if not loop.last }}
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
