{#- The quickstart table, column for column (v2 renamed and retyped), so that its example
    queries run unchanged. It reads the parse model, as v2 does, rather than v2 itself: built
    side by side once the tests of the parse model pass, both are ready sooner (a test checks
    that the two versions hold the same lines). -#}
with

parsed as (
    select * from {{ ref('int_s3_access_logs__parsed') }}
),

final as (
    {{ s3logs_quickstart_columns('parsed') }}
)

select * from final
