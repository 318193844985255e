{#-
    k-anonymity by local recoding and suppression (RULES.md §2). `levels` is a list of generalisation levels, each
    a mapping quasi-identifier column -> SQL expression over the columns of `relation`, from the most precise
    (level 0) to the coarsest. Every row is published at the most precise level whose combination of
    quasi-identifiers, among the rows not yet published at a finer level, covers at least k subjects; rows that no
    level can hide among k are suppressed (left out). The output has `key`, the `carry` columns unchanged, the
    quasi-identifiers as generalised, and `generalisation_level`. Every published combination then covers at least
    k rows: a group is published only when it has k rows itself, and equal combinations from different levels only
    add up.

    One chain of windows, each CTE read once (so no engine copies the input per level): k_level_<j> keeps every
    column of `relation` and adds `_k_open_<j>` (no finer level published the row's key), the group size among
    the open rows at level j (`_k_size_<j>`) and `_k_done_<j>` (the key is published at level j; per key, so a
    key with several rows leaves as a whole, as the earlier NOT IN chain did). No anti-join: the NOT IN chain took
    192 s of a Spark build. A NULL key is treated like any other key.
-#}
{% macro k_anonymise(relation, key, carry, levels, k=5) -%}
    {%- set qis = levels[0].keys() | list -%}
    {%- for level in levels %}
    {%- set j = loop.index0 %}
    {%- set open = "true" if loop.first else "(_k_open_" ~ (j - 1) ~ " and not _k_done_" ~ (j - 1) ~ ")" %}
    k_level_{{ j }} as (
        select
            *,
            (_k_open_{{ j }} and max(case when _k_open_{{ j }} and _k_size_{{ j }} >= {{ k }} then 1 else 0 end)
                over (partition by {{ key }}) = 1) as _k_done_{{ j }}
        from (
            select
                *,
                count(*) over (partition by _k_open_{{ j }}, {% for q in qis %}{{ level[q] }}{{ ", " if not loop.last }}{% endfor %}) as _k_size_{{ j }}
            from (
                select *, {{ open }} as _k_open_{{ j }}
                from {% if loop.first %}{{ relation }}{% else %}k_level_{{ j - 1 }}{% endif %}
            ) as opened
        ) as sized
    ),
    {%- endfor %}
    k_published as (
        select
            {{ key }},
            {%- for c in carry %}
            {{ c }},
            {%- endfor %}
            {%- for q in qis %}
            case {% for level in levels %}when _k_done_{{ loop.index0 }} then {{ level[q] }} {% endfor %}end as {{ q }},
            {%- endfor %}
            case {% for level in levels %}when _k_done_{{ loop.index0 }} then {{ loop.index0 }} {% endfor %}end as generalisation_level
        from k_level_{{ levels | length - 1 }}
        where {% for level in levels %}_k_done_{{ loop.index0 }}{{ " or " if not loop.last }}{% endfor %}
    )
{%- endmacro %}
