{#-
  The input of every detection: the parsed log lines summed per hour, bucket, principal,
  remote IP and operation, over the last s3logs_detection_history_days days of requests. The
  Python detection models read these few rows, never the log lines themselves.
  - Incremental by hour: a later build counts the lines of each hour of the window (a read of
    their times) and recomputes only the hours whose count differs from the sum of
    request_count here (new hours, and older hours that late deliveries added lines to),
    replacing their rows (delete+insert on activity_hour). An hour whose lines were replaced by
    as many other lines (an object reloaded with changed content) keeps its old rows until a
    full refresh; so does every hour after a change to the s3_operations seed or to this SQL:
    run dbt build --full-refresh -s int_s3_access_logs__hourly_activity+ then.
  - Hours that leave the window, or that no longer have a line, are deleted after each build
    (post-hook).
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='activity_hour',
        on_schema_change='fail',
        post_hook=[
            "delete from {{ this }} where activity_hour < (select {{ dbt.dateadd("
            ~ "'day', -1 * var('s3logs_detection_history_days'), 'max(activity_hour)'"
            ~ ") }} from {{ this }}) or activity_hour not in (select distinct "
            ~ "{{ dbt.date_trunc('hour', 'requested_at') }} from "
            ~ "{{ ref('s3_access_logs', v=2) }} where requested_at is not null)"
        ],
    )
}}

with

window_start as (
    select
        {{ dbt.dateadd(
            'day',
            -1 * var('s3logs_detection_history_days'),
            dbt.date_trunc('hour', 'max(requested_at)')
        ) }} as requested_from
    from {{ ref('s3_access_logs', v=2) }}
),

{% if is_incremental() %}
    line_hours as (
        select
            {{ dbt.date_trunc('hour', 'requested_at') }} as activity_hour,
            count(*) as line_count
        from {{ ref('s3_access_logs', v=2) }}
        where requested_at >= (select window_start.requested_from from window_start)
        group by {{ dbt.date_trunc('hour', 'requested_at') }}
    ),

    built_hours as (
        select
            activity_hour,
            sum(request_count) as line_count
        from {{ this }}
        group by activity_hour
    ),

    -- hours with lines this table has not summed yet (or summed from other lines)
    changed_hours as (
        select line_hours.activity_hour
        from line_hours
        left join built_hours
            on line_hours.activity_hour = built_hours.activity_hour
        where
            built_hours.line_count is null
            or built_hours.line_count <> line_hours.line_count
    ),
{% endif %}

access_logs as (
    select
        requested_at,
        bucket,
        requester,
        requester_type,
        remote_ip,
        operation,
        object_key,
        http_status,
        bytes_sent,
        signature_version,
        tls_version,
        cipher_suite,
        host_header,
        auth_type,
        http_method
    from {{ ref('s3_access_logs', v=2) }}
    where
        requested_at >= (select window_start.requested_from from window_start)
        {% if is_incremental() %}
            and requested_at >= (
                select min(changed_hours.activity_hour) as first_changed_hour
                from changed_hours
            )
            and {{ dbt.date_trunc('hour', 'requested_at') }} in (
                select changed_hours.activity_hour from changed_hours
            )
        {% endif %}
),

operations as (
    select * from {{ ref('s3_operations') }}
),

-- Two steps: per key first, then per hour and the rest. Counting the distinct keys as the rows
-- of the first step spares the engine a distinct count of its own (an extra aggregate of every
-- row, joined back), which took half the time of this model.
per_key as (
    select
        {{ dbt.date_trunc('hour', 'access_logs.requested_at') }} as activity_hour,
        access_logs.bucket,
        coalesce(access_logs.requester, 'anonymous') as principal,
        access_logs.requester_type,
        coalesce(access_logs.remote_ip, '-') as remote_ip,
        access_logs.operation,
        coalesce(operations.category, 'unknown') as category,
        access_logs.object_key,
        count(*) as request_count,
        sum(access_logs.bytes_sent) as bytes_sent,
        sum(case when operations.is_data_access then access_logs.bytes_sent end)
            as data_bytes_sent,
        count(case when access_logs.http_status < 400 then 1 end) as success_count,
        count(case when access_logs.http_status = 403 then 1 end) as denied_count,
        count(case when access_logs.http_status = 404 then 1 end) as not_found_count,
        count(case when access_logs.signature_version = 'SigV2' then 1 end) as sigv2_count,
        -- TLS below 1.2, or plain HTTP: a record with the host header field but neither a
        -- cipher suite nor a TLS version (records written before those fields have neither)
        count(
            case
                when access_logs.tls_version in ('TLSv1', 'TLSv1.1') then 1
                when
                    access_logs.http_method is not null
                    and access_logs.host_header is not null
                    and access_logs.cipher_suite is null
                    and access_logs.tls_version is null
                    then 1
            end
        ) as weak_tls_count,
        count(case when access_logs.auth_type = 'QueryString' then 1 end) as presigned_count,
        min(access_logs.requested_at) as first_seen_at,
        max(access_logs.requested_at) as last_seen_at
    from access_logs
    left join operations
        on access_logs.operation = operations.operation
    group by
        {{ dbt.date_trunc('hour', 'access_logs.requested_at') }},
        access_logs.bucket,
        coalesce(access_logs.requester, 'anonymous'),
        access_logs.requester_type,
        coalesce(access_logs.remote_ip, '-'),
        access_logs.operation,
        coalesce(operations.category, 'unknown'),
        access_logs.object_key
),

final as (
    select
        activity_hour,
        bucket,
        principal,
        requester_type,
        remote_ip,
        operation,
        category,
        cast(sum(request_count) as bigint) as request_count,
        -- one row per distinct key above, and one for requests without a key
        cast(count(object_key) as bigint) as object_count,
        cast(coalesce(sum(bytes_sent), 0) as bigint) as bytes_sent,
        cast(coalesce(sum(data_bytes_sent), 0) as bigint) as data_bytes_sent,
        cast(sum(success_count) as bigint) as success_count,
        cast(sum(denied_count) as bigint) as denied_count,
        cast(sum(not_found_count) as bigint) as not_found_count,
        cast(sum(sigv2_count) as bigint) as sigv2_count,
        cast(sum(weak_tls_count) as bigint) as weak_tls_count,
        cast(sum(presigned_count) as bigint) as presigned_count,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        min(object_key) as first_key,
        max(object_key) as last_key
    from per_key
    group by
        activity_hour,
        bucket,
        principal,
        requester_type,
        remote_ip,
        operation,
        category
)

select * from final
