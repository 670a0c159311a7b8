{#- The quickstart's table, column for column (v2 renamed and retyped), so that its example
    queries run unchanged. It reads the parse model, as v2 does, rather than v2 itself: built
    side by side after the parse model's tests, both are ready sooner (a test checks that the
    two versions hold the same lines). -#}
with

parsed as (
    select * from {{ ref('int_s3_access_logs__parsed') }}
    where parse_error is null
),

final as (
    select
        bucket_owner as bucketowner,
        bucket as bucket_name,
        {{ s3logs_format_log_time('requested_at') }} as requestdatetime,
        remote_ip as remoteip,
        requester,
        request_id as requestid,
        operation,
        key,
        request_uri,
        cast(http_status as varchar) as httpstatus,
        error_code as errorcode,
        bytes_sent as bytessent,
        object_size as objectsize,
        cast(total_time_ms as varchar) as totaltime,
        cast(turnaround_time_ms as varchar) as turnaroundtime,
        referer as referrer,
        user_agent as useragent,
        version_id as versionid,
        host_id as hostid,
        signature_version as sigv,
        cipher_suite as ciphersuite,
        auth_type as authtype,
        host_header as endpoint,
        tls_version as tlsversion,
        file_name,
        file_row_number,
        loaded_at
    from parsed
)

select * from final
