-- dlp_large_downloads_from_new_ips: which address we had never seen before pulled a lot of data
-- out (stolen credentials, a leaked pre-signed URL, exfiltration)?
--
-- Per remote IP: the bytes sent by successful data-access operations (the s3_operations seed's
-- is_data_access: GetObject, website GETs and the source side of server-side copies) between
-- start_at and end_at, kept when they reach min_bytes and the IP made no request of any kind,
-- in any bucket, before start_at. Largest first, with the principals and buckets involved.
-- The baseline is everything the table holds before start_at: without start_at there is none,
-- every IP counts as new and this lists every IP above min_bytes. Set start_at to the start of
-- the period you investigate, with at least a few days of logs before it.
--
-- Run (DuckDB):
--   dbt show -s dlp_large_downloads_from_new_ips --limit 50
--     --vars '{start_at: "2026-03-03T00:00:00", min_bytes: 1000000000}'
-- Snowflake: dbt compile -s dlp_large_downloads_from_new_ips --vars '{...}' with credentials, or
--   offline s3logs compile-analysis dlp_large_downloads_from_new_ips --vars '{...}' (Snowflake SQL
--   on stdout).
-- Vars: start_at / end_at (ISO timestamps, UTC or with an offset; end exclusive; default: the whole
--   table, i.e. no baseline), min_bytes (bytes, or a size such as 5GB; default 10000000000, 10 GB).
--
-- Look at: bytes_sent (gigabytes_sent is the last column) and downloads against the time from
-- first_download_at to last_download_at (a scripted pull is fast and steady); principals: a
-- known user or role from a new IP means its credentials are used elsewhere (rotate them, then
-- ir_principal_activity); anonymous means a public object or a pre-signed URL (then
-- ir_anonymous_access); buckets that hold sensitive data.

{%- set start_at = s3logs_window_vars()[0] %}
{%- set min_bytes = s3logs_bytes_var('min_bytes', 10000000000) %}

with

access_logs as (
    select * from {{ ref('s3_access_logs', v=2) }}
),

operations as (
    select * from {{ ref('s3_operations') }}
),

-- Over the whole table on purpose: the IP's first request of any kind, window or not.
ip_first_seen as (
    select
        remote_ip,
        min(requested_at) as first_seen_at
    from access_logs
    where remote_ip is not null
    group by remote_ip
),

downloads as (
    select
        access_logs.remote_ip,
        access_logs.bucket,
        access_logs.requested_at,
        coalesce(access_logs.requester, 'anonymous') as principal,
        access_logs.bucket || '/' || access_logs.object_key as bucket_object,
        coalesce(access_logs.bytes_sent, 0) as bytes_sent
    from access_logs
    inner join operations
        on access_logs.operation = operations.operation
    where
        operations.is_data_access
        -- an error response carries an error document, not the object
        and coalesce(access_logs.http_status < 400, true)
        and access_logs.remote_ip is not null
        {{ s3logs_in_window('access_logs.requested_at') }}
),

ip_downloads as (
    select
        remote_ip,
        sum(bytes_sent) as bytes_sent,
        count(*) as downloads,
        count(distinct bucket_object) as distinct_objects,
        min(requested_at) as first_download_at,
        max(requested_at) as last_download_at
    from downloads
    group by remote_ip
    having sum(bytes_sent) >= {{ min_bytes }}
),

new_ip_downloads as (
    select
        ip_downloads.remote_ip,
        ip_first_seen.first_seen_at,
        ip_downloads.bytes_sent,
        ip_downloads.downloads,
        ip_downloads.distinct_objects,
        ip_downloads.first_download_at,
        ip_downloads.last_download_at
    from ip_downloads
    inner join ip_first_seen
        on ip_downloads.remote_ip = ip_first_seen.remote_ip
    {%- if start_at is not none %}
        where
            ip_first_seen.first_seen_at
            >= {{ s3logs_timestamp_literal(start_at) }}
    {%- endif %}
),

principal_bytes as (
    select
        downloads.remote_ip,
        downloads.principal,
        sum(downloads.bytes_sent) as bytes_sent
    from downloads
    inner join new_ip_downloads
        on downloads.remote_ip = new_ip_downloads.remote_ip
    group by downloads.remote_ip, downloads.principal
),

bucket_bytes as (
    select
        downloads.remote_ip,
        downloads.bucket,
        sum(downloads.bytes_sent) as bytes_sent
    from downloads
    inner join new_ip_downloads
        on downloads.remote_ip = new_ip_downloads.remote_ip
    group by downloads.remote_ip, downloads.bucket
),

principal_lists as (
    select
        remote_ip,
        {{ dbt.listagg("principal", "', '", "order by bytes_sent desc") }} as principals
    from principal_bytes
    group by remote_ip
),

bucket_lists as (
    select
        remote_ip,
        {{ dbt.listagg("bucket", "', '", "order by bytes_sent desc") }} as buckets
    from bucket_bytes
    group by remote_ip
),

final as (
    select
        new_ip_downloads.remote_ip,
        new_ip_downloads.first_seen_at,
        new_ip_downloads.bytes_sent,
        new_ip_downloads.downloads,
        new_ip_downloads.distinct_objects,
        principal_lists.principals,
        bucket_lists.buckets,
        new_ip_downloads.first_download_at,
        new_ip_downloads.last_download_at,
        round(new_ip_downloads.bytes_sent / 1000000000.0, 3) as gigabytes_sent
    from new_ip_downloads
    inner join principal_lists
        on new_ip_downloads.remote_ip = principal_lists.remote_ip
    inner join bucket_lists
        on new_ip_downloads.remote_ip = bucket_lists.remote_ip
)

select * from final
order by bytes_sent desc, remote_ip asc
