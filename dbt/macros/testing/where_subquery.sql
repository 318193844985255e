{#- dbt's get_where_subquery (the relation a data test reads, filtered by its `where` config), with the filter of
    a build that covers only new loads: a test whose config sets meta.new_rows_after_load (the load id column; set
    in dbt_project.yml for the staging views of the append-only event sources) reads only the rows of loads after
    FLEETDW_TESTS_AFTER_LOAD, which the pipeline sets from the recorded builds (build_state.tests_after_load; 0 or
    unset: every row). Only tests that judge each row on its own are filtered (an allow-list), and a uniqueness
    test of columns that include the load id (no row of an older load can share a newer load's id); other
    uniqueness, relationship and cross-row tests always read every row, as a new row can collide with an old one.
    The environment is read only while tests run (`execute`), like the run's date (macro as_of_value), so the
    parse cache survives its daily change. -#}
{% macro default__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set column = (config.get('meta') or {}).get('new_rows_after_load') -%}
    {%- set test = (model.get('test_metadata') or {}) if model is mapping else {} -%}
    {%- set kind = test.get('name', '') -%}
    {%- set by_load = kind == 'unique_combination_of_columns'
            and column in ((test.get('kwargs') or {}).get('combination_of_columns') or []) -%}
    {%- if execute and column and (kind in ('not_null', 'accepted_values', 'expect_null', 'accepted_range')
            or by_load) -%}
        {%- set after = env_var('FLEETDW_TESTS_AFTER_LOAD', '0') | int -%}
        {%- if after > 0 -%}
            {%- set new_rows = column ~ ' > ' ~ after -%}
            {%- set where = '(' ~ where ~ ') and ' ~ new_rows if where else new_rows -%}
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
