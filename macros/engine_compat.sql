{#-
  on-run-start: functions the quickstart's queries rely on, where the engine lacks them, so
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
