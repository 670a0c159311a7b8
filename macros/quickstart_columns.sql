{#-
  s3logs_quickstart_columns(relation): the parsed lines of the relation (the parse model)
  under the 24 column names and types of the Snowflake quickstart, plus the key and load time
  of each line.
  Shared by s3_access_logs v1 and by the view named s3_access_logs, so that the two cannot
  drift apart.
-#}
{% macro s3logs_quickstart_columns(relation) %}
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
    from {{ relation }}
    where parse_error is null
{% endmacro %}
