{#- Persons on the national direct-marketing prohibition list (Robinson): the same normalised phone, or the same
    first name, last name, street address and postal code compared case-insensitively without surrounding spaces.
    One row per matched person, with how they matched. -#}
with

persons as (

    select * from {{ ref('stg_crm__persons') }}

),

robinson as (

    select * from {{ ref('stg_robinson__prohibitions') }}

),

by_phone as (

    select distinct p.person_id
    from persons as p
    inner join robinson as r
        on r.phone = p.phone
    where p.phone is not null

),

by_name_address as (

    select distinct p.person_id
    from persons as p
    inner join robinson as r
        on r.first_name = lower(trim(p.first_name))
        and r.last_name = lower(trim(p.last_name))
        and r.street_address = lower(trim(p.street_address))
        and r.postal_code = trim(p.postal_code)
    where p.street_address is not null
      and p.postal_code is not null

),

final as (

    select
        coalesce(ph.person_id, na.person_id) as person_id,
        (ph.person_id is not null) as matched_by_phone,
        (na.person_id is not null) as matched_by_name_address
    from by_phone as ph
    full outer join by_name_address as na
        on na.person_id = ph.person_id

)

select * from final
