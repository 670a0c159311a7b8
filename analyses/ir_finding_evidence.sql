-- ir_finding_evidence: which log lines make this finding?
--
-- The requests behind one finding of s3_access_log_findings (var finding_id), oldest first:
-- the requests of its principal on its bucket between its first and last request, each with
-- matches_rule (whether the rule of the finding counts that request: a download for an egress
-- anomaly, a 403 or 404 for an enumeration, a delete for a delete burst, a settings change, a
-- weak signature or TLS, an anonymous success, a pre-signed request or one from the new
-- address) and from_finding_ip. By default only the matching requests; all_requests: true adds
-- the principal's other requests of that time, margin_minutes widens it on both sides.
-- Without finding_id it lists the findings, newest first, to pick one from.
--
-- Run (DuckDB):
--   dbt show -s ir_finding_evidence --limit 20
--   dbt show -s ir_finding_evidence --vars '{finding_id: 0123abcd...}' --limit 500
--   dbt show -s ir_finding_evidence --limit 500
--     --vars '{finding_id: 0123abcd..., all_requests: true, margin_minutes: 60}'
-- Snowflake SQL, offline: s3logs compile-analysis ir_finding_evidence --vars '{...}' (same vars),
--   or with credentials dbt compile -s ir_finding_evidence --target snowflake --vars '{...}'.
-- Vars: finding_id (16 hex digits; default: none, list the findings), all_requests (true or
--   false; default false), margin_minutes (whole minutes, 0 or more; default 0).
--
-- Look at: the keys (what was taken, probed or deleted), user_agent (a tool the principal does
-- not use), remote_ip against the addresses the principal normally uses (all_requests: true,
-- margin_minutes: 1440), http_status (denied first, then a success?), and file_name and
-- file_row_number: the log object and line to keep as evidence.

{%- set finding_id = s3logs_text_var('finding_id', 'finding_id of s3_access_log_findings') %}
{%- if finding_id is not none and not modules.re.fullmatch('[0-9a-f]{16}', finding_id | lower) %}
    {%- do s3logs_var_error(
        'finding_id', finding_id, 'the 16 hex digits of a finding_id of s3_access_log_findings'
    ) %}
{%- endif %}
{%- set all_requests = s3logs_bool_var('all_requests', false) %}
{%- set margin_minutes = s3logs_int_var('margin_minutes', 0) %}
{#- Both branches read the log table, so that dbt records the dependency whichever one runs. -#}
{%- set access_logs_relation = ref('s3_access_logs', v=2) %}

with

findings as (
    select * from {{ ref('s3_access_log_findings') }}
),

{%- if finding_id is none %}

    final as (
        select
            finding_id,
            severity,
            detection,
            rule,
            mitre_technique,
            principal,
            remote_ip,
            bucket,
            first_seen_at,
            last_seen_at,
            request_count,
            bytes_sent,
            first_reported_at
        from findings
    )

    select * from final
    order by first_reported_at desc, first_seen_at desc, finding_id asc

{%- else %}

    access_logs as (
        select * from {{ access_logs_relation }}
    ),

    operations as (
        select * from {{ ref('s3_operations') }}
    ),

    finding as (
        select
            finding_id,
            rule,
            principal,
            remote_ip,
            bucket,
            {{ dbt.dateadd('minute', -1 * margin_minutes, 'first_seen_at') }} as window_start,
            {{ dbt.dateadd('minute', margin_minutes, 'last_seen_at') }} as window_end
        from findings
        where finding_id = '{{ finding_id | string | lower }}'
    ),

    requests as (
        select
            finding.finding_id,
            finding.rule,
            access_logs.requested_at,
            access_logs.bucket,
            access_logs.requester,
            access_logs.remote_ip,
            access_logs.operation,
            operations.category,
            access_logs.object_key,
            access_logs.http_status,
            access_logs.error_code,
            access_logs.bytes_sent,
            access_logs.signature_version,
            access_logs.tls_version,
            access_logs.auth_type,
            access_logs.user_agent,
            access_logs.request_id,
            access_logs.file_name,
            access_logs.file_row_number,
            coalesce(access_logs.remote_ip = finding.remote_ip, false) as from_finding_ip,
            coalesce(
                case finding.rule
                    when 'bytes_over_baseline' then operations.is_data_access
                    when 'new_network' then access_logs.remote_ip = finding.remote_ip
                    when 'new_operation_category' then access_logs.remote_ip = finding.remote_ip
                    when 'failed_key_scan'
                        then
                            access_logs.http_status in (403, 404)
                            and (
                                access_logs.requester is not null
                                or access_logs.remote_ip = finding.remote_ip
                            )
                    when 'delete_burst' then operations.category = 'delete'
                    when 'configuration_change'
                        then
                            operations.category in ('permissions', 'configuration', 'lifecycle')
                            and access_logs.operation_verb in ('PUT', 'DELETE')
                    when 'weak_transport'
                        then
                            access_logs.signature_version = 'SigV2'
                            or access_logs.tls_version in ('TLSv1', 'TLSv1.1')
                            or (
                                access_logs.host_header is not null
                                and access_logs.cipher_suite is null
                                and access_logs.tls_version is null
                            )
                    when 'anonymous_access'
                        then access_logs.requester is null and access_logs.http_status < 400
                    when 'presigned_url_new_ip'
                        then
                            access_logs.auth_type = 'QueryString'
                            and access_logs.remote_ip = finding.remote_ip
                end,
                false
            ) as matches_rule
        from finding
        inner join access_logs
            on
                finding.principal = coalesce(access_logs.requester, 'anonymous')
                and finding.bucket = access_logs.bucket
                and finding.window_start <= access_logs.requested_at
                and finding.window_end >= access_logs.requested_at
        left join operations
            on access_logs.operation = operations.operation
    ),

    final as (
        select * from requests
        {%- if not all_requests %}
            where matches_rule
        {%- endif %}
    )

    select * from final
    order by requested_at, file_name, file_row_number

{%- endif %}
