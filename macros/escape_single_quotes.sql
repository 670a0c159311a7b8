{#-
  Snowflake reads backslash escapes inside single-quoted literals, so a value such as an S3
  key that contains a backslash must have it doubled as well as its quotes. Overrides the
  Snowflake version of dbt, which escapes the quotes only (the analyses pass user input
  through it).
-#}
{% macro snowflake__escape_single_quotes(expression) -%}
    {{ expression | replace("\\", "\\\\") | replace("'", "\\'") }}
{%- endmacro %}
