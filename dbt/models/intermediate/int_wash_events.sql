{#- Current wash events with the contract valid at the wash's local date (by plate) and the washer resolved by
    phone. -#}
with

washes as (

    select * from {{ ref('stg_wash__washes') }}

),

matched as (

    {{ match_events_to_contracts('washes', 'wash_id', 'washed_on') }}

),

resolved as (

    select
        -- ids
        m.wash_id,
        m.contract_id,
        m.customer_business_id,
        m.cost_center,
        m.driver_person_id,
        {{ person_by_phone_columns('phone', 'washer_person_id') }},
        -- vehicle
        m.registration_number,
        -- timestamps
        m.washed_at,
        m.washed_on,
        -- wash
        m.wash_program,
        m.wash_location,
        -- match flags
        m.matching_contracts,
        (m.contract_id is not null) as has_contract,
        m.has_valid_plate,
        -- lineage
        m._load_id
    from matched as m
    left join {{ ref('int_persons_by_phone') }} as pp
        on pp.phone = m.phone

)

select * from resolved
