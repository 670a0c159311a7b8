{#-
  s3logs_refuse_to_replace_table(): a pre-hook of a view whose name another program may have
  used for a table. dbt would drop a table standing where it builds a view (the view
  materialization of Snowflake drops it, and so does that of DuckDB), and the s3_access_logs
  table of the quickstart holds the rows its task parsed. Pre-hooks run before that drop, so
  this stops the build and says what to do instead; nothing is dropped.
-#}
{% macro s3logs_refuse_to_replace_table() %}
    {%- if execute %}
        {%- set existing = adapter.get_relation(this.database, this.schema, this.identifier) %}
        {%- if existing is not none and not existing.is_view %}
            {{ exceptions.raise_compiler_error(
                "A table named " ~ existing ~ " exists where this project builds the view "
                ~ this.identifier ~ " (the quickstart's table of parsed logs?). dbt would drop"
                ~ " it. Run `s3logs bootstrap apply`, which adopts a quickstart deployment and"
                ~ " renames that table to " ~ this.identifier ~ "_quickstart_archive, or rename"
                ~ " it yourself; then build again.") }}
        {%- endif %}
    {%- endif %}
    select 1 as no_table_in_the_way
{% endmacro %}
