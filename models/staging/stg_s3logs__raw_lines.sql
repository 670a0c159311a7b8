with

source as (
    select * from {{ source('s3logs', 's3_access_logs_raw') }}
),

final as (
    select
        raw,
        file_name,
        cast(file_row_number as bigint) as file_row_number,
        cast(file_last_modified as timestamp) as file_last_modified,
        cast(loaded_at as timestamp) as loaded_at
    from source
)

select * from final
