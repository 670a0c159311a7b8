{#-
  Replaces the quickstart's stream + task: every raw line parsed exactly once.
  - Incremental by loaded_at, looking back var('s3logs_lookback_hours') behind the newest parsed
    row so that raw rows committed late are still picked up.
  - Rows already parsed from the same or a later load are skipped (anti-join); of duplicates in
    the raw table the latest load wins (an object reloaded with `s3logs load --reload-changed`
    is reparsed); unique_key makes a re-parse replace the earlier row, never duplicate it.
  - Rejected lines stay here, with parse_error and their raw text, for the quarantine model.
-#}
{{
    config(
        materialized='incremental',
        unique_key=['file_name', 'file_row_number'],
        incremental_strategy=s3logs_incremental_strategy(),
        on_schema_change='fail',
        pre_hook="{{ create_parser_udtf() }}",
    )
}}

with

raw_lines as (
    select * from {{ ref('stg_s3logs__raw_lines') }}
    {% if is_incremental() %}
        where loaded_at >= (
            select
                {{ dbt.dateadd(
                    'hour',
                    -1 * var('s3logs_lookback_hours'),
                    "coalesce(max(loaded_at), cast('1970-01-01' as timestamp))"
                ) }}
            from {{ this }}
        )
    {% endif %}
),

new_lines as (
    select raw_lines.*
    from raw_lines
    {% if is_incremental() %}
        left join {{ this }} as already_parsed
            on
                raw_lines.file_name = already_parsed.file_name
                and raw_lines.file_row_number = already_parsed.file_row_number
                and raw_lines.loaded_at <= already_parsed.loaded_at
        where already_parsed.file_name is null
    {% endif %}
    qualify row_number() over (
        partition by raw_lines.file_name, raw_lines.file_row_number
        order by raw_lines.loaded_at desc, raw_lines.raw asc
    ) = 1
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
