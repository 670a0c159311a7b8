with

final as (
    select * from {{ s3logs_raw_landing() }} as raw_landing
)

select * from final
