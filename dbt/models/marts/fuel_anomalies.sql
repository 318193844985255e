{#- One row per (transaction, anomaly). Anomaly types:
    wrong_fuel          the product does not fit the car's power source (seed fuel_power_compatibility);
    over_tank_capacity  more litres than the vehicle class can plausibly take at once (seed vehicle_tank_limits);
    no_active_contract  no contract had the plate on the refuelling's date;
    refuel_too_soon     the same car refuelled (not charged) at the same place less than
                        var('refuel_min_interval_minutes') minutes before; related_transaction_id is that one. -#}
with

fuel as (

    select * from {{ ref('fct_fuel_transactions') }}

),

compatibility as (

    select * from {{ ref('fuel_power_compatibility') }}

),

tank_limits as (

    select * from {{ ref('vehicle_tank_limits') }}

),

wrong_fuel as (

    select
        f.transaction_id,
        'wrong_fuel' as anomaly_type,
        cast(null as {{ type_text() }}) as related_transaction_id
    from fuel as f
    where f.power_source is not null
      and not exists (
          select 1 from compatibility as c
          where c.power_source = f.power_source and c.product = f.product
      )

),

over_tank_capacity as (

    select
        f.transaction_id,
        'over_tank_capacity' as anomaly_type,
        cast(null as {{ type_text() }}) as related_transaction_id
    from fuel as f
    inner join tank_limits as t
        on t.vehicle_class = coalesce(f.vehicle_class, 'unknown')
    where f.liters > t.max_plausible_liters

),

no_active_contract as (

    select
        transaction_id,
        'no_active_contract' as anomaly_type,
        cast(null as {{ type_text() }}) as related_transaction_id
    from fuel
    where not has_contract

),

refuellings as (

    select
        transaction_id,
        refueled_at,
        lower(coalesce(station_name, city)) as place,
        lag(transaction_id) over (partition by registration_number order by refueled_at, transaction_id)
            as previous_transaction_id,
        lag(refueled_at) over (partition by registration_number order by refueled_at, transaction_id)
            as previous_refueled_at,
        lag(lower(coalesce(station_name, city))) over (
            partition by registration_number order by refueled_at, transaction_id
        ) as previous_place
    from fuel
    where not is_ev_charging

),

refuel_too_soon as (

    select
        transaction_id,
        'refuel_too_soon' as anomaly_type,
        previous_transaction_id as related_transaction_id
    from refuellings
    where previous_transaction_id is not null
      and place = previous_place
      and {{ minutes_between('previous_refueled_at', 'refueled_at') }} < {{ var('refuel_min_interval_minutes') }}

),

anomalies as (

    select * from wrong_fuel
    union all
    select * from over_tank_capacity
    union all
    select * from no_active_contract
    union all
    select * from refuel_too_soon

),

final as (

    select
        -- ids
        a.transaction_id,
        a.anomaly_type,
        a.related_transaction_id,
        f.contract_id,
        f.customer_business_id,
        f.cost_center,
        -- vehicle
        f.registration_number,
        f.power_source,
        f.vehicle_class,
        -- purchase
        f.refueled_at,
        f.refueled_on,
        f.product,
        f.fuel_company,
        f.station_name,
        f.city,
        f.liters,
        f.kwh,
        f.amount_eur
    from anomalies as a
    inner join fuel as f
        on f.transaction_id = a.transaction_id

)

select * from final
