-- ir_configuration_changes: who changed a bucket's access, logging, encryption, versioning,
-- lifecycle or other settings, or tried to?
--
-- A change is a request that sets or removes a bucket setting (PUT or DELETE of a bucket
-- subresource, in the s3_operations seed's categories permissions, configuration and
-- lifecycle: PutBucketPolicy, DeleteBucketPolicy, PutBucketAcl and object ACLs,
-- Put/DeletePublicAccessBlock, PutBucketOwnershipControls, PutBucketLogging,
-- Put/DeleteBucketEncryption, PutBucketVersioning, Put/DeleteBucketLifecycle,
-- Put/DeleteBucketReplication, CORS, website, notification, tagging, object lock), the
-- creation or deletion of a bucket, and any PUT or DELETE of a bucket subresource the seed
-- does not know yet. Reads of settings (GET) are not changes. Each change has a kind: access,
-- logging, encryption, versioning, lifecycle, replication, bucket or other. The log does not
-- hold the new setting (the request body is not logged): PutBucketLogging may have turned
-- logging off, PutBucketVersioning may have suspended it; read the setting now, and CloudTrail
-- for the body.
--
-- By default (one_row_per change) one row per bucket, operation and principal: changes, how many
-- succeeded, the remote IPs and a user-agent, first and last change; one_row_per request lists
-- every change, newest first.
--
-- Run (DuckDB):
--   dbt show -s ir_configuration_changes --limit 100
--   dbt show -s ir_configuration_changes --limit 200
--     --vars '{one_row_per: request, kind: access, start_at: "2026-03-03T00:00:00Z"}'
-- Snowflake: dbt compile -s ir_configuration_changes --vars '{...}' with credentials, or offline
--   s3logs compile-analysis ir_configuration_changes --vars '{...}' (Snowflake SQL on stdout).
-- Vars: one_row_per (change or request; default change), kind (access, logging, encryption,
--   versioning, lifecycle, replication, bucket, other or all; default all), bucket (default: all),
--   start_at / end_at (ISO timestamps; an offset is converted to UTC; end exclusive; default: the
--   whole table).
--
-- Look at: kind access, logging and encryption first (a policy or ACL that opens a bucket; the
-- bucket's own logging changed: whoever did it may want no trace); deletes of settings
-- (api_action Delete...); a principal that never changed settings before, or an unusual
-- remote_ip or user-agent; denied attempts (succeeded_changes below changes: someone tried).

{%- set one_row_per = s3logs_choice_var('one_row_per', 'change', ['change', 'request']) %}
{%- set kind = s3logs_choice_var('kind', 'all', [
    'all', 'access', 'logging', 'encryption', 'versioning', 'lifecycle', 'replication',
    'bucket', 'other',
]) %}
{%- set bucket = s3logs_text_var('bucket', 'bucket name') %}

with

access_logs as (
    select * from {{ ref('s3_access_logs', v=2) }}
),

operations as (
    select * from {{ ref('s3_operations') }}
),

changes as (
    select
        access_logs.requested_at,
        access_logs.bucket,
        access_logs.object_key,
        access_logs.operation,
        access_logs.requester_type,
        access_logs.remote_ip,
        access_logs.user_agent,
        access_logs.http_status,
        access_logs.error_code,
        access_logs.request_id,
        access_logs.file_name,
        access_logs.file_row_number,
        coalesce(operations.api_action, access_logs.operation) as api_action,
        case
            when
                access_logs.operation_resource in (
                    'BUCKETPOLICY', 'ACL', 'PUBLIC_ACCESS_BLOCK', 'OWNERSHIP_CONTROLS'
                )
                then 'access'
            when access_logs.operation_resource = 'LOGGING_STATUS' then 'logging'
            when access_logs.operation_resource = 'ENCRYPTION' then 'encryption'
            when
                access_logs.operation_resource in ('VERSIONING', 'OBJECT_LOCK_CONFIGURATION')
                then 'versioning'
            when access_logs.operation_resource = 'LIFECYCLE' then 'lifecycle'
            when access_logs.operation_resource = 'REPLICATION' then 'replication'
            when access_logs.operation_resource = 'BUCKET' then 'bucket'
            else 'other'
        end as kind,
        coalesce(access_logs.requester, 'anonymous') as principal,
        coalesce(access_logs.http_status < 300, false) as is_success
    from access_logs
    left join operations
        on access_logs.operation = operations.operation
    where
        access_logs.operation_interface = 'REST'
        and access_logs.operation_verb in ('PUT', 'DELETE')
        and (
            operations.category in ('permissions', 'configuration', 'lifecycle')
            or access_logs.operation = 'REST.DELETE.BUCKET'
            or (
                operations.operation is null
                and access_logs.operation_resource not in (
                    'OBJECT', 'PART', 'UPLOAD', 'OBJECT_TAGGING', 'OBJECT_RETENTION',
                    'OBJECT_LEGAL_HOLD'
                )
            )
        )
        {%- if bucket is not none %}
            and access_logs.bucket = '{{ dbt.escape_single_quotes(bucket) }}'
        {%- endif %}
        {{ s3logs_in_window('access_logs.requested_at') }}
),

selected as (
    select * from changes
    {%- if kind != 'all' %}
        where kind = '{{ kind }}'
    {%- endif %}
),

{%- if one_row_per == 'request' %}

final as (
    select
        requested_at,
        kind,
        bucket,
        object_key,
        operation,
        api_action,
        principal,
        requester_type,
        remote_ip,
        user_agent,
        http_status,
        error_code,
        is_success,
        request_id,
        file_name,
        file_row_number
    from selected
)

select * from final
order by requested_at desc, file_name asc, file_row_number asc
{%- else %}

groups as (
    select
        kind,
        bucket,
        operation,
        principal,
        max(api_action) as api_action,
        max(requester_type) as requester_type,
        count(*) as changes,
        sum(case when is_success then 1 else 0 end) as succeeded_changes,
        count(distinct object_key) as distinct_objects,
        count(distinct remote_ip) as distinct_ips,
        min(requested_at) as first_change_at,
        max(requested_at) as last_change_at
    from selected
    group by kind, bucket, operation, principal
),

group_ips as (
    select distinct
        kind,
        bucket,
        operation,
        principal,
        coalesce(remote_ip, '-') as remote_ip
    from selected
),

ip_lists as (
    select
        kind,
        bucket,
        operation,
        principal,
        {{ dbt.listagg("remote_ip", "', '", "order by remote_ip", 5) }} as remote_ips
    from group_ips
    group by kind, bucket, operation, principal
),

final as (
    select
        groups.kind,
        groups.bucket,
        groups.operation,
        groups.api_action,
        groups.principal,
        groups.requester_type,
        groups.changes,
        groups.succeeded_changes,
        groups.distinct_objects,
        groups.distinct_ips,
        ip_lists.remote_ips,
        groups.first_change_at,
        groups.last_change_at
    from groups
    left join ip_lists
        on
            groups.kind = ip_lists.kind
            and groups.bucket = ip_lists.bucket
            and groups.operation = ip_lists.operation
            and groups.principal = ip_lists.principal
)

select * from final
order by
    case kind
        when 'access' then 1
        when 'logging' then 2
        when 'encryption' then 3
        when 'versioning' then 4
        when 'replication' then 5
        when 'lifecycle' then 6
        when 'bucket' then 7
        else 8
    end,
    last_change_at desc,
    bucket asc,
    operation asc,
    principal asc
{%- endif %}
