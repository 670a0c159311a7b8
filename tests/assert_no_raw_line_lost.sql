-- Every distinct raw line is either in the public model or in quarantine, and in only one.
-- Returns the lines that break this; the test passes when it returns nothing. With var
-- s3logs_tests_since (set by `s3logs run` after its first cycle), only the lines loaded since:
-- a line's parsed or quarantined row carries the loaded_at of its latest raw row.
-- One aggregate over the keys of both sides (a join of the distinct raw keys with the landed
-- ones would group twice and join once).
with

raw_keys as (
    select
        file_name,
        file_row_number,
        0 as landings
    from {{ ref('stg_s3logs__raw_lines') }}
    where {{ s3logs_loaded_since() }}
),

landed as (
    select
        file_name,
        file_row_number,
        1 as landings
    from {{ ref('s3_access_logs') }}
    where {{ s3logs_loaded_since() }}
    union all
    select
        file_name,
        file_row_number,
        1 as landings
    from {{ ref('s3_access_logs_quarantine') }}
    where {{ s3logs_loaded_since() }}
),

outcomes as (
    select
        file_name,
        file_row_number,
        sum(landings) as times_landed
    from (
        select * from raw_keys
        union all
        select * from landed
    ) as keyed
    group by file_name, file_row_number
    -- keys with a raw row only (landings 0): a parsed row without one is no lost line
    having min(landings) = 0
),

final as (
    select * from outcomes
    -- a null key matches no landed row (grouping would pair it with a landed null key)
    where times_landed <> 1 or file_name is null or file_row_number is null
)

select * from final
