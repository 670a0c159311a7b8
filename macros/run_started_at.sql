{#-
  The start of this dbt invocation as a UTC timestamp literal: the first_reported_at of the
  findings a build adds, and how the test new_s3_access_log_findings knows them.
-#}
{% macro s3logs_run_started_at() %}
    {{- s3logs_timestamp_literal(run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f')) -}}
{% endmacro %}
