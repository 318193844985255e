{#-
    The latest delivered version per key of an all-versions relation (raw lineage columns _load_id, _line):
    the same rule as raw.<source>_current for event sources. DuckDB uses QUALIFY; elsewhere an anti-join keeps
    the column list unchanged.
-#}
{% macro latest_version(relation, key) -%}
    {{ return(adapter.dispatch('latest_version', 'fleetdw')(relation, key)) }}
{%- endmacro %}

{% macro default__latest_version(relation, key) -%}
    select v.* from {{ relation }} as v
    where not exists (
        select 1 from {{ relation }} as newer
        where newer.{{ key }} = v.{{ key }}
          and (newer._load_id > v._load_id or (newer._load_id = v._load_id and newer._line > v._line))
    )
{%- endmacro %}

{#- Spark: the newest (_load_id, _line) per key by a struct max, joined back (no QUALIFY, no correlated
    inequality subquery). -#}
{% macro spark__latest_version(relation, key) -%}
    select v.* from {{ relation }} as v
    inner join (
        select {{ key }} as _newest_key, max(named_struct('load_id', _load_id, 'line', _line)) as _newest
        from {{ relation }}
        group by {{ key }}
    ) as n
        on n._newest_key = v.{{ key }} and n._newest.load_id = v._load_id and n._newest.line = v._line
{%- endmacro %}

{% macro duckdb__latest_version(relation, key) -%}
    select * from {{ relation }}
    qualify row_number() over (partition by {{ key }} order by _load_id desc, _line desc) = 1
{%- endmacro %}
