-- The same log lines reached the raw table under two file names: an object loaded twice (by
-- a loader that named it after the folder or prefix it was given, or copied under another
-- name). Returns each such pair of names with how many lines they share; passes when empty.
-- A line is shared when it is in both objects at the same line number: the same record (same
-- bucket and request id, which AWS gives each request) or, for a line the parser rejected,
-- the same raw text. AWS also delivers a single record twice, in another object: that is no
-- doubled object, so a pair is reported when its two names are the same AWS object (the part
-- after the last slash, unique per AWS), or when they share two lines or more.
-- It reads the parse model, which holds every raw line (assert_no_raw_line_lost), rather than
-- the raw text of every line: a tenth of the columns to scan. With var s3logs_tests_since,
-- the lines loaded since are compared with every line.
with

lines as (
    select
        file_name,
        file_row_number,
        loaded_at,
        coalesce(bucket || ' ' || request_id, raw) as line_identity
    from {{ ref('int_s3_access_logs__parsed') }}
),

recent as (
    select * from lines
    where {{ s3logs_loaded_since() }}
),

shared as (
    select
        recent.file_name,
        every_line.file_name as other_file_name,
        count(*) as shared_lines,
        min(recent.file_row_number) as first_shared_row_number
    from recent
    inner join lines as every_line
        on
            recent.file_row_number = every_line.file_row_number
            and recent.line_identity = every_line.line_identity
            and recent.file_name <> every_line.file_name
    group by recent.file_name, every_line.file_name
),

final as (
    select * from shared
    -- split_part with -1: the last part, on DuckDB and on Snowflake alike (negative part
    -- numbers count from the end: docs.snowflake.com, functions.split_part)
    where
        shared_lines >= 2
        or split_part(file_name, '/', -1) = split_part(other_file_name, '/', -1)
)

select * from final
