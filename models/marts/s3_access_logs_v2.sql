with

parsed as (
    select * from {{ ref('int_s3_access_logs__parsed') }}
    where parse_error is null
),

final as (
    select
        {%- for name, type in s3logs_output_columns() if name != 'parse_error' %}
            {{ name }},
        {%- endfor %}
        file_name,
        file_row_number,
        file_last_modified,
        loaded_at
    from parsed
)

select * from final
