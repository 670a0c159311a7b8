-- quickstart_principal_actions: every request one principal made (the quickstart's "All
-- actions for a specific user", corrected)?
--
-- The quickstart's query reads an Athena table (s3_access_logs_db.mybucket_logs) and matches one
-- IAM user ARN. Here: the public model, any principal as logged (IAM user or role session ARN,
-- canonical id, svc:...) or anonymous, or, with requester_prefix, every principal whose name
-- starts with it (every session of a role: arn:aws:sts::123456789012:assumed-role/etl-runner/).
-- One row per request, oldest first, with the operation category, the result and the bytes.
-- For an hourly summary of the same principal, ir_principal_activity.
--
-- Run (DuckDB):
--   dbt show -s quickstart_principal_actions --limit 200
--     --vars '{requester: "arn:aws:iam::123456789012:user/analyst-03"}'
--   dbt show -s quickstart_principal_actions --limit 200
--     --vars '{requester_prefix: "arn:aws:sts::123456789012:assumed-role/etl-runner/"}'
-- Snowflake: dbt compile -s quickstart_principal_actions --vars '{...}' with credentials, or
--   offline s3logs compile-analysis quickstart_principal_actions --vars '{...}'.
-- Vars: requester (exact; anonymous for unauthenticated requests) or requester_prefix (without
--   either: every request), bucket (default: all), start_at / end_at (ISO timestamps; an offset is
--   converted to UTC; end exclusive; default: the whole table).
--
-- Look at: remote_ip and user_agent that change mid-stream (the credentials used elsewhere);
-- category delete or permissions; a run of denials (probing); auth_type QueryString (a
-- pre-signed URL: ir_presigned_url_usage).

{%- set requester = s3logs_text_var('requester', 'requester as logged, or anonymous') %}
{%- set requester_prefix = s3logs_text_var('requester_prefix', 'requester prefix') %}
{%- set bucket = s3logs_text_var('bucket', 'bucket name') %}

with

access_logs as (
    select * from {{ ref('s3_access_logs', v=2) }}
),

operations as (
    select * from {{ ref('s3_operations') }}
),

principal_requests as (
    select
        *,
        coalesce(requester, 'anonymous') as principal
    from access_logs
    where
        true
        {%- if requester is not none %}
            and coalesce(requester, 'anonymous') = '{{ dbt.escape_single_quotes(requester) }}'
        {%- endif %}
        {%- if requester_prefix is not none %}
            and left(requester, {{ requester_prefix | length }})
            = '{{ dbt.escape_single_quotes(requester_prefix) }}'
        {%- endif %}
        {%- if bucket is not none %}
            and bucket = '{{ dbt.escape_single_quotes(bucket) }}'
        {%- endif %}
        {{ s3logs_in_window('requested_at') }}
),

final as (
    select
        principal_requests.requested_at,
        principal_requests.principal,
        principal_requests.requester_type,
        principal_requests.remote_ip,
        principal_requests.user_agent,
        principal_requests.operation,
        principal_requests.bucket,
        principal_requests.object_key,
        principal_requests.http_status,
        principal_requests.error_code,
        principal_requests.bytes_sent,
        principal_requests.auth_type,
        principal_requests.request_id,
        principal_requests.file_name,
        principal_requests.file_row_number,
        coalesce(operations.category, 'uncatalogued') as category
    from principal_requests
    left join operations
        on principal_requests.operation = operations.operation
)

select * from final
order by requested_at, file_name, file_row_number
