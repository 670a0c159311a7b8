-- ir_delete_bursts: who deleted many objects in a short time (ransomware, a rogue script,
-- a cleanup gone wrong)?
--
-- A delete is an operation the s3_operations seed puts in category 'delete' (DeleteObject,
-- DeleteObjects and its per-key BATCH.DELETE.OBJECT lines, DeleteBucket), or an operation the
-- seed does not know whose name contains DELETE. Lifecycle expirations (category lifecycle) are
-- not counted: S3 does those by rule. A principal's burst is found with windows of
-- window_minutes that start every half window, so a burst up to half a window long always fits
-- in one: every window with at least min_deletes deletes qualifies, and overlapping qualifying
-- windows of the same principal merge into one burst. One row per burst, largest first.
--
-- Run (DuckDB):
--   dbt show -s ir_delete_bursts --limit 50
--   dbt show -s ir_delete_bursts --vars '{window_minutes: 60, min_deletes: 500}' --limit 50
-- Snowflake: dbt compile -s ir_delete_bursts --vars '{...}' with credentials, or offline s3logs
--   compile-analysis ir_delete_bursts --vars '{...}' (Snowflake SQL on stdout).
-- Vars: window_minutes (default 15), min_deletes (default 100), include_aws_services (default
--   false: deletes by AWS services such as S3 lifecycle are left out), start_at / end_at (ISO
--   timestamps, UTC or with an offset; end exclusive; default: the whole table).
--
-- Look at: principal and remote_ips (a human role at 2 a.m., an IP it never used); buckets;
-- distinct_objects close to deletes (many objects once each, not one object rewritten);
-- succeeded_deletes (denied attempts are a warning, successful ones are data gone: check
-- versioning, then ir_object_history with key_prefix to see what was there).

{%- set window_minutes = s3logs_int_var('window_minutes', 15, minimum=1) %}
{%- set min_deletes = s3logs_int_var('min_deletes', 100, minimum=1) %}
{%- set include_aws_services = s3logs_bool_var('include_aws_services', false) %}
{%- set grid_offsets = [0, window_minutes // 2] | unique | list %}
{%- set epoch = "cast('1970-01-01' as " ~ s3logs_type_timestamp() ~ ")" %}

with

access_logs as (
    select * from {{ ref('s3_access_logs', v=2) }}
),

operations as (
    select * from {{ ref('s3_operations') }}
),

deletes as (
    select
        coalesce(access_logs.requester, 'anonymous') as principal,
        access_logs.requested_at,
        {{ dbt.datediff(epoch, 'access_logs.requested_at', 'minute') }} as minute_number,
        access_logs.bucket,
        access_logs.bucket || '/' || access_logs.object_key as bucket_object,
        access_logs.remote_ip,
        access_logs.operation,
        coalesce(access_logs.http_status < 300, access_logs.error_code is null) as is_success
    from access_logs
    left join operations
        on access_logs.operation = operations.operation
    where
        (
            operations.category = 'delete'
            or (operations.operation is null and upper(access_logs.operation) like '%DELETE%')
        )
        {%- if not include_aws_services %}
            -- S3 itself (lifecycle, replication, batch deliveries) deletes by rule, not by hand
            and coalesce(access_logs.requester_type, '') != 'aws_service'
        {%- endif %}
        {{ s3logs_in_window('access_logs.requested_at') }}
),

-- Each delete falls in one window of each grid; the second grid is shifted by half a window.
windowed as (
    {%- for offset in grid_offsets %}
        select
            principal,
            cast(
                floor((minute_number + {{ offset }}) / {{ window_minutes }}) as bigint
            ) * {{ window_minutes }} - {{ offset }} as window_start_minute
        from deletes
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

qualifying_windows as (
    select
        principal,
        window_start_minute,
        window_start_minute + {{ window_minutes }} as window_end_minute,
        count(*) as deletes_in_window
    from windowed
    group by principal, window_start_minute
    having count(*) >= {{ min_deletes }}
),

-- Windows have one width, so a window overlaps the earlier ones iff it overlaps the previous.
flagged_windows as (
    select
        principal,
        window_start_minute,
        window_end_minute,
        deletes_in_window,
        case
            when
                window_start_minute < lag(window_end_minute) over (
                    partition by principal order by window_start_minute
                )
                then 0
            else 1
        end as starts_burst
    from qualifying_windows
),

numbered_windows as (
    select
        principal,
        window_start_minute,
        window_end_minute,
        deletes_in_window,
        sum(starts_burst) over (
            partition by principal order by window_start_minute
            rows between unbounded preceding and current row
        ) as burst_number
    from flagged_windows
),

bursts as (
    select
        principal,
        burst_number,
        min(window_start_minute) as burst_start_minute,
        max(window_end_minute) as burst_end_minute,
        max(deletes_in_window) as peak_deletes_in_window
    from numbered_windows
    group by principal, burst_number
),

burst_deletes as (
    select
        bursts.principal,
        bursts.burst_number,
        bursts.peak_deletes_in_window,
        deletes.requested_at,
        deletes.bucket,
        deletes.bucket_object,
        deletes.remote_ip,
        deletes.operation,
        deletes.is_success
    from bursts
    inner join deletes
        on
            bursts.principal = deletes.principal
            and bursts.burst_start_minute <= deletes.minute_number
            and bursts.burst_end_minute > deletes.minute_number
),

burst_buckets as (
    select
        principal,
        burst_number,
        bucket,
        count(*) as deletes
    from burst_deletes
    group by principal, burst_number, bucket
),

burst_ips as (
    select
        principal,
        burst_number,
        coalesce(remote_ip, '-') as remote_ip,
        count(*) as deletes
    from burst_deletes
    group by principal, burst_number, coalesce(remote_ip, '-')
),

bucket_lists as (
    select
        principal,
        burst_number,
        {{ dbt.listagg(
            "bucket || ' (' || cast(deletes as varchar) || ')'",
            "', '",
            "order by deletes desc, bucket"
        ) }} as buckets
    from burst_buckets
    group by principal, burst_number
),

ip_lists as (
    select
        principal,
        burst_number,
        {{ dbt.listagg(
            "remote_ip || ' (' || cast(deletes as varchar) || ')'",
            "', '",
            "order by deletes desc, remote_ip"
        ) }} as remote_ips
    from burst_ips
    group by principal, burst_number
),

burst_totals as (
    select
        principal,
        burst_number,
        min(requested_at) as first_delete_at,
        max(requested_at) as last_delete_at,
        count(*) as deletes,
        sum(case when is_success then 1 else 0 end) as succeeded_deletes,
        count(distinct bucket_object) as distinct_objects,
        max(peak_deletes_in_window) as peak_deletes_in_window
    from burst_deletes
    group by principal, burst_number
),

final as (
    select
        burst_totals.principal,
        burst_totals.first_delete_at,
        burst_totals.last_delete_at,
        {{ dbt.datediff(
            'burst_totals.first_delete_at', 'burst_totals.last_delete_at', 'minute'
        ) }} as duration_minutes,
        burst_totals.deletes,
        burst_totals.succeeded_deletes,
        burst_totals.distinct_objects,
        burst_totals.peak_deletes_in_window,
        bucket_lists.buckets,
        ip_lists.remote_ips
    from burst_totals
    inner join bucket_lists
        on
            burst_totals.principal = bucket_lists.principal
            and burst_totals.burst_number = bucket_lists.burst_number
    inner join ip_lists
        on
            burst_totals.principal = ip_lists.principal
            and burst_totals.burst_number = ip_lists.burst_number
)

select * from final
order by deletes desc, principal asc, first_delete_at asc
