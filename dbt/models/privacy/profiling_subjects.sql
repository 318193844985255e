{#- Who may be profiled as of var('as_of') (RULES.md §2): every CRM person unless their latest profiling event is a
    withdraw or an object, or an erasure was requested; and whether location-derived data may be used for them (a
    current location_tracking grant). One row per CRM person; profiling models keep is_profiled persons only. -#}
with

persons as (

    select person_id from {{ ref('stg_crm__persons') }}

),

consent as (

    select * from {{ ref('consent_state') }}
    where purpose in ('profiling', 'location_tracking')

),

erased as (

    select person_id from {{ ref('erased_persons') }}

),

final as (

    select
        p.person_id,
        coalesce(pr.state, 'none') as profiling_state,
        coalesce(loc.state, 'none') as location_tracking_state,
        coalesce(pr.state, 'none') <> 'refused' and e.person_id is null as is_profiled,
        coalesce(loc.state = 'granted', false) as has_location_grant
    from persons as p
    left join consent as pr
        on pr.person_id = p.person_id and pr.purpose = 'profiling'
    left join consent as loc
        on loc.person_id = p.person_id and loc.purpose = 'location_tracking'
    left join erased as e
        on e.person_id = p.person_id

)

select * from final
