{#-
  The input of detect_enumeration: the hourly activity rows of the actors (a principal, or an
  anonymous remote IP) whose requests to one bucket in one hour were answered 403 or 404 at
  least s3logs_enumeration_min_failures times: only those hours can be flagged.
-#}

with

activity as (
    select
        {{ s3logs_activity_columns('hourly') }},
        case when hourly.principal = 'anonymous' then hourly.remote_ip else '-' end as actor_ip
    from {{ ref('int_s3_access_logs__hourly_activity') }} as hourly
),

flagged_hours as (
    select
        principal,
        actor_ip,
        bucket,
        activity_hour
    from activity
    group by principal, actor_ip, bucket, activity_hour
    having
        sum(denied_count + not_found_count) >= {{ var('s3logs_enumeration_min_failures') }}
),

final as (
    select {{ s3logs_activity_columns('activity') }}
    from activity
    inner join flagged_hours
        on
            activity.principal = flagged_hours.principal
            and activity.actor_ip = flagged_hours.actor_ip
            and activity.bucket = flagged_hours.bucket
            and activity.activity_hour = flagged_hours.activity_hour
)

select * from final
