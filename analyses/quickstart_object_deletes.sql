-- quickstart_object_deletes: who deleted this object (the quickstart's "Investigate who deleted
-- which object", corrected)?
--
-- The quickstart's query reads an Athena table (s3_access_logs_db.mybucket_logs), compares the
-- URL-encoded key field with the key as people write it, and takes every operation named like
-- DELETE: aborted multipart uploads and bucket-policy or CORS deletes included, S3's own
-- lifecycle expirations left out. Here: the public model, the decoded key (object_key), and the
-- deletes of objects: the s3_operations seed's category delete (DeleteObject, the per-key
-- BATCH.DELETE.OBJECT lines of DeleteObjects) plus the lifecycle expirations and delete markers
-- S3 writes by rule (S3.EXPIRE.OBJECT, S3.CREATE.DELETEMARKER), each with whether it succeeded
-- and the version it removed. One row per delete, oldest first.
--
-- Run (DuckDB):
--   dbt show -s quickstart_object_deletes --vars '{object_key: "exports/report.csv"}' --limit 50
--   dbt show -s quickstart_object_deletes --limit 200
--     --vars '{key_prefix: "backups/", bucket: acme-backups, start_at: "2026-03-03"}'
-- Snowflake: dbt compile -s quickstart_object_deletes --vars '{...}' with credentials, or offline
--   s3logs compile-analysis quickstart_object_deletes --vars '{...}' (Snowflake SQL on stdout).
-- Vars: object_key (decoded, exact) or key_prefix (without either: every delete), bucket (default:
--   all), start_at / end_at (ISO timestamps; an offset is converted to UTC; end exclusive; default:
--   the whole table).
--
-- Look at: requester and remote_ip of the successful deletes (is_success); deleted_by_rule
-- (S3 lifecycle: look at the bucket's rules, not for a person); version_id (a versioned bucket
-- keeps the data: the delete only added a marker, or removed one version); then
-- ir_principal_activity for the requester.

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

deletes as (
    select
        access_logs.*,
        coalesce(operations.category, 'uncatalogued') as category
    from access_logs
    left join operations
        on access_logs.operation = operations.operation
    where
        access_logs.object_key is not null
        and (
            operations.category = 'delete'
            or access_logs.operation in ('S3.EXPIRE.OBJECT', 'S3.CREATE.DELETEMARKER')
            or (
                operations.operation is null
                and upper(access_logs.operation) like '%DELETE%'
                and upper(access_logs.operation) not like '%UPLOAD%'
            )
        )
        {%- if object_key is not none %}
            and access_logs.object_key = '{{ dbt.escape_single_quotes(object_key) }}'
        {%- endif %}
        {%- if key_prefix is not none %}
            and left(access_logs.object_key, {{ key_prefix | length }})
            = '{{ dbt.escape_single_quotes(key_prefix) }}'
        {%- endif %}
        {%- if bucket is not none %}
            and access_logs.bucket = '{{ dbt.escape_single_quotes(bucket) }}'
        {%- endif %}
        {{ s3logs_in_window('access_logs.requested_at') }}
),

final as (
    select
        requested_at,
        bucket,
        object_key,
        version_id,
        operation,
        category,
        requester_type,
        requester_account_id,
        remote_ip,
        user_agent,
        http_status,
        error_code,
        request_id,
        file_name,
        file_row_number,
        category = 'lifecycle' as deleted_by_rule,
        coalesce(requester, 'anonymous') as requester,
        coalesce(http_status < 300, error_code is null) as is_success
    from deletes
)

select * from final
order by requested_at, file_name, file_row_number
