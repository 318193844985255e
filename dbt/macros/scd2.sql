{#-
    Type-2 history from every accepted version of a delta source: a version is valid from its updated_at until
    the next version's updated_at (NULL while current). Versions are ordered like raw.<source>_current orders
    them (updated_at, then the later file, then the later line), so the current version here is the row of the
    _current view. A version superseded at the same instant (a tie resolved by file order) is valid for no time
    and is left out. Ask "what did the system say at time T" with valid_from <= T and (valid_to is null or
    valid_to > T).
-#}
{% macro scd2_versions(relation, key) -%}
    select
        *,
        row_number() over (partition by {{ key }} order by updated_at, _load_id, _line) as version_number,
        updated_at as valid_from,
        lead(updated_at) over (partition by {{ key }} order by updated_at, _load_id, _line) as valid_to
    from {{ relation }}
{%- endmacro %}

{% macro scd2_select(versioned) -%}
    select
        *,
        (valid_to is null) as is_current
    from {{ versioned }}
    where valid_to is null or valid_to > valid_from
{%- endmacro %}
