-- ir_anonymous_access: what can anyone on the internet read, and did they?
--
-- Unauthenticated requests (requester_type 'anonymous': no credentials, public buckets,
-- public objects, or a public access point) grouped by bucket and object (var group_by:
-- 'object', the default), by bucket, object and remote IP ('ip'), or by bucket ('bucket'):
-- requests, how many succeeded (http_status below 400) and failed, denials (403), reads of
-- content (category read in the s3_operations seed), bytes sent and distinct IPs, first and
-- last request. Most successful first. Pre-signed URLs are not anonymous: they carry the
-- signer's identity, see ir_principal_activity.
--
-- Run (DuckDB):
--   dbt show -s ir_anonymous_access --limit 50
--   dbt show -s ir_anonymous_access --limit 500
--     --vars '{group_by: ip, bucket: acme-web-assets, start_at: "2026-03-03T00:00:00"}'
-- Snowflake: dbt compile -s ir_anonymous_access --vars '{...}' with credentials, or offline s3logs
--   compile-analysis ir_anonymous_access --vars '{...}' (Snowflake SQL on stdout).
-- Vars: group_by (object | ip | bucket; default object), bucket (default: all buckets),
--   min_requests (default 1), start_at / end_at (ISO timestamps, UTC or with an offset; end
--   exclusive; default: the whole table).
--
-- Look at: succeeded_requests in a bucket that should not be public at all; one object read far
-- more often, or by far more distinct_ips, than the others (a leaked link: what is in it?
-- ir_object_history); bytes_sent; failed requests only (someone tries, the bucket holds).

{%- set grains = {
    'bucket': ['bucket'],
    'object': ['bucket', 'object_key'],
    'ip': ['bucket', 'object_key', 'remote_ip'],
} %}
{%- set group_by = s3logs_choice_var('group_by', 'object', ['object', 'ip', 'bucket']) %}
{%- set grain = grains[group_by] %}
{%- set bucket = s3logs_text_var('bucket', 'bucket name') %}
{%- set min_requests = s3logs_int_var('min_requests', 1, minimum=1) %}

with

access_logs as (
    select * from {{ ref('s3_access_logs', v=2) }}
),

operations as (
    select * from {{ ref('s3_operations') }}
),

anonymous_requests as (
    select
        access_logs.bucket,
        access_logs.object_key,
        access_logs.remote_ip,
        access_logs.requested_at,
        coalesce(access_logs.http_status < 400, false) as is_success,
        coalesce(access_logs.http_status >= 400, false) as is_error,
        coalesce(access_logs.http_status = 403, false) as is_denied,
        coalesce(operations.category = 'read', false) as is_read,
        coalesce(access_logs.bytes_sent, 0) as bytes_sent
    from access_logs
    left join operations
        on access_logs.operation = operations.operation
    where
        access_logs.requester_type = 'anonymous'
        {%- if bucket is not none %}
            and access_logs.bucket = '{{ dbt.escape_single_quotes(bucket | string) }}'
        {%- endif %}
        {{ s3logs_in_window('access_logs.requested_at') }}
),

final as (
    select
        {%- for column in grain %}
            {{ column }},
        {%- endfor %}
        count(*) as requests,
        sum(case when is_success then 1 else 0 end) as succeeded_requests,
        sum(case when is_error then 1 else 0 end) as failed_requests,
        sum(case when is_denied then 1 else 0 end) as denied_requests,
        sum(case when is_read and is_success then 1 else 0 end) as successful_reads,
        sum(bytes_sent) as bytes_sent,
        count(distinct remote_ip) as distinct_ips,
        min(requested_at) as first_request_at,
        max(requested_at) as last_request_at
    from anonymous_requests
    group by {{ grain | join(', ') }}
    having count(*) >= {{ min_requests }}
)

select * from final
order by succeeded_requests desc, requests desc, {{ grain | join(' asc, ') }} asc
