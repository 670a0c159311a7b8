{#-
  on-run-start: functions the quickstart queries rely on, where the engine lacks them, so
  that they run as written against s3_access_logs v1. Created in the database itself, so any
  client opening the DuckDB file has them.
-#}
{% macro s3logs_engine_compat() %}
    {{ return(adapter.dispatch('s3logs_engine_compat', 's3logs')()) }}
{% endmacro %}

{% macro default__s3logs_engine_compat() %}
    select 1 as nothing_to_add
{% endmacro %}

{% macro duckdb__s3logs_engine_compat() %}
    create or replace macro {{ target.schema }}.zeroifnull(x) as coalesce(x, 0)
{% endmacro %}

{#-
  s3logs_not_materialized(): the hint that keeps a CTE used several times inlined, where the
  engine has one (DuckDB would otherwise write the rows of the CTE to memory and read them
  back); nothing elsewhere. Goes between the CTE name and its opening parenthesis.
-#}
{% macro s3logs_not_materialized() %}
    {{ return(adapter.dispatch('s3logs_not_materialized', 's3logs')()) }}
{% endmacro %}

{% macro default__s3logs_not_materialized() %}
    {{ return('') }}
{% endmacro %}

{% macro duckdb__s3logs_not_materialized() %}
    {{ return('not materialized') }}
{% endmacro %}

{#-
  s3logs_type_timestamp(): the type of every timestamp the project writes, which holds UTC
  wall-clock time. On Snowflake that is TIMESTAMP_NTZ, named explicitly: a bare timestamp
  type means whatever the TIMESTAMP_TYPE_MAPPING of the account says (TIMESTAMP_LTZ on some
  accounts), and an LTZ value shows and compares in the time zone of the session.
  s3logs_sql_type(type): a column type of the parser contract (macros/parser_udtf.sql) in
  the SQL of the engine.
-#}
{% macro s3logs_type_timestamp() %}
    {{ return(adapter.dispatch('s3logs_type_timestamp', 's3logs')()) }}
{% endmacro %}

{% macro default__s3logs_type_timestamp() %}
    {{ return('timestamp') }}
{% endmacro %}

{% macro snowflake__s3logs_type_timestamp() %}
    {{ return('timestamp_ntz') }}
{% endmacro %}

{% macro s3logs_sql_type(type) %}
    {{ return(s3logs_type_timestamp() if type == 'timestamp' else type) }}
{% endmacro %}

{#-
  s3logs_utc(column): the load time of a raw table as UTC wall-clock time. On Snowflake the pipe
  fills loaded_at from METADATA$START_SCAN_TIME, a TIMESTAMP_LTZ (an instant): a plain cast to
  TIMESTAMP_NTZ would write it in the time zone of the session (America/Los_Angeles by
  default), so it is converted to UTC first. The DuckDB loader writes UTC already.
-#}
{% macro s3logs_utc(column) %}
    {{ return(adapter.dispatch('s3logs_utc', 's3logs')(column)) }}
{% endmacro %}

{% macro default__s3logs_utc(column) %}
    {{ return('cast(' ~ column ~ ' as timestamp)') }}
{% endmacro %}

{% macro snowflake__s3logs_utc(column) %}
    {{ return('cast(convert_timezone(\'UTC\', ' ~ column ~ ') as timestamp_ntz)') }}
{% endmacro %}
