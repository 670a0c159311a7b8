with

rejected as (
    select * from {{ ref('int_s3_access_logs__parsed') }}
    where parse_error is not null
),

final as (
    select
        file_name,
        file_row_number,
        parse_error,
        raw,
        file_last_modified,
        loaded_at
    from rejected
)

select * from final
