{#-
  Replaces the stream and task of the quickstart: every raw line parsed exactly once.
  - Incremental by loaded_at, looking back the var s3logs_lookback_hours behind the newest
    parsed row, so that raw rows committed late are still picked up.
  - Rows already parsed from the same or a later load are skipped (anti-join); of duplicates in
    the raw table the latest load wins (an object reloaded with s3logs load --reload-changed
    is reparsed); unique_key makes a re-parse replace the earlier row, never duplicate it.
  - Rejected lines stay here, with parse_error and their raw text, for the quarantine model.
  - Reads the raw lines through the staging view, which has no tests of its own so that the
    parse does not wait for them.
-#}
{{
    config(
        materialized='incremental',
        unique_key=['file_name', 'file_row_number'],
        incremental_strategy=s3logs_incremental_strategy(),
        incremental_predicates=s3logs_incremental_predicates(this),
    )
}}

with

{% if is_incremental() %}
    window_start as (
        select
            {{ dbt.dateadd(
                'hour',
                -1 * var('s3logs_lookback_hours'),
                "coalesce(max(loaded_at), cast('1970-01-01' as " ~ s3logs_type_timestamp() ~ "))"
            ) }} as loaded_from
        from {{ this }}
    ),

    -- rows parsed from a load inside the window: only those can match a raw row of the window
    recently_parsed as (
        select
            file_name,
            file_row_number,
            loaded_at
        from {{ this }}
        where loaded_at >= (select window_start.loaded_from from window_start)
    ),

    -- Per object (file), the window's raw rows and parsed rows. An object is complete when
    -- the window holds as many parsed rows of it as raw rows, and none of its raw rows was
    -- loaded after its earliest parsed row. That is exact because the raw table is append-only
    -- but for reloads, which replace a whole object with rows loaded later (the loader never
    -- stamps a load earlier than the table's latest): while no raw row is later than the
    -- earliest parsed one, every parsed row of the window has its raw row there, so equal
    -- counts mean the same keys. (An object reloaded shorter keeps stale parsed rows and stays
    -- pending: more work, never a lost line.) Only pending objects' rows go through the
    -- row-by-row anti-join below: on a schedule, the new objects, where the window holds hours
    -- of lines already parsed.
    raw_files as (
        select
            file_name,
            count(*) as raw_rows,
            max(loaded_at) as last_loaded
        from {{ ref('stg_s3logs__raw_lines') }} as window_lines
        where loaded_at >= (select window_start.loaded_from from window_start)
        group by file_name
    ),

    parsed_files as (
        select
            file_name,
            count(*) as parsed_rows,
            min(loaded_at) as first_parsed
        from recently_parsed
        group by file_name
    ),

    pending_files as (
        select raw_files.file_name
        from raw_files
        left join parsed_files
            on raw_files.file_name = parsed_files.file_name
        where
            parsed_files.file_name is null
            or raw_files.raw_rows <> parsed_files.parsed_rows
            or raw_files.last_loaded > parsed_files.first_parsed
    ),

    pending_parsed as (
        select recently_parsed.*
        from recently_parsed
        inner join pending_files
            on recently_parsed.file_name = pending_files.file_name
    ),

    -- raw rows of the window not parsed yet, found on their keys alone (the lines are long)
    new_keys as (
        select distinct
            window_lines.file_name,
            window_lines.file_row_number,
            window_lines.loaded_at
        from {{ ref('stg_s3logs__raw_lines') }} as window_lines
        inner join pending_files
            on window_lines.file_name = pending_files.file_name
        left join pending_parsed as already_parsed
            on
                window_lines.file_name = already_parsed.file_name
                and window_lines.file_row_number = already_parsed.file_row_number
                and window_lines.loaded_at <= already_parsed.loaded_at
        where
            window_lines.loaded_at >= (select window_start.loaded_from from window_start)
            and already_parsed.file_name is null
    ),
{% endif %}

{#-
  DuckDB would materialize the next two CTEs (used three times): the whole text of every line,
  written to memory and read back (for 1M lines, 0.6 GB more memory and 0.4 CPU-s). Inlined,
  the de-duplication below reads the keys alone (macros/engine_compat.sql).
-#}

raw_lines as {{ s3logs_not_materialized() }} (
    select * from {{ ref('stg_s3logs__raw_lines') }} as staged_lines
    {% if is_incremental() %}
        where loaded_at >= (select window_start.loaded_from from window_start)
    {% endif %}
),

candidate_lines as {{ s3logs_not_materialized() }} (
    select raw_lines.*
    from raw_lines
    {% if is_incremental() %}
        inner join new_keys
            on
                raw_lines.file_name = new_keys.file_name
                and raw_lines.file_row_number = new_keys.file_row_number
                and raw_lines.loaded_at = new_keys.loaded_at
    {% endif %}
),

-- keys with more than one raw row (an object loaded twice): only their rows need ranking,
-- which spares the other lines a window over their whole text. (A raw row with a null key,
-- which no loader writes, fails the primary-key test of this model or, when an incremental run
-- leaves it out, tests/assert_no_raw_line_lost.sql.)
repeated_keys as (
    select
        file_name,
        file_row_number
    from candidate_lines
    group by file_name, file_row_number
    having count(*) > 1
),

new_lines as (
    select candidate_lines.*
    from candidate_lines
    left join repeated_keys
        on
            candidate_lines.file_name = repeated_keys.file_name
            and candidate_lines.file_row_number = repeated_keys.file_row_number
    where repeated_keys.file_name is null
    union all
    (
        select candidate_lines.*
        from candidate_lines
        inner join repeated_keys
            on
                candidate_lines.file_name = repeated_keys.file_name
                and candidate_lines.file_row_number = repeated_keys.file_row_number
        qualify row_number() over (
            partition by candidate_lines.file_name, candidate_lines.file_row_number
            order by candidate_lines.loaded_at desc, candidate_lines.raw asc
        ) = 1
    )
),

parsed as (
    {{ parse_raw_lines('new_lines') }}
),

final as (
    select
        file_name,
        file_row_number,
        file_last_modified,
        loaded_at,
        {%- for name, type in s3logs_output_columns() %}
            {{ name }},
        {%- endfor %}
        case when parse_error is not null then raw end as raw
    from parsed
)

select * from final
