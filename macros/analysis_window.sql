{#-
  The time window of the analyses: and <column> >= start_at and <column> < end_at, for the
  vars that are set (ISO timestamps, UTC; start inclusive, end exclusive); nothing when unset.
-#}
{% macro s3logs_in_window(column) %}
    {%- set start_at = var('start_at', none) %}
    {%- set end_at = var('end_at', none) %}
    {%- if start_at is not none %}
        and {{ column }} >= {{ s3logs_timestamp_literal(start_at) }}
    {%- endif %}
    {%- if end_at is not none %}
        and {{ column }} < {{ s3logs_timestamp_literal(end_at) }}
    {%- endif %}
{% endmacro %}

{% macro s3logs_timestamp_literal(value) -%}
    cast('{{ dbt.escape_single_quotes(value | string) }}' as {{ s3logs_type_timestamp() }})
{%- endmacro %}
