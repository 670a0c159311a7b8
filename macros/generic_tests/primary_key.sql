{#-
  primary_key: fails for every value of the columns that appears more than once or has a null
  in any of them: one scan instead of a uniqueness test plus a not_null test per column.
-#}
{% test primary_key(model, columns) %}
    select
        {{ columns | join(", ") }},
        count(*) as occurrences
    from {{ model }}
    group by {{ columns | join(", ") }}
    having
        count(*) > 1
        {%- for column in columns %}
        or {{ column }} is null
        {%- endfor %}
{% endtest %}
