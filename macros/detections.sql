{#-
  s3logs_ip_network(column): the network of a remote IP, for first-seen sets: the /24 of an
  IPv4 address, the /64 of an IPv6 one (its first four groups as written, the groups a double
  colon leaves out counted as zero), the text itself for anything else.
-#}
{% macro s3logs_ip_network(column) %}
    {{ return(adapter.dispatch('s3logs_ip_network', 's3logs')(column)) }}
{% endmacro %}

{#- Plain string functions, for any engine: Snowflake, for one -#}
{% macro default__s3logs_ip_network(column) %}
    case
        when {{ column }} like '%:%'
            then
                {%- set head = "split_part(" ~ column ~ ", '::', 1)" %}
                {%- for group in range(1, 5) %}
                    coalesce(nullif(split_part({{ head }}, ':', {{ group }}), ''), '0')
                    {%- if not loop.last %} || ':' ||{% endif %}
                {%- endfor %}
                || '::/64'
        when {{ column }} like '%.%.%.%' then {{ s3logs_ipv4_network(column) }}
        else {{ column }}
    end
{% endmacro %}

{#-
  DuckDB: the same value, the IPv6 groups taken as one list. In the default form the four
  groups repeat one expression (the part before the double colon); DuckDB hoists it out of
  the case and computes it for every address, IPv4 ones included, which tripled the cost of
  the macro on IPv4 traffic.
-#}
{% macro duckdb__s3logs_ip_network(column) %}
    case
        when {{ column }} like '%:%'
            then
                array_to_string(
                    list_transform(
                        (string_split(split_part({{ column }}, '::', 1), ':') || ['0', '0', '0', '0'])[1:4],
                        lambda group_text: coalesce(nullif(group_text, ''), '0')
                    ),
                    ':'
                )
                || '::/64'
        when {{ column }} like '%.%.%.%' then {{ s3logs_ipv4_network(column) }}
        else {{ column }}
    end
{% endmacro %}

{#- The /24 of an IPv4 address written a.b.c.d: a.b.c.0/24 (both forms above) -#}
{% macro s3logs_ipv4_network(column) %}
    left({{ column }}, length({{ column }}) - position('.' in reverse({{ column }}))) || '.0/24'
{% endmacro %}

{#-
  s3logs_activity_columns(alias): the columns of int_s3_access_logs__hourly_activity, each
  qualified with alias, comma-separated: for the detection inputs that pass its rows on.
-#}
{% macro s3logs_activity_columns(alias) %}
    {%- set columns = [
        'activity_hour', 'bucket', 'principal', 'requester_type', 'remote_ip', 'operation',
        'category', 'request_count', 'object_count', 'bytes_sent', 'data_bytes_sent',
        'success_count', 'denied_count', 'not_found_count', 'sigv2_count', 'weak_tls_count',
        'presigned_count', 'first_seen_at', 'last_seen_at', 'first_key', 'last_key',
    ] %}
    {%- for column in columns %}
        {{ alias }}.{{ column }}{% if not loop.last %},{% endif %}
    {%- endfor %}
{% endmacro %}
