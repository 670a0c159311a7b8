-- quickstart_access_denied: which requests were refused (the quickstart's "Access denied
-- errors", corrected)?
--
-- The quickstart keeps httpstatus = '403' as text. Some refusals are not 403: an expired or
-- malformed token is a 400 (ExpiredToken, InvalidToken), and a 403 with an error code S3 added
-- later is still a refusal. Here: every request whose error code the s3_error_codes seed marks
-- security relevant (AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch, ExpiredToken,
-- ...) or whose status is 403, one row each, newest first, narrowed by requester, remote IP or
-- bucket.
--
-- Run (DuckDB):
--   dbt show -s quickstart_access_denied --limit 100
--   dbt show -s quickstart_access_denied --limit 100
--     --vars '{remote_ip: "203.0.113.9", start_at: "2026-03-03"}'
-- Snowflake: dbt compile -s quickstart_access_denied --vars '{...}' with credentials, or offline
--   s3logs compile-analysis quickstart_access_denied --vars '{...}' (Snowflake SQL on stdout).
-- Vars: requester (as logged, or anonymous), remote_ip, bucket (each default: all), start_at /
--   end_at (ISO timestamps; an offset is converted to UTC; end exclusive; default: the whole
--   table).
--
-- Look at: error_code (InvalidAccessKeyId or SignatureDoesNotMatch: forged, revoked or guessed
-- keys; ExpiredToken: a stolen session used late); many keys from one principal and IP in a
-- short time (then ir_access_denied_scans); a denial followed by a success on the same object
-- (ir_object_history).

{%- set requester = s3logs_text_var('requester', 'requester as logged, or anonymous') %}
{%- set remote_ip = s3logs_text_var('remote_ip', 'IP address as logged') %}
{%- set bucket = s3logs_text_var('bucket', 'bucket name') %}

with

access_logs as (
    select * from {{ ref('s3_access_logs', v=2) }}
),

error_codes as (
    select * from {{ ref('s3_error_codes') }}
),

final as (
    select
        access_logs.requested_at,
        access_logs.requester_type,
        access_logs.requester_account_id,
        access_logs.remote_ip,
        access_logs.bucket,
        access_logs.object_key,
        access_logs.operation,
        access_logs.http_status,
        access_logs.error_code,
        access_logs.auth_type,
        access_logs.user_agent,
        access_logs.request_id,
        access_logs.file_name,
        access_logs.file_row_number,
        coalesce(access_logs.requester, 'anonymous') as requester
    from access_logs
    left join error_codes
        on access_logs.error_code = error_codes.error_code
    where
        coalesce(error_codes.is_security_relevant, access_logs.http_status = 403, false)
        {%- if requester is not none %}
            and coalesce(access_logs.requester, 'anonymous')
            = '{{ dbt.escape_single_quotes(requester) }}'
        {%- endif %}
        {%- if remote_ip is not none %}
            and access_logs.remote_ip = '{{ dbt.escape_single_quotes(remote_ip) }}'
        {%- endif %}
        {%- if bucket is not none %}
            and access_logs.bucket = '{{ dbt.escape_single_quotes(bucket) }}'
        {%- endif %}
        {{ s3logs_in_window('access_logs.requested_at') }}
)

select * from final
order by requested_at desc, file_name asc, file_row_number asc
