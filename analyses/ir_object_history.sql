-- ir_object_history: what happened to this object, and who did it?
--
-- Every request on one object (var object_key: the decoded key, exactly) or on every object
-- under a prefix (var key_prefix: the decoded key starts with it), oldest first: who asked
-- (requester, its type and account), from where (remote_ip, user_agent), what (operation and its
-- category from the s3_operations seed), the result (http_status, error_code, and whether the
-- s3_error_codes seed calls that error security relevant), and the bytes that went out. The last
-- two columns name the log object and line each row comes from, as evidence.
--
-- Run (DuckDB), the key as in the console, not URL-encoded:
--   dbt show -s ir_object_history --vars '{object_key: "exports/report.csv"}' --limit 50
--   dbt show -s ir_object_history --limit 500
--     --vars '{key_prefix: "exports/", bucket: "acme-web-assets", start_at: "2026-03-03T00:00:00"}'
-- Snowflake: dbt compile -s ir_object_history --vars '{...}' with credentials, or offline s3logs
--   compile-analysis ir_object_history --vars '{...}' (Snowflake SQL on stdout).
-- Vars: object_key or key_prefix (without either: every object's history), bucket (default: all
--   buckets), start_at / end_at (ISO timestamps, UTC or with an offset; end exclusive; default: the
--   whole table).
--
-- Look at: the first request from a requester or IP you do not recognise; category delete or
-- permissions; successful reads (category read, http_status 2xx) with large bytes_sent by an
-- anonymous requester or another account (requester_account_id); a run of 403s before a 200
-- (someone found a way in). Logs arrive late: an empty tail may only mean "not delivered yet".

{%- set object_key = s3logs_text_var('object_key', 'decoded object key') %}
{%- set key_prefix = s3logs_text_var('key_prefix', 'decoded key prefix') %}
{%- set bucket = s3logs_text_var('bucket', 'bucket name') %}

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

object_requests as (
    select * from access_logs
    where
        object_key is not null
        {%- if object_key is not none %}
            and object_key = '{{ dbt.escape_single_quotes(object_key | string) }}'
        {%- endif %}
        {%- if key_prefix is not none %}
            and left(object_key, {{ key_prefix | string | length }})
            = '{{ dbt.escape_single_quotes(key_prefix | string) }}'
        {%- endif %}
        {%- if bucket is not none %}
            and bucket = '{{ dbt.escape_single_quotes(bucket | string) }}'
        {%- endif %}
        {{ s3logs_in_window('requested_at') }}
),

final as (
    select
        object_requests.requested_at,
        object_requests.bucket,
        object_requests.object_key,
        object_requests.operation,
        operations.category,
        object_requests.requester,
        object_requests.requester_type,
        object_requests.requester_account_id,
        object_requests.remote_ip,
        object_requests.user_agent,
        object_requests.http_status,
        object_requests.error_code,
        error_codes.is_security_relevant as is_security_error,
        object_requests.bytes_sent,
        object_requests.object_size,
        object_requests.version_id,
        object_requests.request_id,
        object_requests.file_name,
        object_requests.file_row_number
    from object_requests
    left join operations
        on object_requests.operation = operations.operation
    left join error_codes
        on object_requests.error_code = error_codes.error_code
)

select * from final
order by requested_at, file_name, file_row_number
