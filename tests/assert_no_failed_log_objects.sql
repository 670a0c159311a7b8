{#-
  Warns about the log objects the local loader could not read (a corrupt or truncated gzip,
  an object deleted since it was listed), one row each, until they load. At warn, not error:
  the lines that did load are still parsed, tested and published, and a scheduled build
  reports the objects at every run; s3logs load and s3logs run exit with status 3 for them.
  The table exists where s3logs load wrote: elsewhere (Snowflake, where Snowpipe keeps its
  own record) the test reads nothing.
-#}
{{ config(severity='warn') }}

{%- set failed = source('s3logs', 's3_access_logs_failed_objects') -%}
{%- set found = adapter.get_relation(
    database=failed.database, schema=failed.schema, identifier=failed.identifier
) if execute else none -%}

{% if found is not none %}
    select
        object_id,
        file_name,
        reason,
        first_failed_at,
        last_failed_at,
        tries
    from {{ failed }}
{% else %}
    select
        cast(null as {{ dbt.type_string() }}) as object_id,
        cast(null as {{ dbt.type_string() }}) as file_name
    where 1 = 0
{% endif %}
