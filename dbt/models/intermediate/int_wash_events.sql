{#- Current wash events with the contract valid at the wash's local date (by plate) and the washer resolved by
    phone. -#}
with

washes as (

    select * from {{ ref('stg_wash__washes') }}

),

matched as (

    {{ match_events_to_contracts('washes', 'wash_id', 'washed_on', 'wash') }}

),

resolved as (

    {{ resolve_person_by_phone('matched', 'washer') }}

),

final as (

    select
        -- ids
        wash_id,
        contract_id,
        customer_business_id,
        cost_center,
        driver_person_id,
        washer_person_id,
        washer_match,
        -- vehicle
        registration_number,
        -- timestamps
        washed_at,
        washed_on,
        -- wash
        wash_program,
        wash_location,
        -- match flags
        matching_contracts,
        has_contract,
        has_valid_plate,
        -- lineage
        _load_id
    from resolved

)

select * from final
