-- quickstart_requests_by_ip: which addresses send the most requests (the quickstart's "IPs by
-- number of requests", with what a responder needs next to the count)?
--
-- One row per remote IP: requests, how many failed and were denied (errors the s3_error_codes
-- seed marks security relevant, or any 403), the distinct principals, buckets and objects,
-- bytes sent to it, first and last request. Requests S3 makes itself (lifecycle, batch
-- deliveries) have no remote IP and are left out (the quickstart counted them as one null IP).
-- Busiest first; min_requests hides the long tail.
--
-- Run (DuckDB):
--   dbt show -s quickstart_requests_by_ip --limit 50
--   dbt show -s quickstart_requests_by_ip --vars '{start_at: "2026-03-03", min_requests: 100}'
-- Snowflake: dbt compile -s quickstart_requests_by_ip --vars '{...}' with credentials, or offline
--   s3logs compile-analysis quickstart_requests_by_ip --vars '{...}' (Snowflake SQL on stdout).
-- Vars: bucket (default: all), min_requests (default 1), start_at / end_at (ISO timestamps; an
--   offset is converted to UTC; end exclusive; default: the whole table).
--
-- Look at: an IP near the top that you cannot place (not your office, VPC endpoint, CI or
-- partner); a high denied_share; many principals from one IP (a proxy, or keys shared); then
-- ir_remote_ip_activity for that IP.

{%- set bucket = s3logs_text_var('bucket', 'bucket name') %}
{%- set min_requests = s3logs_int_var('min_requests', 1, minimum=1) %}

with

access_logs as (
    select * from {{ ref('s3_access_logs', v=2) }}
),

error_codes as (
    select * from {{ ref('s3_error_codes') }}
),

ip_requests as (
    select
        access_logs.remote_ip,
        access_logs.requested_at,
        access_logs.bucket,
        access_logs.bucket || '/' || access_logs.object_key as bucket_object,
        coalesce(access_logs.requester, 'anonymous') as principal,
        coalesce(access_logs.bytes_sent, 0) as bytes_sent,
        coalesce(access_logs.http_status >= 400, false) as is_error,
        coalesce(
            error_codes.is_security_relevant, access_logs.http_status = 403, false
        ) as is_denied
    from access_logs
    left join error_codes
        on access_logs.error_code = error_codes.error_code
    where
        access_logs.remote_ip is not null
        {%- if bucket is not none %}
            and access_logs.bucket = '{{ dbt.escape_single_quotes(bucket) }}'
        {%- endif %}
        {{ s3logs_in_window('access_logs.requested_at') }}
),

final as (
    select
        remote_ip,
        count(*) as requests,
        sum(case when is_error then 1 else 0 end) as failed_requests,
        sum(case when is_denied then 1 else 0 end) as denied_requests,
        round(1.0 * sum(case when is_denied then 1 else 0 end) / count(*), 3) as denied_share,
        count(distinct principal) as distinct_principals,
        count(distinct bucket) as distinct_buckets,
        count(distinct bucket_object) as distinct_objects,
        sum(bytes_sent) as bytes_sent,
        min(requested_at) as first_request_at,
        max(requested_at) as last_request_at
    from ip_requests
    group by remote_ip
    having count(*) >= {{ min_requests }}
)

select * from final
order by requests desc, remote_ip asc
