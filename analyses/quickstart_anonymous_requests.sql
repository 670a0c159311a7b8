-- quickstart_anonymous_requests: every request made without credentials (the quickstart's
-- "Show anonymous requests", on the typed model)?
--
-- The quickstart keeps Requester IS NULL. Here the same rule, named: requester_type anonymous
-- (no signature at all; a pre-signed URL is not anonymous, it carries the signer), one row per
-- request, newest first, narrowed by bucket, object prefix or result, with the operation
-- category and the bytes sent. For counts per bucket, object or IP, ir_anonymous_access.
--
-- Run (DuckDB):
--   dbt show -s quickstart_anonymous_requests --limit 100
--   dbt show -s quickstart_anonymous_requests --limit 100
--     --vars '{bucket: acme-finance-exports, only_successful: true}'
-- Snowflake: dbt compile -s quickstart_anonymous_requests --vars '{...}' with credentials, or
--   offline s3logs compile-analysis quickstart_anonymous_requests --vars '{...}'.
-- Vars: bucket (default: all), key_prefix (decoded; default: all), only_successful (true keeps the
--   requests that got content or changed something, status below 400; default false), start_at /
--   end_at (ISO timestamps; an offset is converted to UTC; end exclusive; default: the whole
--   table).
--
-- Look at: successes in a bucket that is not meant to be public (a policy or ACL opened it:
-- ir_configuration_changes); writes or deletes without credentials (a bucket open for writing);
-- one object fetched from many remote IPs (a shared link to it).

{%- set bucket = s3logs_text_var('bucket', 'bucket name') %}
{%- set key_prefix = s3logs_text_var('key_prefix', 'decoded key prefix') %}
{%- set only_successful = s3logs_bool_var('only_successful', false) %}

with

access_logs as (
    select * from {{ ref('s3_access_logs', v=2) }}
),

operations as (
    select * from {{ ref('s3_operations') }}
),

final as (
    select
        access_logs.requested_at,
        access_logs.bucket,
        access_logs.object_key,
        access_logs.operation,
        access_logs.remote_ip,
        access_logs.user_agent,
        access_logs.referer,
        access_logs.http_status,
        access_logs.error_code,
        access_logs.bytes_sent,
        access_logs.request_id,
        access_logs.file_name,
        access_logs.file_row_number,
        coalesce(operations.category, 'uncatalogued') as category
    from access_logs
    left join operations
        on access_logs.operation = operations.operation
    where
        access_logs.requester_type = 'anonymous'
        {%- if bucket is not none %}
            and access_logs.bucket = '{{ dbt.escape_single_quotes(bucket) }}'
        {%- endif %}
        {%- if key_prefix is not none %}
            and left(access_logs.object_key, {{ key_prefix | length }})
            = '{{ dbt.escape_single_quotes(key_prefix) }}'
        {%- endif %}
        {%- if only_successful %}
            and coalesce(access_logs.http_status < 400, false)
        {%- endif %}
        {{ s3logs_in_window('access_logs.requested_at') }}
)

select * from final
order by requested_at desc, file_name asc, file_row_number asc
