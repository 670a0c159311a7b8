-- ir_principal_activity: what did this principal do, hour by hour?
--
-- One row per principal, hour (UTC) and operation category (from the s3_operations seed;
-- 'uncatalogued' for operations the seed lacks): requests, errors, denials, bytes sent, and the
-- distinct IPs, buckets and objects of that hour. The last columns repeat the principal's totals
-- over the whole window: first and last request, requests, distinct IPs, buckets and objects.
-- A principal is the requester as logged (IAM/STS ARN, canonical id, svc:...); unauthenticated
-- requests are the principal 'anonymous'.
--
-- Run (DuckDB):
--   dbt show -s ir_principal_activity --limit 200
--     --vars '{requester: "arn:aws:iam::123456789012:user/analyst-03"}'
--   dbt show -s ir_principal_activity --vars '{requester: anonymous}' --limit 50
-- Snowflake: dbt compile -s ir_principal_activity --vars '{...}' with credentials, or offline
--   s3logs compile-analysis ir_principal_activity --vars '{...}' (Snowflake SQL on stdout).
-- Vars: requester (default: every principal), start_at / end_at (ISO timestamps, UTC or with an
--   offset; end exclusive; default: the whole table).
--
-- Look at: hours far outside the principal's usual working pattern; total_distinct_ips above
-- what one person or job uses (a new IP next to the usual ones); a category it never used
-- before (delete, permissions); a jump in read bytes_sent; denied_requests (probing with
-- credentials that lack the permission). For the IPs, run ir_object_history or
-- dlp_large_downloads_from_new_ips next.

{%- set requester = s3logs_text_var('requester', 'requester as logged, or anonymous') %}

with

access_logs as (
    select * from {{ ref('s3_access_logs', v=2) }}
),

operations as (
    select * from {{ ref('s3_operations') }}
),

error_codes as (
    select * from {{ ref('s3_error_codes') }}
),

principal_requests as (
    select
        coalesce(access_logs.requester, 'anonymous') as principal,
        access_logs.requester_type,
        access_logs.requested_at,
        {{ dbt.date_trunc('hour', 'access_logs.requested_at') }} as hour_at,
        coalesce(operations.category, 'uncatalogued') as category,
        access_logs.remote_ip,
        access_logs.bucket,
        access_logs.bucket || '/' || access_logs.object_key as bucket_object,
        coalesce(access_logs.bytes_sent, 0) as bytes_sent,
        coalesce(access_logs.http_status >= 400, false) as is_error,
        coalesce(
            error_codes.is_security_relevant, access_logs.http_status = 403, false
        ) as is_denied
    from access_logs
    left join operations
        on access_logs.operation = operations.operation
    left join error_codes
        on access_logs.error_code = error_codes.error_code
    where
        true
        {%- if requester is not none %}
            and coalesce(access_logs.requester, 'anonymous')
            = '{{ dbt.escape_single_quotes(requester | string) }}'
        {%- endif %}
        {{ s3logs_in_window('access_logs.requested_at') }}
),

hourly as (
    select
        principal,
        requester_type,
        hour_at,
        category,
        count(*) as requests,
        sum(case when is_error then 1 else 0 end) as error_requests,
        sum(case when is_denied then 1 else 0 end) as denied_requests,
        sum(bytes_sent) as bytes_sent,
        count(distinct remote_ip) as distinct_ips,
        count(distinct bucket) as distinct_buckets,
        count(distinct bucket_object) as distinct_objects
    from principal_requests
    group by principal, requester_type, hour_at, category
),

totals as (
    select
        principal,
        min(requested_at) as first_seen_at,
        max(requested_at) as last_seen_at,
        count(*) as total_requests,
        count(distinct remote_ip) as total_distinct_ips,
        count(distinct bucket) as total_distinct_buckets,
        count(distinct bucket_object) as total_distinct_objects
    from principal_requests
    group by principal
),

final as (
    select
        hourly.principal,
        hourly.requester_type,
        hourly.hour_at,
        hourly.category,
        hourly.requests,
        hourly.error_requests,
        hourly.denied_requests,
        hourly.bytes_sent,
        hourly.distinct_ips,
        hourly.distinct_buckets,
        hourly.distinct_objects,
        totals.first_seen_at,
        totals.last_seen_at,
        totals.total_requests,
        totals.total_distinct_ips,
        totals.total_distinct_buckets,
        totals.total_distinct_objects
    from hourly
    inner join totals
        on hourly.principal = totals.principal
)

select * from final
order by principal, hour_at, category
