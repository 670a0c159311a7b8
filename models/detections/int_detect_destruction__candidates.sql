{#-
  The input of detect_destruction_tampering: the delete rows of the hourly activity of the
  principals that deleted at least s3logs_delete_burst_min_deletes times in one bucket in one
  hour (with all their hours of deletes: their baseline), and every change of a bucket
  setting (a REST PUT or DELETE of category permissions, configuration or lifecycle), each
  with the first hour its principal was seen at all.
-#}

with

activity as (
    select * from {{ ref('int_s3_access_logs__hourly_activity') }}
),

principals as (
    select
        principal,
        min(activity_hour) as principal_first_hour
    from activity
    group by principal
),

bursting as (
    select principal
    from activity
    where category = 'delete'
    group by principal, bucket, activity_hour
    having sum(request_count) >= {{ var('s3logs_delete_burst_min_deletes') }}
),

candidates as (
    select {{ s3logs_activity_columns('activity') }}
    from activity
    where
        activity.category = 'delete'
        and activity.principal in (select bursting.principal from bursting)
    union all
    select {{ s3logs_activity_columns('activity') }}
    from activity
    where
        activity.category in ('permissions', 'configuration', 'lifecycle')
        and split_part(activity.operation, '.', 1) = 'REST'
        and split_part(activity.operation, '.', 2) in ('PUT', 'DELETE')
),

final as (
    select
        {{ s3logs_activity_columns('candidates') }},
        principals.principal_first_hour
    from candidates
    inner join principals
        on candidates.principal = principals.principal
)

select * from final
