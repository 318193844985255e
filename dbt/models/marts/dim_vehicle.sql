{#- One row per vehicle (VIN). Attributes come from the vehicle's latest contract; a contract without a VIN
    (ordered, not yet delivered) has no vehicle yet. -#}
with

contracts as (

    select * from {{ ref('stg_fleet__contracts') }}
    where vin is not null

),

tank_limits as (

    select * from {{ ref('vehicle_tank_limits') }}

),

ranked as (

    select
        *,
        count(*) over (partition by vin) as contract_count,
        row_number() over (
            partition by vin order by coalesce(start_date, delivery_date) desc, updated_at desc, contract_id desc
        ) as recency_rank
    from contracts

),

final as (

    select
        -- ids
        r.vin,
        r.registration_number,
        r.contract_id as latest_contract_id,
        -- vehicle
        r.make,
        r.model,
        r.first_registration_date,
        r.vehicle_class,
        r.power_source,
        r.co2_g_km,
        t.max_plausible_liters,
        -- contracts
        r.status as latest_contract_status,
        r.contract_count
    from ranked as r
    left join tank_limits as t
        on t.vehicle_class = coalesce(r.vehicle_class, 'unknown')
    where r.recency_rank = 1

)

select * from final
