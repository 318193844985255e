{#- Normalised phone -> the CRM person holding it. A number shared by several persons resolves to nobody
    (person_id NULL, persons_with_phone > 1) rather than to a guess. -#}
with

persons as (

    select * from {{ ref('stg_crm__persons') }}

),

by_phone as (

    select
        phone,
        case when count(*) = 1 then min(person_id) end as person_id,
        count(*) as persons_with_phone
    from persons
    where phone is not null
    group by phone

)

select * from by_phone
