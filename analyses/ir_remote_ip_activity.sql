-- ir_remote_ip_activity: everything one remote IP did (or every IP of a network)?
--
-- Every request from one address (var remote_ip, exactly as logged, IPv4 or IPv6) or from every
-- address that starts with ip_prefix (203.0.113. or 2001:db8:1:), oldest first: the principal
-- it used (requester, type and account; anonymous without credentials), the operation and its
-- category, the bucket and object, the result, the bytes sent, how it authenticated (header or
-- pre-signed URL) and over what (TLS version), and the log object and line as evidence. Each
-- row also carries the IP's totals over the window: first and last request, requests,
-- distinct principals and buckets. Without remote_ip or ip_prefix it returns every request.
--
-- Run (DuckDB):
--   dbt show -s ir_remote_ip_activity --vars '{remote_ip: "203.0.113.9"}' --limit 500
--   dbt show -s ir_remote_ip_activity --limit 500
--     --vars '{ip_prefix: "203.0.113.", start_at: "2026-03-03T02:00:00+01:00"}'
-- Snowflake: dbt compile -s ir_remote_ip_activity --vars '{...}' with credentials, or offline
--   s3logs compile-analysis ir_remote_ip_activity --vars '{...}' (Snowflake SQL on stdout).
-- Vars: remote_ip or ip_prefix (default: none, every request), bucket (default: all), start_at /
--   end_at (ISO timestamps; an offset is converted to UTC; end exclusive; default: the whole
--   table).
--
-- Look at: ip_distinct_principals above 1 (several identities from one address: a shared NAT,
-- or stolen keys tried one after another); the first request of each principal from this IP;
-- categories delete and permissions; large bytes_sent; denials before a success.

{%- set remote_ip = s3logs_text_var('remote_ip', 'IP address as logged') %}
{%- set ip_prefix = s3logs_text_var('ip_prefix', 'IP address prefix') %}
{%- set bucket = s3logs_text_var('bucket', 'bucket name') %}

with

access_logs as (
    select * from {{ ref('s3_access_logs', v=2) }}
),

operations as (
    select * from {{ ref('s3_operations') }}
),

ip_requests as (
    select * from access_logs
    where
        remote_ip is not null
        {%- if remote_ip is not none %}
            and remote_ip = '{{ dbt.escape_single_quotes(remote_ip) }}'
        {%- endif %}
        {%- if ip_prefix is not none %}
            and left(remote_ip, {{ ip_prefix | length }})
            = '{{ dbt.escape_single_quotes(ip_prefix) }}'
        {%- endif %}
        {%- if bucket is not none %}
            and bucket = '{{ dbt.escape_single_quotes(bucket) }}'
        {%- endif %}
        {{ s3logs_in_window('requested_at') }}
),

ip_totals as (
    select
        remote_ip,
        min(requested_at) as ip_first_request_at,
        max(requested_at) as ip_last_request_at,
        count(*) as ip_requests,
        count(distinct coalesce(requester, 'anonymous')) as ip_distinct_principals,
        count(distinct bucket) as ip_distinct_buckets
    from ip_requests
    group by remote_ip
),

final as (
    select
        ip_requests.requested_at,
        ip_requests.remote_ip,
        ip_requests.requester_type,
        ip_requests.requester_account_id,
        ip_requests.operation,
        ip_requests.bucket,
        ip_requests.object_key,
        ip_requests.http_status,
        ip_requests.error_code,
        ip_requests.bytes_sent,
        ip_requests.auth_type,
        ip_requests.tls_version,
        ip_requests.user_agent,
        ip_totals.ip_first_request_at,
        ip_totals.ip_last_request_at,
        ip_totals.ip_requests,
        ip_totals.ip_distinct_principals,
        ip_totals.ip_distinct_buckets,
        ip_requests.file_name,
        ip_requests.file_row_number,
        coalesce(ip_requests.requester, 'anonymous') as principal,
        coalesce(operations.category, 'uncatalogued') as category
    from ip_requests
    inner join ip_totals
        on ip_requests.remote_ip = ip_totals.remote_ip
    left join operations
        on ip_requests.operation = operations.operation
)

select * from final
order by requested_at, file_name, file_row_number
