{#- The quickstart's own table name, s3_access_logs, serving live rows with its columns: its
    users' saved queries keep working after `s3logs bootstrap apply` adopts the deployment
    (which renames the quickstart's frozen table to s3_access_logs_quickstart_archive). The
    alias is set in its YAML. -#}
with

parsed as (
    select * from {{ ref('int_s3_access_logs__parsed') }}
),

final as (
    {{ s3logs_quickstart_columns('parsed') }}
)

select * from final
