{#-
  parse_raw_lines(relation): select every raw landing column of the relation plus the output
  columns of the parser (parser.OUTPUT_COLUMNS: contract, derived, parse_error), one row per
  raw row.
  The parsing rules live in bootstrap/parser.py only; engines differ in how they call it.
-#}
{% macro parse_raw_lines(relation) %}
    {{ return(adapter.dispatch('parse_raw_lines', 's3logs')(relation)) }}
{% endmacro %}

{% macro default__parse_raw_lines(relation) %}
    {{ exceptions.raise_compiler_error(
        "s3logs can parse on snowflake and duckdb only, not on " ~ adapter.type()) }}
{% endmacro %}

{#- Snowflake: the Python UDTF whose body is bootstrap/parser.py (see create_parser_udtf). -#}
{% macro snowflake__parse_raw_lines(relation) %}
    select
        src.raw,
        src.file_name,
        src.file_row_number,
        src.file_last_modified,
        src.loaded_at,
        {%- for name, type in s3logs_output_columns() %}
        parsed.{{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ relation }} as src,
        table({{ s3logs_parser_function() }}(src.raw)) as parsed
{% endmacro %}

{#-
  DuckDB: lines of the common shape (a quoted request-URI and referer with no quote inside,
  then a quoted user-agent that ends at the last quote of the line, as the parser rules say;
  ASCII numbers; a plain timestamp; percent-escapes in the key that decode to valid UTF-8)
  are split natively, in parallel, by the expressions below, which mirror parser._fast_row
  and parser.derive step by step. Every other line, and every line when var
  s3logs_native_parse is false, goes through the Python parser itself, registered as
  s3logs_parse() by bootstrap/duckdb_udf.py. A Python function per line would hold the whole
  pipeline to one core; tests/python/test_dbt_conformance.py proves the two paths give
  identical rows on the whole test corpus.
-#}
{% macro duckdb__parse_raw_lines(relation) %}
    {%- set native = var('s3logs_native_parse', true) %}
    with

    -- each line split at double quotes (q: 7 parts in the common shape; more when the
    -- user-agent holds quotes: it is then q[6] to the part before the last, joined by quotes)
    quotes_split as (
        select
            *,
            string_split(raw, '"') as q
        from {{ relation }}
    ),

    -- and those parts at spaces: h (fields 0-8), m (status .. turn-around time), t (the
    -- fields after the user-agent)
    fields_split as (
        select
            *,
            case when len(q) >= 7 and q[5] = ' ' then string_split(q[1], ' ') end as h,
            case when len(q) >= 7 and q[5] = ' ' then string_split(q[3], ' ') end as m,
            case when len(q) >= 7 and q[5] = ' ' and q[-1] <> '' then string_split(q[-1], ' ') end
                as t
        from quotes_split
    ),

    -- a host id written as two tokens (records of 2019) joined back into one element of t,
    -- told by the fields after it as parser._host_id_tokens tells it (t[1] is empty, t[2] the
    -- version id, t[3] and t[4] the host id tokens, t[5] the signature version)
    realigned as (
        select
            * replace (
                case
                    when
                        len(t) >= 8
                        and t[4] not in ('SigV2', 'SigV4', '-', '')
                        and t[5] in ('SigV2', 'SigV4', '-')
                        and t[3] not in ('-', '')
                        and t[7] in ('AuthHeader', 'QueryString', '-')
                        and (strpos(t[8], '.') > 0 or strpos(t[8], ':') > 0)
                        and regexp_full_match(t[6], '-|[A-Z0-9]+([-_][A-Z0-9]+)+')
                        and (len(t) < 9 or t[9] = '-' or starts_with(t[9], 'TLSv'))
                        and (len(t) < 10 or t[10] = '-' or starts_with(t[10], 'arn:'))
                        then list_concat(t[1:2], [t[3] || ' ' || t[4]], t[5:])
                    else t
                end as t
            )
        from fields_split
    ),

    candidates as (
        select
            *,
            try_strptime(substr(h[3], 2), '%d/%b/%Y:%H:%M:%S') as local_time
        from realigned
    ),

    classified as (
        select
            *,
            {{ native }} and coalesce(
                -- a line ending in CR or LF (not left by the loaders) is the parser's to strip
                not (suffix(raw, chr(13)) or suffix(raw, chr(10)))
                and len(h) = 10 and h[10] = ''
                -- status, error code, bytes sent, object size, total and turn-around time
                and strlen(q[3]) = length(q[3])
                and regexp_full_match(
                    q[3],
                    ' (-|[0-9]{1,9}) [^ ]+ (-|[0-9]{1,18}) (-|[0-9]{1,18}) (-|[0-9]{1,9})'
                    || ' (-|[0-9]{1,9}) '
                )
                and (t is null or t[1] = '')
                and regexp_full_match(
                    h[3] || ' ' || h[4],
                    '\[[0-9]{2}/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/[1-8][0-9]{3}'
                    || ':[0-9]{2}:[0-9]{2}:[0-5][0-9] [+-]([01][0-9]|2[0-3])[0-5][0-9]\]'
                )
                and local_time is not null
                -- percent-escapes that decode to valid UTF-8, where url_decode equals
                -- Python's unquote (others, e.g. %FF, go to the parser)
                and (
                    strpos(h[9], '%') = 0
                    or regexp_full_match(
                        h[9],
                        '([^%]|%[2-7][0-9A-Fa-f]|%[Cc][2-9A-Fa-f]%[89ABab][0-9A-Fa-f]'
                        || '|%[Dd][0-9A-Fa-f]%[89ABab][0-9A-Fa-f]'
                        || '|%[Ee][1-9A-Ca-cEFef](%[89ABab][0-9A-Fa-f]){2}'
                        || '|%[Ff][1-3](%[89ABab][0-9A-Fa-f]){3})*'
                    )
                ),
                false
            ) as is_native
        from candidates
    ),

    native_fields as (
        -- Both paths in one pass: the Python parser is called (through CASE) on the lines the
        -- verdict leaves to it only; the native expressions below cannot fail on those (try_*),
        -- and their values are discarded for them.
        select
            raw,
            file_name,
            file_row_number,
            file_last_modified,
            loaded_at,
            is_native,
            case when not is_native then s3logs_parse(raw) end as python_row,
            nullif(nullif(h[1], '-'), '') as bucket_owner,
            nullif(nullif(h[2], '-'), '') as bucket,
            local_time
            - (case when h[4][1] = '+' then 1 else -1 end)
            * (try_cast(h[4][2:3] as integer) * 60 + try_cast(h[4][4:5] as integer))
            * interval 1 minute as requested_at,
            nullif(nullif(h[5], '-'), '') as remote_ip,
            nullif(nullif(h[6], '-'), '') as requester,
            nullif(nullif(h[7], '-'), '') as request_id,
            nullif(nullif(h[8], '-'), '') as operation,
            nullif(nullif(h[9], '-'), '') as key,
            nullif(nullif(q[2], '-'), '') as request_uri,
            try_cast(nullif(m[2], '-') as integer) as http_status,
            nullif(nullif(m[3], '-'), '') as error_code,
            try_cast(nullif(m[4], '-') as bigint) as bytes_sent,
            try_cast(nullif(m[5], '-') as bigint) as object_size,
            try_cast(nullif(m[6], '-') as integer) as total_time_ms,
            try_cast(nullif(m[7], '-') as integer) as turnaround_time_ms,
            nullif(nullif(q[4], '-'), '') as referer,
            nullif(nullif(
                case when len(q) = 7 then q[6] else array_to_string(q[6:-2], '"') end, '-'
            ), '') as user_agent,
            nullif(nullif(t[2], '-'), '') as version_id,
            nullif(nullif(t[3], '-'), '') as host_id,
            nullif(nullif(t[4], '-'), '') as signature_version,
            nullif(nullif(t[5], '-'), '') as cipher_suite,
            nullif(nullif(t[6], '-'), '') as auth_type,
            nullif(nullif(t[7], '-'), '') as host_header,
            nullif(nullif(t[8], '-'), '') as tls_version,
            nullif(nullif(t[9], '-'), '') as access_point_arn,
            case t[10] when 'Yes' then true when 'No' then false end as acl_required,
            nullif(nullif(t[11], '-'), '') as source_region,
            -- fields after the 27th verbatim, then an aclRequired value other than Yes, No or
            -- - as acl_required=value (parser._unexpected)
            nullif(concat_ws(
                ' ',
                case when len(t) > 11 then nullif(nullif(array_to_string(t[12:], ' '), '-'), '') end,
                case when t[10] not in ('Yes', 'No', '-', '') then 'acl_required=' || t[10] end
            ), '') as extra_fields,
            string_split(nullif(nullif(q[2], '-'), ''), ' ') as uri_parts,
            string_split(nullif(nullif(h[6], '-'), ''), ':') as arn_parts,
            string_split(nullif(nullif(h[8], '-'), ''), '.') as operation_parts
        from classified
    ),

    native_targets as (
        select
            *,
            nullif(case
                when len(uri_parts) = 2 then uri_parts[2]
                when len(uri_parts) > 2 then array_to_string(uri_parts[2:len(uri_parts) - 1], ' ')
            end, '') as request_target
        from native_fields
    ),

    native as (
        select
            -- the landing and contract columns as split above, then the derived ones
            * exclude (uri_parts, arn_parts, operation_parts, request_target),
            case when is_native then url_decode(key) end as object_key,
            nullif(uri_parts[1], '') as http_method,
            nullif(split_part(request_target, '?', 1), '') as request_path,
            case
                when strpos(request_target, '?') > 0
                    then nullif(substr(request_target, strpos(request_target, '?') + 1), '')
            end as request_query,
            case when len(uri_parts) > 2 then nullif(uri_parts[len(uri_parts)], '') end
                as http_version,
            case
                when requester is null then 'anonymous'
                when requester like 'arn:%' and len(arn_parts) >= 6
                    then case
                        when array_to_string(arn_parts[6:], ':') = 'root' then 'root'
                        when arn_parts[6] like 'user/%' then 'iam_user'
                        when arn_parts[6] like 'assumed-role/%' then 'assumed_role'
                        when arn_parts[6] like 'federated-user/%' then 'federated_user'
                        else 'other'
                    end
                when requester like 'arn:%' then 'other'
                when requester like 'svc:%' or requester like '%.amazonaws.com' then 'aws_service'
                when regexp_full_match(requester, '[0-9a-f]{64}') then 'canonical_user'
                else 'other'
            end as requester_type,
            case
                when requester like 'arn:%' and len(arn_parts) >= 6
                    and regexp_full_match(arn_parts[5], '[0-9]+')
                    then arn_parts[5]
            end as requester_account_id,
            nullif(operation_parts[1], '') as operation_interface,
            nullif(operation_parts[2], '') as operation_verb,
            nullif(array_to_string(operation_parts[3:], '.'), '') as operation_resource,
            cast(null as varchar) as parse_error
        from native_targets
    )

    select
        raw,
        file_name,
        file_row_number,
        file_last_modified,
        loaded_at,
        {#- the values of the Python parser come as text (see bootstrap/duckdb_udf.py) #}
        {%- for name, type in s3logs_output_columns() %}
        {%- set python_value = "python_row[" ~ loop.index ~ "]" %}
        case
            when is_native then {{ name }}
            else {{ python_value if type == "varchar" else "cast(" ~ python_value ~ " as " ~ type ~ ")" }}
        end as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    from native
{% endmacro %}
