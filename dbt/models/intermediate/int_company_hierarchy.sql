{#-
    Group (konserni) chain of every company, walked up parent_business_id with a fixed number of self-joins
    (portable: no recursive CTE, which Spark lacks). Level k holds the k-th ancestor. A parent that is not itself
    in the CRM still counts as an ancestor (the chain stops there). A cycle stops the walk at the repeat and sets
    has_cycle; a chain longer than max_depth sets is_truncated.
-#}
{%- set max_depth = 8 -%}
with

companies as (

    select business_id, parent_business_id from {{ ref('stg_crm__companies') }}

),

level_0 as (

    select
        c.business_id,
        c.business_id as ancestor_0,
        cast(false as boolean) as has_cycle_0
    from companies as c

),

{% for k in range(1, max_depth + 1) %}
level_{{ k }} as (

    select
        l.*,
        case
            when l.ancestor_{{ k - 1 }} is null then null
            when p.parent_business_id in ({% for j in range(k) %}l.ancestor_{{ j }}{{ ", " if not loop.last }}{% endfor %}) then null
            else p.parent_business_id
        end as ancestor_{{ k }},
        l.has_cycle_{{ k - 1 }} or coalesce(
            p.parent_business_id in ({% for j in range(k) %}l.ancestor_{{ j }}{{ ", " if not loop.last }}{% endfor %}),
            false) as has_cycle_{{ k }}
    from level_{{ k - 1 }} as l
    left join companies as p
        on p.business_id = l.ancestor_{{ k - 1 }}

),
{% endfor %}

chains as (

    select
        business_id,
        {% for k in range(1, max_depth + 1) %}ancestor_{{ k }},
        {% endfor %}has_cycle_{{ max_depth }} as has_cycle
    from level_{{ max_depth }}

),

hierarchy as (

    select
        -- ids
        business_id,
        ancestor_1 as parent_business_id,
        coalesce({% for k in range(max_depth, 0, -1) %}ancestor_{{ k }}, {% endfor %}business_id) as top_parent_business_id,
        -- shape
        ({% for k in range(1, max_depth + 1) %}case when ancestor_{{ k }} is not null then 1 else 0 end{{ " + " if not loop.last }}{% endfor %}) as group_depth,
        {% for k in range(max_depth, 0, -1) %}coalesce(ancestor_{{ k }} || ' > ', '') || {% endfor %}business_id as group_path,
        has_cycle,
        (ancestor_{{ max_depth }} is not null) as is_truncated
    from chains

)

select * from hierarchy
