{#-
  The input of detect_new_access_pattern: first-seen sets, kept in the engine as they have a
  row per principal and network. For each authenticated principal (S3 itself and anonymous
  requests left out), the first hour of each network it connects from (macro
  s3logs_ip_network: the /24 or /64) and of each operation category; those first seen at
  least s3logs_new_pattern_warmup_hours after the principal itself are new. Their activity
  in their first s3logs_new_pattern_window_hours, summed per attribute (network or category),
  principal, bucket and hour: how many new values, the smallest of them and its first hour,
  how many the principal had before, the smallest remote IP.
-#}

with

activity as (
    -- the columns used below only: the engine keeps this CTE, read three times, in memory
    select
        hourly.activity_hour,
        hourly.bucket,
        hourly.principal,
        hourly.remote_ip,
        hourly.category,
        hourly.request_count,
        hourly.object_count,
        hourly.bytes_sent,
        hourly.first_seen_at,
        hourly.last_seen_at,
        hourly.first_key,
        hourly.last_key,
        {{ s3logs_ip_network('hourly.remote_ip') }} as network
    from {{ ref('int_s3_access_logs__hourly_activity') }} as hourly
    where
        hourly.principal <> 'anonymous'
        and coalesce(hourly.requester_type, '') <> 'aws_service'
        and hourly.remote_ip <> '-'
),

principals as (
    select
        principal,
        min(activity_hour) as principal_first_hour
    from activity
    group by principal
),

first_seen as (
    select
        principal,
        network as attribute_value,
        'network' as attribute_name,
        min(activity_hour) as first_hour
    from activity
    group by principal, network
    union all
    select
        principal,
        category as attribute_value,
        'category' as attribute_name,
        min(activity_hour) as first_hour
    from activity
    group by principal, category
),

-- how many values of each attribute a principal first used in each hour, and how many it had
-- used before that hour: a running sum over these few rows (a rank over every value would sort
-- them all)
first_hours as (
    select
        attribute_name,
        principal,
        first_hour,
        count(*) as first_used
    from first_seen
    group by attribute_name, principal, first_hour
),

known as (
    select
        attribute_name,
        principal,
        first_hour,
        -- a whole number, as rank() gave (DuckDB sums into a 128-bit integer, which pandas
        -- turns into a float)
        cast(coalesce(sum(first_used) over (
            partition by attribute_name, principal
            order by first_hour
            rows between unbounded preceding and 1 preceding
        ), 0) as bigint) as known_before
    from first_hours
),

ranked as (
    select
        first_seen.*,
        principals.principal_first_hour,
        known.known_before
    from first_seen
    inner join principals
        on first_seen.principal = principals.principal
    inner join known
        on
            first_seen.attribute_name = known.attribute_name
            and first_seen.principal = known.principal
            and first_seen.first_hour = known.first_hour
),

new_values as (
    select * from ranked
    where first_hour >= {{ dbt.dateadd(
        'hour', var('s3logs_new_pattern_warmup_hours'), 'principal_first_hour'
    ) }}
),

-- The activity of each new value in its first window: networks and categories joined apart,
-- each on its own column, so that the engine joins on equal keys (one join on a column chosen
-- per row would compare every new value of a principal with every hour of its activity).
new_activity as (
    {%- for attribute in ['network', 'category'] %}
        {%- if not loop.first %}
            union all
        {%- endif %}
        select
            new_values.attribute_name,
            new_values.attribute_value,
            new_values.first_hour,
            new_values.known_before,
            new_values.principal_first_hour,
            activity.principal,
            activity.bucket,
            activity.activity_hour,
            activity.remote_ip,
            activity.category,
            activity.request_count,
            activity.object_count,
            activity.bytes_sent,
            activity.first_seen_at,
            activity.last_seen_at,
            activity.first_key,
            activity.last_key
        from new_values
        inner join activity
            on
                new_values.principal = activity.principal
                and new_values.attribute_value = activity.{{ attribute }}
                and activity.activity_hour < {{ dbt.dateadd(
                    'hour', var('s3logs_new_pattern_window_hours'), 'new_values.first_hour'
                ) }}
        where new_values.attribute_name = '{{ attribute }}'
    {%- endfor %}
),

final as (
    select
        attribute_name,
        principal,
        bucket,
        activity_hour,
        cast(sum(request_count) as bigint) as request_count,
        cast(sum(object_count) as bigint) as object_count,
        cast(sum(bytes_sent) as bigint) as bytes_sent,
        min(principal_first_hour) as principal_first_hour,
        count(distinct attribute_value) as new_values,
        min(attribute_value) as first_value,
        min(first_hour) as first_hour,
        min(known_before) as known_before,
        min(remote_ip) as remote_ip,
        min(category) as first_category,
        max(category) as last_category,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        min(first_key) as first_key,
        max(last_key) as last_key
    from new_activity
    group by attribute_name, principal, bucket, activity_hour
)

select * from final
