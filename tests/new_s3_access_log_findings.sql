{#-
  The alert of a scheduled build: the findings this build reported for the first time. Severity
  warn, so that dbt build (and s3logs run) ends with a warning naming how many, and the next
  build without new findings is quiet.
-#}
{{ config(severity='warn', tags=['detections']) }}

select
    finding_id,
    severity,
    detection,
    rule,
    mitre_technique,
    principal,
    remote_ip,
    bucket,
    first_seen_at,
    last_seen_at,
    request_count,
    bytes_sent
from {{ ref('s3_access_log_findings') }}
where first_reported_at = {{ s3logs_run_started_at() }}
