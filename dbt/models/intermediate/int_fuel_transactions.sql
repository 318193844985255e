{#- Current fuel transactions (latest delivered version per id) with the contract valid at the refuelling's
    local date (by plate) and the refueller resolved by phone. -#}
with

versions as (

    select * from {{ ref('stg_fuel__transactions') }}

),

latest as (

    {{ latest_version('versions', 'transaction_id') }}

),

matched as (

    {{ match_events_to_contracts('latest', 'transaction_id', 'refueled_on') }}

),

resolved as (

    select
        -- ids
        m.transaction_id,
        m.contract_id,
        m.customer_business_id,
        m.cost_center,
        m.driver_person_id,
        {{ person_by_phone_columns('phone', 'refueller_person_id') }},
        -- vehicle
        m.registration_number,
        m.power_source,
        m.vehicle_class,
        -- timestamps
        m.refueled_at,
        m.refueled_on,
        -- purchase
        m.product,
        m.is_ev_charging,
        m.fuel_company,
        m.station_name,
        m.city,
        m.liters,
        m.kwh,
        m.amount_eur,
        -- match flags
        m.matching_contracts,
        (m.contract_id is not null) as has_contract,
        (pp.person_id is not null and pp.person_id = m.driver_person_id) as is_refueller_driver,
        m.has_valid_plate,
        -- lineage
        m._load_id
    from matched as m
    left join {{ ref('int_persons_by_phone') }} as pp
        on pp.phone = m.phone

)

select * from resolved
