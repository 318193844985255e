{#-
    k-anonymity by local recoding and suppression (RULES.md §2). `levels` is a list of generalisation levels, each
    a mapping quasi-identifier column -> SQL expression over the columns of `relation`, from the most precise
    (level 0) to the coarsest. Every row is published at the most precise level whose combination of
    quasi-identifiers, among the rows not yet published at a finer level, covers at least k subjects; rows that no
    level can hide among k are suppressed (left out). The output has `key`, the `carry` columns unchanged, the
    quasi-identifiers as generalised, and `generalisation_level`. Every published combination then covers at least
    k rows: a group is published only when it has k rows itself, and equal combinations from different levels only
    add up.
-#}
{% macro k_anonymise(relation, key, carry, levels, k=5) -%}
    {%- set qis = levels[0].keys() | list -%}
    {%- for level in levels %}
    k_level_{{ loop.index0 }} as (
        select
            {{ key }},
            {%- for c in carry %}
            {{ c }},
            {%- endfor %}
            {%- for q in qis %}
            {{ level[q] }} as {{ q }},
            {%- endfor %}
            {{ loop.index0 }} as generalisation_level,
            count(*) over (partition by {% for q in qis %}{{ level[q] }}{{ ", " if not loop.last }}{% endfor %}) as k_group_size
        from {{ relation }}
        {%- if not loop.first %}
        where {{ key }} not in (
            {%- for j in range(loop.index0) %}
            select {{ key }} from k_level_{{ j }} where k_group_size >= {{ k }}{{ " union all" if not loop.last }}
            {%- endfor %}
        )
        {%- endif %}
    ),
    {%- endfor %}
    k_published as (
        {%- for level in levels %}
        select {{ key }}, {% for c in carry %}{{ c }}, {% endfor %}{% for q in qis %}{{ q }}, {% endfor %}generalisation_level
        from k_level_{{ loop.index0 }} where k_group_size >= {{ k }}
        {{ "union all" if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}
