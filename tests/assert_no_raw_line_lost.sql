-- Every distinct raw line is either in the public model or in quarantine, and in only one.
-- Returns the lines that break this; the test passes when it returns nothing. With var
-- s3logs_tests_since (set by `s3logs run` after its first cycle), only the lines loaded since:
-- a line's parsed or quarantined row carries the loaded_at of its latest raw row.
with

raw_keys as (
    select distinct
        file_name,
        file_row_number
    from {{ ref('stg_s3logs__raw_lines') }}
    where {{ s3logs_loaded_since() }}
),

landed as (
    select
        file_name,
        file_row_number,
        'parsed' as outcome
    from {{ ref('s3_access_logs') }}
    where {{ s3logs_loaded_since() }}
    union all
    select
        file_name,
        file_row_number,
        'quarantined' as outcome
    from {{ ref('s3_access_logs_quarantine') }}
    where {{ s3logs_loaded_since() }}
),

outcomes as (
    select
        raw_keys.file_name,
        raw_keys.file_row_number,
        count(landed.outcome) as times_landed
    from raw_keys
    left join landed
        on
            raw_keys.file_name = landed.file_name
            and raw_keys.file_row_number = landed.file_row_number
    group by raw_keys.file_name, raw_keys.file_row_number
),

final as (
    select * from outcomes
    where times_landed <> 1
)

select * from final
