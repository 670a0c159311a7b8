{#-
  The input of detect_weak_access: per rule, principal, bucket and hour, the requests that
  match one of its rules, summed (a public link shared across the internet gives one row an
  hour, not one per address). The remote IP named is the smallest of the hour; remote_ips
  counts them.
  - weak_transport: Signature Version 2, TLS below 1.2, or plain HTTP;
  - anonymous_access: anonymous requests that succeeded;
  - presigned_url_new_ip: pre-signed requests from an address from which their signer had
    sent no request signed in the header before that hour, once the signer was known for
    s3logs_new_pattern_warmup_hours (a first-seen set: the first hour of each signer and
    address, kept here, in the engine, as it has as many rows as addresses).
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

signed_from as (
    select
        principal,
        remote_ip,
        min(activity_hour) as first_signed_hour
    from activity
    where request_count > presigned_count and remote_ip <> '-'
    group by principal, remote_ip
),

presigned_new_ip as (
    select
        'presigned_url_new_ip' as weak_rule,
        {{ s3logs_activity_columns('activity') }}
    from activity
    inner join principals
        on activity.principal = principals.principal
    left join signed_from
        on
            activity.principal = signed_from.principal
            and activity.remote_ip = signed_from.remote_ip
    where
        activity.presigned_count > 0
        and activity.principal <> 'anonymous'
        and (
            signed_from.first_signed_hour is null
            or signed_from.first_signed_hour > activity.activity_hour
        )
        and activity.activity_hour >= {{ dbt.dateadd(
            'hour', var('s3logs_new_pattern_warmup_hours'), 'principals.principal_first_hour'
        ) }}
),

flagged as (
    select
        'weak_transport' as weak_rule,
        {{ s3logs_activity_columns('activity') }}
    from activity
    where activity.sigv2_count + activity.weak_tls_count > 0
    union all
    select
        'anonymous_access' as weak_rule,
        {{ s3logs_activity_columns('activity') }}
    from activity
    where activity.principal = 'anonymous' and activity.success_count > 0
    union all
    select * from presigned_new_ip
),

final as (
    select
        weak_rule,
        principal,
        bucket,
        activity_hour,
        cast(sum(request_count) as bigint) as request_count,
        cast(sum(object_count) as bigint) as object_count,
        cast(sum(bytes_sent) as bigint) as bytes_sent,
        cast(sum(success_count) as bigint) as success_count,
        cast(sum(sigv2_count) as bigint) as sigv2_count,
        cast(sum(weak_tls_count) as bigint) as weak_tls_count,
        cast(sum(presigned_count) as bigint) as presigned_count,
        min(remote_ip) as remote_ip,
        count(distinct remote_ip) as remote_ips,
        min(operation) as first_operation,
        max(operation) as last_operation,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        min(first_key) as first_key,
        max(last_key) as last_key
    from flagged
    group by weak_rule, principal, bucket, activity_hour
)

select * from final
