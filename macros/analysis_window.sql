{#-
  The time window of the analyses: and <column> >= start_at and <column> < end_at, for the
  vars that are set (checked and converted to UTC by s3logs_window_vars; start inclusive, end
  exclusive); nothing when unset.
-#}
{% macro s3logs_in_window(column) %}
    {%- set start_at, end_at = s3logs_window_vars() %}
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
