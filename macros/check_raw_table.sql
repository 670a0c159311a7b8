{#-
  on-run-start: stop with a message that says what to do when the raw landing table is missing
  (a first `dbt build` before anything was loaded), instead of a catalog error deep in a model.
-#}
{% macro s3logs_check_raw_table() %}
    {%- if execute and flags.WHICH in ('run', 'build') %}
        {%- set database = var('s3logs_raw_database') or target.database %}
        {%- set schema = var('s3logs_raw_schema') or target.schema %}
        {%- set relation = adapter.get_relation(database, schema, var('s3logs_raw_table')) %}
        {%- if relation is none %}
            {{ exceptions.raise_compiler_error(
                "The raw landing table " ~ database ~ "." ~ schema ~ "." ~ var('s3logs_raw_table')
                ~ " does not exist yet. Load logs first: `s3logs load <folder or s3://bucket/prefix>`"
                ~ " on DuckDB, or `s3logs bootstrap apply` on Snowflake (then wait for the pipe)."
                ~ " Set vars s3logs_raw_database / s3logs_raw_schema / s3logs_raw_table if it"
                ~ " lives elsewhere.") }}
        {%- endif %}
    {%- endif %}
    select 1 as raw_table_checked
{% endmacro %}
