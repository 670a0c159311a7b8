{#-
  Fails for every combination of `combination_of_columns` that appears more than once
  (null values count as values). Written here because dbt packages cannot be installed.
-#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    select
        {{ combination_of_columns | join(", ") }},
        count(*) as occurrences
    from {{ model }}
    group by {{ combination_of_columns | join(", ") }}
    having count(*) > 1
{% endtest %}
