-- ir_presigned_url_usage: who used pre-signed URLs, and from where the signer never worked?
--
-- A pre-signed URL carries its signature in the query string (auth_type QueryString); the log
-- names the principal whose credentials signed it (the signer), not the person who holds the
-- link. One row per signer, remote IP and bucket: requests, successes, bytes sent, distinct
-- objects and a few of them, first and last use, and whether the signer ever sent a request
-- signed in the header (its own sessions) from that IP in the table (signer_used_ip). By
-- default only the IPs the signer never used itself are kept (only_unknown_ips): a link
-- forwarded, leaked or used by a stolen session. Most bytes first.
--
-- Run (DuckDB):
--   dbt show -s ir_presigned_url_usage --limit 50
--   dbt show -s ir_presigned_url_usage --limit 200
--     --vars '{only_unknown_ips: false, requester: "arn:aws:iam::123456789012:user/analyst-03"}'
-- Snowflake: dbt compile -s ir_presigned_url_usage --vars '{...}' with credentials, or offline
--   s3logs compile-analysis ir_presigned_url_usage --vars '{...}' (Snowflake SQL on stdout).
-- Vars: only_unknown_ips (default true), requester (the signer; default: all), bucket (default:
--   all), min_requests (default 1), start_at / end_at (ISO timestamps; an offset is converted to
--   UTC; end exclusive; default: the whole table).
--
-- Look at: bytes_sent and distinct_objects from an IP the signer never used (a bulk pull
-- through links); many distinct IPs for one object (a link posted somewhere); failures only
-- (an expired link tried again). False positives: an application that signs URLs for its end
-- users (every user IP is unknown to it): narrow to other signers with requester.

{%- set only_unknown_ips = s3logs_bool_var('only_unknown_ips', true) %}
{%- set requester = s3logs_text_var('requester', 'requester as logged') %}
{%- set bucket = s3logs_text_var('bucket', 'bucket name') %}
{%- set min_requests = s3logs_int_var('min_requests', 1, minimum=1) %}

with

access_logs as (
    select * from {{ ref('s3_access_logs', v=2) }}
),

-- Over the whole table on purpose: the IPs each principal used with its own signed requests.
signer_ips as (
    select distinct
        requester,
        remote_ip
    from access_logs
    where
        auth_type = 'AuthHeader'
        and requester is not null
        and remote_ip is not null
),

presigned as (
    select
        access_logs.requester as signer,
        access_logs.requester_type as signer_type,
        access_logs.bucket,
        access_logs.requested_at,
        coalesce(access_logs.remote_ip, '-') as remote_ip,
        access_logs.bucket || '/' || access_logs.object_key as bucket_object,
        coalesce(access_logs.bytes_sent, 0) as bytes_sent,
        coalesce(access_logs.http_status < 400, false) as is_success,
        signer_ips.remote_ip is not null as signer_used_ip
    from access_logs
    left join signer_ips
        on
            access_logs.requester = signer_ips.requester
            and access_logs.remote_ip = signer_ips.remote_ip
    where
        access_logs.auth_type = 'QueryString'
        and access_logs.requester is not null
        {%- if only_unknown_ips %}
            and signer_ips.remote_ip is null
        {%- endif %}
        {%- if requester is not none %}
            and access_logs.requester = '{{ dbt.escape_single_quotes(requester) }}'
        {%- endif %}
        {%- if bucket is not none %}
            and access_logs.bucket = '{{ dbt.escape_single_quotes(bucket) }}'
        {%- endif %}
        {{ s3logs_in_window('access_logs.requested_at') }}
),

groups as (
    select
        signer,
        remote_ip,
        bucket,
        max(signer_type) as signer_type,
        max(case when signer_used_ip then 1 else 0 end) = 1 as signer_used_ip,
        count(*) as requests,
        sum(case when is_success then 1 else 0 end) as succeeded_requests,
        sum(bytes_sent) as bytes_sent,
        count(distinct bucket_object) as distinct_objects,
        min(requested_at) as first_used_at,
        max(requested_at) as last_used_at
    from presigned
    group by signer, remote_ip, bucket
    having count(*) >= {{ min_requests }}
),

group_objects as (
    select distinct
        presigned.signer,
        presigned.remote_ip,
        presigned.bucket,
        presigned.bucket_object
    from presigned
    inner join groups
        on
            presigned.signer = groups.signer
            and presigned.remote_ip = groups.remote_ip
            and presigned.bucket = groups.bucket
    where presigned.bucket_object is not null
),

object_samples as (
    select
        signer,
        remote_ip,
        bucket,
        {{ dbt.listagg("bucket_object", "', '", "order by bucket_object", 5) }} as sample_objects
    from group_objects
    group by signer, remote_ip, bucket
),

final as (
    select
        groups.signer,
        groups.signer_type,
        groups.remote_ip,
        groups.bucket,
        groups.signer_used_ip,
        groups.requests,
        groups.succeeded_requests,
        groups.bytes_sent,
        groups.distinct_objects,
        object_samples.sample_objects,
        groups.first_used_at,
        groups.last_used_at
    from groups
    left join object_samples
        on
            groups.signer = object_samples.signer
            and groups.remote_ip = object_samples.remote_ip
            and groups.bucket = object_samples.bucket
)

select * from final
order by bytes_sent desc, requests desc, signer asc, remote_ip asc, bucket asc
