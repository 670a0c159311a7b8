{#-
  The raw landing table with stable types, one row per loaded line: what the parse model reads.
  Loaded at is converted to UTC on Snowflake (see s3logs_utc). This view has no data tests of
  its own, so that the parse starts as soon as it exists: dbt runs the children of a model only
  once its tests pass. Its YAML says which tests guard its lines instead.
-#}
with

final as (
    select
        raw,
        file_name,
        cast(file_row_number as bigint) as file_row_number,
        cast(file_last_modified as {{ s3logs_type_timestamp() }}) as file_last_modified,
        {{ s3logs_utc('loaded_at') }} as loaded_at
    from {{ source('s3logs', 's3_access_logs_raw') }} as raw_landing
)

select * from final
