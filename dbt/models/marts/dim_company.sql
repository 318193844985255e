with

companies as (

    select * from {{ ref('stg_crm__companies') }}

),

hierarchy as (

    select * from {{ ref('int_company_hierarchy') }}

),

final as (

    select
        -- ids
        c.business_id,
        h.parent_business_id,
        h.top_parent_business_id,
        -- company
        c.company_name,
        c.postal_code,
        c.postal_area,
        c.city,
        -- billing
        c.billing_method,
        c.e_invoice_address,
        c.e_invoice_operator,
        c.payment_terms_days,
        -- group
        top.company_name as top_parent_name,
        h.group_depth,
        h.group_path,
        h.has_cycle as group_has_cycle,
        -- relationship
        c.relationship_start,
        c.relationship_end,
        {{ relationship_active('c.relationship_start', 'c.relationship_end') }} as is_relationship_active
    from companies as c
    left join hierarchy as h
        on h.business_id = c.business_id
    left join companies as top
        on top.business_id = h.top_parent_business_id

)

select * from final
