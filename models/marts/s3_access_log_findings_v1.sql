{#-
  One row per finding of the detections (models/detections), kept across builds: a build adds
  the findings it sees for the first time, stamped with its own start as first_reported_at,
  and refreshes the counts of those it had reported before, keeping their first_reported_at.
  The test new_s3_access_log_findings (severity warn) lists the findings of this build: the
  alert of a scheduled dbt build. A finding no longer seen (its hours left the history window)
  stays.
-#}
{{
    config(
        materialized='incremental',
        unique_key='finding_id',
        incremental_strategy=s3logs_incremental_strategy(),
        on_schema_change='fail',
        tags=['detections'],
    )
}}

with

detected as (
    {%- for detection in [
        'detect_egress_anomaly',
        'detect_new_access_pattern',
        'detect_enumeration',
        'detect_destruction_tampering',
        'detect_weak_access',
    ] %}
        {%- if not loop.first %}
            union all
        {%- endif %}
        select
            cast(finding_id as varchar) as finding_id,
            cast(detection as varchar) as detection,
            cast(rule as varchar) as rule,
            cast(severity as varchar) as severity,
            cast(mitre_technique as varchar) as mitre_technique,
            cast(principal as varchar) as principal,
            cast(remote_ip as varchar) as remote_ip,
            cast(bucket as varchar) as bucket,
            cast(first_seen_at as {{ s3logs_type_timestamp() }}) as first_seen_at,
            cast(last_seen_at as {{ s3logs_type_timestamp() }}) as last_seen_at,
            cast(request_count as bigint) as request_count,
            cast(object_count as bigint) as object_count,
            cast(bytes_sent as bigint) as bytes_sent,
            cast(sample_keys as varchar) as sample_keys,
            cast(evidence as varchar) as evidence
        from {{ ref(detection) }}
    {%- endfor %}
),

{% if is_incremental() %}
    reported as (
        select
            finding_id,
            first_reported_at
        from {{ this }}
    ),
{% endif %}

final as (
    select
        detected.*,
        {%- if is_incremental() %}
            coalesce(reported.first_reported_at, {{ s3logs_run_started_at() }})
        {%- else %}
            {{ s3logs_run_started_at() }}
        {%- endif %} as first_reported_at
    from detected
    {%- if is_incremental() %}
        left join reported
            on detected.finding_id = reported.finding_id
    {%- endif %}
)

select * from final
