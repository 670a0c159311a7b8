{#- The table name of the quickstart, s3_access_logs, serving live rows with its columns: the
    saved queries of its users keep working after s3logs bootstrap apply adopts the deployment
    (which renames the frozen quickstart table to s3_access_logs_quickstart_archive). The
    alias is set in the YAML of this model. -#}
with

parsed as (
    select * from {{ ref('int_s3_access_logs__parsed') }}
),

final as (
    {{ s3logs_quickstart_columns('parsed') }}
)

select * from final
