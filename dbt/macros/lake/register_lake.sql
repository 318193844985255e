{#-
    Registers the Parquet lake (dagster_project/lake) as the raw sources on Spark:
        dbt run-operation register_lake --target spark --args "$(python -m dagster_project.lake register-args)"
    `tables`: [{schema, name, location, columns: [[name, spark type], ...]}] -> external `using parquet` tables
    with the DuckDB column order (recursiveFileLookup: the `_load_id=N` directories are files of one table, and
    _load_id is a column of the files); `views`: [{schema, name, sql}] -> the `raw.<source>_current` views;
    `absent`: tables the warehouse does not have yet, dropped so that no stale copy is read. Names and types only:
    no value passes through here.
-#}
{% macro register_lake(tables, views, absent=[]) %}
    {%- if target.type != 'spark' -%}
        {{ exceptions.raise_compiler_error("register_lake is for Spark targets; DuckDB reads the raw schema itself") }}
    {%- endif -%}
    {%- set schemas = [] -%}
    {%- for t in tables -%}{%- if t.schema not in schemas -%}{%- do schemas.append(t.schema) -%}{%- endif -%}{%- endfor -%}
    {%- for s in schemas %}
        {%- do run_query('create schema if not exists ' ~ s) -%}
    {%- endfor %}
    {%- for v in views %}
        {%- do run_query('drop view if exists ' ~ v.schema ~ '.' ~ v.name) -%}
    {%- endfor %}
    {%- for t in tables %}
        {%- set columns = [] -%}
        {%- for c in t.columns -%}{%- do columns.append('`' ~ c[0] ~ '` ' ~ c[1]) -%}{%- endfor -%}
        {%- do run_query('drop table if exists ' ~ t.schema ~ '.' ~ t.name) -%}
        {%- do run_query('create table ' ~ t.schema ~ '.' ~ t.name ~ ' (' ~ columns | join(', ') ~ ') using parquet'
                         ~ " options ('recursiveFileLookup' 'true') location '" ~ t.location ~ "'") -%}
    {%- endfor %}
    {%- for name in absent %}
        {%- do run_query('drop table if exists ' ~ name) -%}
    {%- endfor %}
    {%- for v in views %}
        {%- do run_query('create view ' ~ v.schema ~ '.' ~ v.name ~ ' as ' ~ v.sql) -%}
    {%- endfor %}
    {{ log("register_lake: " ~ tables | length ~ " table(s), " ~ views | length ~ " view(s)", info=true) }}
{% endmacro %}

{#- The suite's check of spark__pseudonym (tests/support/spark.py): a temporary view (session memory only) of
    `column` of `relation` with its pseudonym, for synthetic inputs. -#}
{% macro spark_pseudonym_probe(relation, column, domain) %}
    {%- do run_query('create or replace temporary view fleetdw_probe_result as select ' ~ column ~ ', '
                     ~ fleetdw.pseudonym(domain, column) ~ ' as p from ' ~ relation) -%}
{% endmacro %}
