{#-
  on-run-start: stop with a message that says what to do when the raw landing table is missing
  (a first dbt build before anything was loaded), instead of a catalog error deep in a model.
-#}
{% macro s3logs_check_raw_table() %}
    {%- if execute and flags.WHICH in ('run', 'build') %}
        {%- set database = var('s3logs_raw_database') or target.database %}
        {%- set schema = var('s3logs_raw_schema') or target.schema %}
        {%- set relation = adapter.get_relation(database, schema, var('s3logs_raw_table')) %}
        {%- if relation is none %}
            {%- set name = database ~ "." ~ schema ~ "." ~ var('s3logs_raw_table') %}
            {{ exceptions.raise_compiler_error(s3logs_raw_table_missing_message(name)) }}
        {%- endif %}
    {%- endif %}
    select 1 as raw_table_checked
{% endmacro %}

{% macro s3logs_raw_table_missing_message(name) %}
    {{ return(adapter.dispatch('s3logs_raw_table_missing_message', 's3logs')(name)) }}
{% endmacro %}

{% macro default__s3logs_raw_table_missing_message(name) %}
    {{ return(
        "The raw landing table " ~ name ~ " does not exist yet. Load logs first:"
        ~ " `s3logs load <folder or s3://bucket/prefix>` on DuckDB, or `s3logs bootstrap apply`"
        ~ " on Snowflake (then wait for the pipe). Set vars s3logs_raw_database /"
        ~ " s3logs_raw_schema / s3logs_raw_table if it lives elsewhere.") }}
{% endmacro %}

{#-
  Snowflake shows a role only the objects it has privileges on: a table the role cannot read
  looks exactly like a table that does not exist, so the message names both causes and the
  grants that fix the second.
-#}
{% macro snowflake__s3logs_raw_table_missing_message(name) %}
    {%- set role = run_query("select current_role()").columns[0].values()[0] %}
    {%- set parts = name.split(".") %}
    {{ return(
        "The raw landing table " ~ name ~ " is not visible to role " ~ role ~ ": either it does"
        ~ " not exist yet (run `s3logs bootstrap apply`, then wait for the pipe; set vars"
        ~ " s3logs_raw_database / s3logs_raw_schema / s3logs_raw_table if it lives elsewhere),"
        ~ " or role " ~ role ~ " has no privilege on it. To grant what dbt needs, set"
        ~ " snowflake.dbt_role = \"" ~ role ~ "\" in the bootstrap config and re-run"
        ~ " `s3logs bootstrap apply`, or run: GRANT USAGE ON DATABASE " ~ parts[0]
        ~ " TO ROLE " ~ role ~ "; GRANT USAGE ON SCHEMA " ~ parts[0] ~ "." ~ parts[1]
        ~ " TO ROLE " ~ role ~ "; GRANT SELECT ON TABLE " ~ name ~ " TO ROLE " ~ role ~ ";") }}
{% endmacro %}
