-- quickstart_traffic_by_ip: which addresses move the most data, in which direction (the
-- quickstart's "IPs by traffic", corrected)?
--
-- The quickstart labels bytes sent as uploads and object size as downloads. Bytes sent is the
-- size of the response S3 sent to the client (the body of a GetObject, a listing, an error
-- document): what the IP downloaded. Object size is the size of the object a request names,
-- whatever the request does, so its sum over GETs and HEADs counts nothing that moved. The log
-- records no request body; the best measure of uploads is the object size of successful
-- uploads (PutObject, UploadPart, a browser POST upload). Here, per remote IP: bytes
-- downloaded, bytes uploaded, their sum, the requests behind each, the principals and first and
-- last request. Requests S3 makes itself have no remote IP and are left out. Largest first.
--
-- Run (DuckDB):
--   dbt show -s quickstart_traffic_by_ip --limit 50
--   dbt show -s quickstart_traffic_by_ip --vars '{min_bytes: 1GB, start_at: "2026-03-03"}'
-- Snowflake: dbt compile -s quickstart_traffic_by_ip --vars '{...}' with credentials, or offline
--   s3logs compile-analysis quickstart_traffic_by_ip --vars '{...}' (Snowflake SQL on stdout).
-- Vars: bucket (default: all), min_bytes (downloaded plus uploaded; a number of bytes or a size
--   such as 500MB or 1.5GiB; default 1), start_at / end_at (ISO timestamps; an offset is converted
--   to UTC; end exclusive; default: the whole table).
--
-- Look at: bytes_downloaded from an IP that is not yours (exfiltration: then
-- dlp_large_downloads_from_new_ips and ir_remote_ip_activity); bytes_uploaded from an unknown IP
-- (someone storing their data in your bucket, or planting objects); principals.

{%- set bucket = s3logs_text_var('bucket', 'bucket name') %}
{%- set min_bytes = s3logs_bytes_var('min_bytes', 1) %}

with

access_logs as (
    select * from {{ ref('s3_access_logs', v=2) }}
),

ip_requests as (
    select
        remote_ip,
        requested_at,
        coalesce(requester, 'anonymous') as principal,
        coalesce(bytes_sent, 0) as bytes_downloaded,
        case
            when
                operation in ('REST.PUT.OBJECT', 'REST.PUT.PART', 'REST.POST.OBJECT')
                and coalesce(http_status < 300, false)
                then coalesce(object_size, 0)
            else 0
        end as bytes_uploaded,
        case
            when
                operation in ('REST.PUT.OBJECT', 'REST.PUT.PART', 'REST.POST.OBJECT')
                and coalesce(http_status < 300, false)
                then 1
            else 0
        end as is_upload
    from access_logs
    where
        remote_ip is not null
        {%- if bucket is not none %}
            and bucket = '{{ dbt.escape_single_quotes(bucket) }}'
        {%- endif %}
        {{ s3logs_in_window('requested_at') }}
),

ip_traffic as (
    select
        remote_ip,
        sum(bytes_downloaded) as bytes_downloaded,
        sum(bytes_uploaded) as bytes_uploaded,
        sum(bytes_downloaded) + sum(bytes_uploaded) as bytes_total,
        sum(case when bytes_downloaded > 0 then 1 else 0 end) as requests_with_download,
        sum(is_upload) as uploads,
        count(*) as requests,
        count(distinct principal) as distinct_principals,
        min(requested_at) as first_request_at,
        max(requested_at) as last_request_at
    from ip_requests
    group by remote_ip
    having sum(bytes_downloaded) + sum(bytes_uploaded) >= {{ min_bytes }}
),

principal_bytes as (
    select
        ip_requests.remote_ip,
        ip_requests.principal,
        sum(ip_requests.bytes_downloaded + ip_requests.bytes_uploaded) as bytes_total
    from ip_requests
    inner join ip_traffic
        on ip_requests.remote_ip = ip_traffic.remote_ip
    group by ip_requests.remote_ip, ip_requests.principal
),

principal_lists as (
    select
        remote_ip,
        {{ dbt.listagg("principal", "', '", "order by bytes_total desc, principal", 5) }}
        as top_principals
    from principal_bytes
    group by remote_ip
),

final as (
    select
        ip_traffic.remote_ip,
        ip_traffic.bytes_downloaded,
        ip_traffic.bytes_uploaded,
        ip_traffic.bytes_total,
        ip_traffic.requests_with_download,
        ip_traffic.uploads,
        ip_traffic.requests,
        ip_traffic.distinct_principals,
        principal_lists.top_principals,
        ip_traffic.first_request_at,
        ip_traffic.last_request_at
    from ip_traffic
    inner join principal_lists
        on ip_traffic.remote_ip = principal_lists.remote_ip
)

select * from final
order by bytes_total desc, remote_ip asc
