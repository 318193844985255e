{#-
    Erasure requests (ops.erasure_requests, created by ingest/ops_tables.py and written by `fleetdw erase`), or no
    rows when that control table does not exist yet (a warehouse built by dbt alone). Read at run time, so a
    request recorded before a run takes effect in that run.
-#}
{% macro erasure_requests_relation() -%}
    {%- set rel = none -%}
    {%- if execute -%}
        {%- set rel = adapter.get_relation(database=target.database, schema='ops', identifier='erasure_requests') -%}
    {%- endif -%}
    {%- if rel is not none -%}
        (select cast(person_id as {{ fleetdw.type_text() }}) as person_id, requested_at, executed_at from {{ rel }})
    {%- else -%}
        (select cast(null as {{ fleetdw.type_text() }}) as person_id, cast(null as {{ fleetdw.type_instant() }}) as requested_at,
                cast(null as {{ fleetdw.type_instant() }}) as executed_at where 1 = 0)
    {%- endif -%}
{%- endmacro %}
