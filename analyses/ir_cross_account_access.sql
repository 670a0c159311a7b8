-- ir_cross_account_access: which principals of other AWS accounts reach our buckets, and what
-- did they do?
--
-- The log names the bucket owner by its canonical user id, not by its account id, so which
-- account owns a bucket is either given (var owner_accounts: your account ids) or inferred:
-- for each bucket owner, the account whose principals sent the most requests to its buckets
-- (owner_account_inferred is then true; an attacker rarely outnumbers the owner, but set
-- owner_accounts when you can). Cross-account means: an ARN principal whose account
-- (requester_account_id) is not the owner's, or a canonical user id other than the bucket
-- owner's (another account's root or a legacy ACL grantee). AWS services and anonymous requests
-- are left out (see ir_anonymous_access). One row per requester and bucket: the account,
-- requests, successes, denials, reads and bytes sent, writes, deletes, permission changes,
-- distinct IPs and objects, first and last request. Most successful first.
--
-- Run (DuckDB):
--   dbt show -s ir_cross_account_access --limit 50
--   dbt show -s ir_cross_account_access --limit 50
--     --vars '{owner_accounts: ["123456789012", "210987654321"], start_at: "2026-03-03"}'
-- Snowflake: dbt compile -s ir_cross_account_access --vars '{...}' with credentials, or offline
--   s3logs compile-analysis ir_cross_account_access --vars '{...}' (Snowflake SQL on stdout).
-- Vars: owner_accounts (account ids of 12 digits, a list or separated by commas; default: inferred
--   per bucket owner), bucket (default: all), min_requests (default 1), start_at / end_at (ISO
--   timestamps; an offset is converted to UTC; end exclusive; default: the whole table).
--
-- Look at: an account you do not know (which partner is it? is a bucket policy granting it?);
-- successful reads and bytes_sent (data shared out of the organisation); writes, deletes or
-- permission changes by another account; denials only (another account trying keys or
-- guessing bucket names).

{%- set owner_accounts = s3logs_accounts_var('owner_accounts') %}
{%- set bucket = s3logs_text_var('bucket', 'bucket name') %}
{%- set min_requests = s3logs_int_var('min_requests', 1, minimum=1) %}

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

{%- if not owner_accounts %}

-- Over the whole table on purpose: each bucket owner's account is the busiest one.
account_requests as (
    select
        bucket_owner,
        requester_account_id,
        count(*) as requests
    from access_logs
    where requester_account_id is not null and bucket_owner is not null
    group by bucket_owner, requester_account_id
),

inferred_owners as (
    select
        bucket_owner,
        requester_account_id as owner_account
    from (
        select
            bucket_owner,
            requester_account_id,
            row_number() over (
                partition by bucket_owner order by requests desc, requester_account_id asc
            ) as account_rank
        from account_requests
    ) as ranked
    where account_rank = 1
),
{%- endif %}

foreign_requests as (
    select
        access_logs.requester,
        access_logs.requester_type,
        coalesce(access_logs.requester_account_id, access_logs.requester) as requester_account,
        access_logs.bucket,
        access_logs.bucket_owner,
        {%- if owner_accounts %}
            '{{ owner_accounts | join(", ") }}' as owner_account,
            false as owner_account_inferred,
        {%- else %}
            inferred_owners.owner_account,
            true as owner_account_inferred,
        {%- endif %}
        access_logs.remote_ip,
        access_logs.requested_at,
        access_logs.bucket || '/' || access_logs.object_key as bucket_object,
        coalesce(access_logs.bytes_sent, 0) as bytes_sent,
        coalesce(operations.category, 'uncatalogued') as category,
        coalesce(access_logs.http_status < 400, false) as is_success,
        coalesce(
            error_codes.is_security_relevant, access_logs.http_status = 403, false
        ) as is_denied
    from access_logs
    {%- if not owner_accounts %}
        left join inferred_owners
            on access_logs.bucket_owner = inferred_owners.bucket_owner
    {%- endif %}
    left join operations
        on access_logs.operation = operations.operation
    left join error_codes
        on access_logs.error_code = error_codes.error_code
    where
        access_logs.requester is not null
        and access_logs.requester_type != 'aws_service'
        and (
            (
                access_logs.requester_account_id is not null
                {%- if owner_accounts %}
                    and access_logs.requester_account_id not in (
                        {%- for account in owner_accounts %}
                            '{{ account }}'{{ ',' if not loop.last }}
                        {%- endfor %}
                    )
                {%- else %}
                    and access_logs.requester_account_id
                    != coalesce(inferred_owners.owner_account, '')
                {%- endif %}
            )
            or (
                access_logs.requester_type = 'canonical_user'
                and access_logs.requester != coalesce(access_logs.bucket_owner, '')
            )
        )
        {%- if bucket is not none %}
            and access_logs.bucket = '{{ dbt.escape_single_quotes(bucket) }}'
        {%- endif %}
        {{ s3logs_in_window('access_logs.requested_at') }}
),

final as (
    select
        requester_account,
        requester,
        bucket,
        max(requester_type) as requester_type,
        max(owner_account) as owner_account,
        max(case when owner_account_inferred then 1 else 0 end) = 1 as owner_account_inferred,
        count(*) as requests,
        sum(case when is_success then 1 else 0 end) as succeeded_requests,
        sum(case when is_denied then 1 else 0 end) as denied_requests,
        sum(case when category = 'read' and is_success then 1 else 0 end) as successful_reads,
        sum(bytes_sent) as bytes_sent,
        sum(
            case when category in ('write', 'multipart') and is_success then 1 else 0 end
        ) as successful_writes,
        sum(case when category = 'delete' and is_success then 1 else 0 end) as successful_deletes,
        sum(
            case when category = 'permissions' and is_success then 1 else 0 end
        ) as successful_permission_requests,
        count(distinct remote_ip) as distinct_ips,
        count(distinct bucket_object) as distinct_objects,
        min(requested_at) as first_request_at,
        max(requested_at) as last_request_at
    from foreign_requests
    group by requester_account, requester, bucket
    having count(*) >= {{ min_requests }}
)

select * from final
order by succeeded_requests desc, requests desc, requester asc, bucket asc
