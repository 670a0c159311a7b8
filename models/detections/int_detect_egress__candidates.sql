{#-
  The input of detect_egress_anomaly: the hourly activity rows with downloads of the principals
  and remote IPs that sent at least s3logs_egress_min_bytes in some hour (only those can be
  flagged), with all their hours (their baselines). Everyone else stays in the warehouse.
-#}

with

activity as (
    select * from {{ ref('int_s3_access_logs__hourly_activity') }}
    where data_bytes_sent > 0
),

principal_hours as (
    select
        principal,
        activity_hour
    from activity
    group by principal, activity_hour
    having sum(data_bytes_sent) >= {{ var('s3logs_egress_min_bytes') }}
),

ip_hours as (
    select
        remote_ip,
        activity_hour
    from activity
    where remote_ip <> '-'
    group by remote_ip, activity_hour
    having sum(data_bytes_sent) >= {{ var('s3logs_egress_min_bytes') }}
),

final as (
    select {{ s3logs_activity_columns('activity') }}
    from activity
    where
        activity.principal in (select principal_hours.principal from principal_hours)
        or activity.remote_ip in (select ip_hours.remote_ip from ip_hours)
)

select * from final
