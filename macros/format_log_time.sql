{#- A UTC timestamp as the log writes it, without brackets: 06/Feb/2019:00:00:38 +0000 -#}
{% macro s3logs_format_log_time(column) %}
    {{ return(adapter.dispatch('s3logs_format_log_time', 's3logs')(column)) }}
{% endmacro %}

{% macro default__s3logs_format_log_time(column) %}
    strftime({{ column }}, '%d/%b/%Y:%H:%M:%S +0000')
{% endmacro %}

{% macro snowflake__s3logs_format_log_time(column) %}
    to_varchar({{ column }}, 'DD/MON/YYYY:HH24:MI:SS +0000')
{% endmacro %}
