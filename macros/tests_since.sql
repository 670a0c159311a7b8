{#-
  Data tests over the rows loaded since a moment, instead of over every row.

  s3logs run sets the var s3logs_tests_since on each cycle after its first, to the moment its
  previous load ended: the rows a cycle adds are the ones it must check, and the rows before
  them were checked by an earlier cycle (the parse model only ever replaces rows by their key,
  so old rows cannot change under the tests). Without the var, as in a plain dbt build, every
  test reads every row.

  s3logs_loaded_since(): the filter on loaded_at (or true without the var).
  default__get_where_subquery: as in dbt (the relation a generic test reads, narrowed by its
  where config), with that filter added for relations that have a loaded_at column; for the
  key test primary_key, every row whose key a new row has.

  Why the moment is safe: s3logs run takes it when its loader has finished, and DuckDB lets
  one process write the file at a time, so no batch can start before it and commit after the
  cycle (the loaded_at of a row is when its batch started). Set by hand on a warehouse where
  loads commit late (Snowpipe), take the start of the previous run minus the var
  s3logs_lookback_hours.
-#}
{% macro s3logs_loaded_since(column='loaded_at') -%}
    {%- set since = var('s3logs_tests_since', none) -%}
    {%- if since -%}
        {#- a row without loaded_at is new to every cycle: the not_null tests must see it -#}
        ({{ column }} >= cast('{{ since }}' as {{ s3logs_type_timestamp() }}) or {{ column }} is null)
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{% macro default__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if var('s3logs_tests_since', none) and execute -%}
        {#- whether the tested relation documents a loaded_at column (every column of every
            model here is documented: tests/python/test_dbt_pipeline.py checks it) -#}
        {%- set found = [] -%}
        {%- for unique_id in model.depends_on.nodes -%}
            {%- set node = graph.nodes.get(unique_id) -%}
            {%- if node and node.alias == relation.identifier and 'loaded_at' in node.columns -%}
                {%- do found.append(unique_id) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if found and model.test_metadata and model.test_metadata.name == 'primary_key' -%}
            {#- a key test reads every row whose key a new row has: a new row that repeats
                an old key is what it must catch -#}
            {%- set keys = model.test_metadata.kwargs.get('columns') -%}
            {%- set recent -%}
                ({{ keys | join(', ') }}) in (
                    select {{ keys | join(', ') }} from {{ relation }}
                    where {{ s3logs_loaded_since() }}
                )
            {%- endset -%}
            {%- set where = ('(' ~ where ~ ') and ' if where else '') ~ recent -%}
        {%- elif found -%}
            {%- set where = ('(' ~ where ~ ') and ' if where else '') ~ s3logs_loaded_since() -%}
        {%- endif -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
