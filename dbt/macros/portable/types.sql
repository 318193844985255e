{#- Types, aggregates and constructors that DuckDB and Spark spell differently. -#}

{#- Text: DuckDB varchar, Spark string (a Spark varchar needs a length). -#}
{% macro type_text() -%}
    {{ return(adapter.dispatch('type_text', 'fleetdw')()) }}
{%- endmacro %}

{% macro default__type_text() -%}varchar{%- endmacro %}

{% macro spark__type_text() -%}string{%- endmacro %}

{#- An instant (a timestamp with a time zone): Spark's timestamp is instant-based already. -#}
{% macro type_instant() -%}
    {{ return(adapter.dispatch('type_instant', 'fleetdw')()) }}
{%- endmacro %}

{% macro default__type_instant() -%}timestamp with time zone{%- endmacro %}

{% macro spark__type_instant() -%}timestamp{%- endmacro %}

{#- The continuous (interpolated) quantile p of expr. -#}
{% macro percentile_cont(expr, p) -%}
    {{ return(adapter.dispatch('percentile_cont', 'fleetdw')(expr, p)) }}
{%- endmacro %}

{% macro default__percentile_cont(expr, p) -%}
    percentile_cont({{ p }}) within group (order by {{ expr }})
{%- endmacro %}

{% macro duckdb__percentile_cont(expr, p) -%}
    quantile_cont({{ expr }}, {{ p }})
{%- endmacro %}

{% macro spark__percentile_cont(expr, p) -%}
    percentile({{ expr }}, {{ p }})
{%- endmacro %}

{#- A JSON object as text from (key, SQL expression) pairs, keys in the given order and NULLs written as null
    (DuckDB's to_json of a struct; Spark's to_json drops NULL fields unless told not to). -#}
{% macro json_object(pairs) -%}
    {{ return(adapter.dispatch('json_object', 'fleetdw')(pairs)) }}
{%- endmacro %}

{% macro duckdb__json_object(pairs) -%}
    to_json({ {%- for k, v in pairs %}'{{ k }}': {{ v }}{{ ", " if not loop.last }}{% endfor -%} })::varchar
{%- endmacro %}

{% macro spark__json_object(pairs) -%}
    to_json(named_struct({%- for k, v in pairs %}'{{ k }}', {{ v }}{{ ", " if not loop.last }}{% endfor -%}),
            map('ignoreNullFields', 'false'))
{%- endmacro %}

{#- Materialisation of the models that are incremental on DuckDB (strategy delete+insert). Plain Parquet tables on
    Spark have no row-level replace (merge needs Delta or Iceberg), and insert_overwrite replaces whole partitions
    the models do not have: on Spark they are rebuilt in full, which gives the same rows (an incremental run
    equals a full refresh on DuckDB, tests/test_dbt_marts.py). -#}
{% macro incremental_materialization() -%}
    {{ return(adapter.dispatch('incremental_materialization', 'fleetdw')()) }}
{%- endmacro %}

{% macro default__incremental_materialization() -%}{{ return('incremental') }}{%- endmacro %}

{% macro spark__incremental_materialization() -%}{{ return('table') }}{%- endmacro %}
