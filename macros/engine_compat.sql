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

{#-
  s3logs_not_materialized(): the hint that keeps a CTE used several times inlined, where the
  engine has one (DuckDB would otherwise write the CTE's rows to memory and read them back);
  nothing elsewhere. Goes between `name as` and the CTE's parenthesis.
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
