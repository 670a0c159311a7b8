{#-
  s3logs_raw_landing(): the raw landing table (the source) with stable types, as a subquery.
  The staging view is this; the parse model reads it too, straight from the source, so that a
  `dbt build` starts parsing without waiting for the staging view's tests (dbt runs a model's
  children after its tests).
-#}
{% macro s3logs_raw_landing() %}
    (
        select
            raw,
            file_name,
            cast(file_row_number as bigint) as file_row_number,
            cast(file_last_modified as {{ s3logs_type_timestamp() }}) as file_last_modified,
            {{ s3logs_utc('loaded_at') }} as loaded_at
        from {{ source('s3logs', 's3_access_logs_raw') }}
    )
{% endmacro %}
