-- ir_insecure_transport: who reaches S3 without TLS, with TLS older than 1.2, or signing with
-- Signature Version 2?
--
-- Three weaknesses, each a row kind (issue): no_tls (plain HTTP: the record has the TLS field
-- and it is empty; records too old to carry the field are not counted), tls_below_1_2 (TLSv1,
-- TLSv1.1 or SSL), sigv2 (the deprecated signature, a sign of an old SDK or a hand-made
-- client). A request with two weaknesses counts under both. Requests S3 makes itself (no HTTP
-- request) are left out. One row per issue, principal, remote IP and bucket: requests,
-- successes, the TLS and signature versions, a few user-agents, first and last request. Most
-- successful first.
--
-- Run (DuckDB):
--   dbt show -s ir_insecure_transport --limit 50
--   dbt show -s ir_insecure_transport --vars '{issue: no_tls, bucket: acme-data-lake}'
-- Snowflake: dbt compile -s ir_insecure_transport --vars '{...}' with credentials, or offline
--   s3logs compile-analysis ir_insecure_transport --vars '{...}' (Snowflake SQL on stdout).
-- Vars: issue (no_tls, tls_below_1_2, sigv2 or all; default all), bucket (default: all),
--   min_requests (default 1), start_at / end_at (ISO timestamps; an offset is converted to UTC; end
--   exclusive; default: the whole table).
--
-- Look at: no_tls with credentials (the signature and the object travelled in clear text: a
-- bucket policy with aws:SecureTransport false denies it); a known principal on SigV2 (an SDK
-- to upgrade; SigV2 can be refused with s3:signatureversion); anonymous no_tls on a website
-- bucket is usual (a static site over HTTP).

{%- set issue = s3logs_choice_var('issue', 'all', ['all', 'no_tls', 'tls_below_1_2', 'sigv2']) %}
{%- set bucket = s3logs_text_var('bucket', 'bucket name') %}
{%- set min_requests = s3logs_int_var('min_requests', 1, minimum=1) %}

with

access_logs as (
    select * from {{ ref('s3_access_logs', v=2) }}
),

requests as (
    select
        requester_type,
        bucket,
        requested_at,
        tls_version,
        signature_version,
        user_agent,
        coalesce(requester, 'anonymous') as principal,
        coalesce(remote_ip, '-') as remote_ip,
        coalesce(http_status < 400, false) as is_success,
        -- host_header is the field before the TLS version: set, the record carries the TLS
        -- field, so an empty TLS version means plain HTTP
        (tls_version is null and host_header is not null) as is_no_tls,
        coalesce(
            upper(tls_version) not in ('TLSV1.2', 'TLSV1.3'), false
        ) as is_tls_below_1_2,
        coalesce(upper(signature_version) = 'SIGV2', false) as is_sigv2
    from access_logs
    where
        http_method is not null
        {%- if bucket is not none %}
            and bucket = '{{ dbt.escape_single_quotes(bucket) }}'
        {%- endif %}
        {{ s3logs_in_window('requested_at') }}
),

weak_requests as (
    {%- set kinds = ['no_tls', 'tls_below_1_2', 'sigv2'] if issue == 'all' else [issue] %}
    {%- for kind in kinds %}
        select
            '{{ kind }}' as issue,
            principal,
            requester_type,
            remote_ip,
            bucket,
            requested_at,
            tls_version,
            signature_version,
            user_agent,
            is_success
        from requests
        where is_{{ kind }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

groups as (
    select
        issue,
        principal,
        remote_ip,
        bucket,
        max(requester_type) as requester_type,
        count(*) as requests,
        sum(case when is_success then 1 else 0 end) as succeeded_requests,
        count(distinct user_agent) as distinct_user_agents,
        min(requested_at) as first_request_at,
        max(requested_at) as last_request_at
    from weak_requests
    group by issue, principal, remote_ip, bucket
    having count(*) >= {{ min_requests }}
),

versions as (
    select distinct
        weak_requests.issue,
        weak_requests.principal,
        weak_requests.remote_ip,
        weak_requests.bucket,
        weak_requests.user_agent,
        coalesce(weak_requests.tls_version, 'none')
        || ' / ' || coalesce(weak_requests.signature_version, 'unsigned') as protocol
    from weak_requests
    inner join groups
        on
            weak_requests.issue = groups.issue
            and weak_requests.principal = groups.principal
            and weak_requests.remote_ip = groups.remote_ip
            and weak_requests.bucket = groups.bucket
),

protocol_lists as (
    select
        issue,
        principal,
        remote_ip,
        bucket,
        {{ dbt.listagg("distinct protocol", "', '", "order by protocol") }} as protocols,
        {{ dbt.listagg("distinct user_agent", "' | '", "order by user_agent", 3) }}
        as sample_user_agents
    from versions
    group by issue, principal, remote_ip, bucket
),

final as (
    select
        groups.issue,
        groups.principal,
        groups.requester_type,
        groups.remote_ip,
        groups.bucket,
        groups.requests,
        groups.succeeded_requests,
        protocol_lists.protocols,
        groups.distinct_user_agents,
        protocol_lists.sample_user_agents,
        groups.first_request_at,
        groups.last_request_at
    from groups
    left join protocol_lists
        on
            groups.issue = protocol_lists.issue
            and groups.principal = protocol_lists.principal
            and groups.remote_ip = protocol_lists.remote_ip
            and groups.bucket = protocol_lists.bucket
)

select * from final
order by succeeded_requests desc, requests desc, issue asc, principal asc, remote_ip asc
