-- ir_access_denied_scans: who is probing for objects they may not read (reconnaissance,
-- key enumeration, stolen credentials tried against buckets)?
--
-- Per principal, remote IP and window of window_minutes (fixed windows, UTC, aligned to the
-- epoch): the denied requests, i.e. errors the s3_error_codes seed marks security relevant
-- (AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch, ExpiredToken, ...) or any 403
-- with an error code the seed lacks, and the distinct objects they targeted. Kept when a
-- window has at least min_denied denials on at least min_distinct_keys distinct objects.
-- Largest first. A scan that crosses a window boundary shows as two rows, each with part of
-- the count: widen window_minutes if a known scan falls below the thresholds. Anonymous
-- requests are the principal 'anonymous', told apart by remote_ip.
--
-- Run (DuckDB):
--   dbt show -s ir_access_denied_scans --limit 50
--   dbt show -s ir_access_denied_scans --limit 50
--     --vars '{window_minutes: 1440, min_denied: 20, start_at: "2026-03-03T00:00:00"}'
-- Snowflake: dbt compile -s ir_access_denied_scans --vars '{...}' with credentials, or offline
--   s3logs compile-analysis ir_access_denied_scans --vars '{...}' (Snowflake SQL on stdout).
-- Vars: window_minutes (default 60), min_denied (default 50), min_distinct_keys (default 25),
--   min_denied_share (share of the window's requests denied, default 0.5), start_at / end_at (ISO
--   timestamps, UTC or with an offset; end exclusive; default: the whole table).
--
-- Look at: denied_share near 1 (nothing but denials: someone without access guessing);
-- a requester_account_id that is not yours; error_codes (InvalidAccessKeyId or
-- SignatureDoesNotMatch: forged or revoked keys); succeeded_requests (did any guess work? Run
-- ir_object_history on those objects); sample_keys (names like .env, id_rsa, backups).

{%- set window_minutes = s3logs_int_var('window_minutes', 60, minimum=1) %}
{%- set min_denied = s3logs_int_var('min_denied', 50, minimum=1) %}
{%- set min_distinct_keys = s3logs_int_var('min_distinct_keys', 25, minimum=1) %}
{%- set min_denied_share = s3logs_share_var('min_denied_share', 0.5) %}
{%- set epoch = "cast('1970-01-01' as " ~ s3logs_type_timestamp() ~ ")" %}

with

access_logs as (
    select * from {{ ref('s3_access_logs', v=2) }}
),

error_codes as (
    select * from {{ ref('s3_error_codes') }}
),

windowed_requests as (
    select
        coalesce(access_logs.requester, 'anonymous') as principal,
        coalesce(access_logs.remote_ip, '-') as remote_ip,
        access_logs.requester_account_id,
        cast(
            floor(
                {{ dbt.datediff(epoch, 'access_logs.requested_at', 'minute') }}
                / {{ window_minutes }}
            ) as bigint
        ) * {{ window_minutes }} as window_start_minute,
        access_logs.requested_at,
        access_logs.bucket,
        access_logs.bucket || '/' || access_logs.object_key as bucket_object,
        access_logs.error_code,
        coalesce(access_logs.http_status < 400, false) as is_success,
        coalesce(
            error_codes.is_security_relevant, access_logs.http_status = 403, false
        ) as is_denied
    from access_logs
    left join error_codes
        on access_logs.error_code = error_codes.error_code
    where
        true
        {{ s3logs_in_window('access_logs.requested_at') }}
),

windows as (
    select
        principal,
        remote_ip,
        window_start_minute,
        max(requester_account_id) as requester_account_id,
        count(*) as requests,
        sum(case when is_denied then 1 else 0 end) as denied_requests,
        sum(case when is_success then 1 else 0 end) as succeeded_requests,
        count(distinct case when is_denied then bucket_object end) as distinct_denied_keys,
        count(distinct case when is_denied then bucket end) as distinct_denied_buckets,
        min(case when is_denied then requested_at end) as first_denied_at,
        max(case when is_denied then requested_at end) as last_denied_at
    from windowed_requests
    group by principal, remote_ip, window_start_minute
    having
        sum(case when is_denied then 1 else 0 end) >= {{ min_denied }}
        and count(distinct case when is_denied then bucket_object end)
        >= {{ min_distinct_keys }}
        and sum(case when is_denied then 1 else 0 end)
        >= {{ min_denied_share }} * count(*)
),

denied_in_windows as (
    select
        windowed_requests.principal,
        windowed_requests.remote_ip,
        windowed_requests.window_start_minute,
        windowed_requests.error_code,
        windowed_requests.bucket_object
    from windowed_requests
    inner join windows
        on
            windowed_requests.principal = windows.principal
            and windowed_requests.remote_ip = windows.remote_ip
            and windowed_requests.window_start_minute = windows.window_start_minute
    where windowed_requests.is_denied
),

error_counts as (
    select
        principal,
        remote_ip,
        window_start_minute,
        coalesce(error_code, '403') as error_code,
        count(*) as denials
    from denied_in_windows
    group by principal, remote_ip, window_start_minute, coalesce(error_code, '403')
),

error_lists as (
    select
        principal,
        remote_ip,
        window_start_minute,
        {{ dbt.listagg(
            "error_code || ' (' || cast(denials as varchar) || ')'",
            "', '",
            "order by denials desc, error_code"
        ) }} as error_codes
    from error_counts
    group by principal, remote_ip, window_start_minute
),

denied_keys as (
    select distinct
        principal,
        remote_ip,
        window_start_minute,
        bucket_object
    from denied_in_windows
    where bucket_object is not null
),

-- A few of the targeted names, enough to see what the prober was after.
key_samples as (
    select
        principal,
        remote_ip,
        window_start_minute,
        {{ dbt.listagg("bucket_object", "', '", "order by bucket_object", 5) }} as sample_keys
    from denied_keys
    group by principal, remote_ip, window_start_minute
),

final as (
    select
        windows.principal,
        windows.remote_ip,
        windows.requester_account_id,
        {{ dbt.dateadd('minute', 'windows.window_start_minute', epoch) }} as window_start_at,
        windows.first_denied_at,
        windows.last_denied_at,
        windows.requests,
        windows.denied_requests,
        round(1.0 * windows.denied_requests / windows.requests, 3) as denied_share,
        windows.succeeded_requests,
        windows.distinct_denied_keys,
        windows.distinct_denied_buckets,
        error_lists.error_codes,
        key_samples.sample_keys
    from windows
    left join error_lists
        on
            windows.principal = error_lists.principal
            and windows.remote_ip = error_lists.remote_ip
            and windows.window_start_minute = error_lists.window_start_minute
    left join key_samples
        on
            windows.principal = key_samples.principal
            and windows.remote_ip = key_samples.remote_ip
            and windows.window_start_minute = key_samples.window_start_minute
)

select * from final
order by denied_requests desc, principal asc, remote_ip asc, window_start_at asc
