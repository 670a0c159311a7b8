{#-
  Snowflake reads backslash escapes inside '…' literals, so a value such as an S3 key that
  contains `\` must have it doubled as well as its quotes. Overrides dbt's Snowflake version,
  which escapes the quotes only (the analyses pass user input through it).
-#}
{% macro snowflake__escape_single_quotes(expression) -%}
    {{ expression | replace("\\", "\\\\") | replace("'", "\\'") }}
{%- endmacro %}
