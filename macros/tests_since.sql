{#-
  Data tests over the rows loaded since a moment, instead of over every row.

  `s3logs run` sets var('s3logs_tests_since') on each cycle after its first, to the moment its
  previous load ended: the rows a cycle adds are the ones it must check, and the rows before
  them were checked by an earlier cycle (the parse model only ever replaces rows by their key,
  so old rows cannot change under the tests). Without the var, as in a plain `dbt build`, every
  test reads every row.

  s3logs_loaded_since(): the filter on loaded_at (or `true` without the var).
  default__get_where_subquery: dbt's own (the relation a generic test reads, narrowed by its
  `where` config), with that filter added for relations that have a loaded_at column.
-#}
{% macro s3logs_loaded_since(column='loaded_at') -%}
    {%- set since = var('s3logs_tests_since', none) -%}
    {%- if since -%}
        {{ column }} >= cast('{{ since }}' as timestamp)
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
        {%- if found -%}
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
