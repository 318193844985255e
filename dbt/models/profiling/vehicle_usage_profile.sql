{#-
    Vehicle usage profile (schema profiling): one row per car on an active contract, keyed by a pseudonym of its
    VIN (domain vehicle). No plate, VIN, person or company id. A car whose driver or private customer objects to
    profiling (or asked for erasure) is absent, since its usage describes that person.
    Quasi-identifiers (every column declared `identifier: quasi` in profiling.yml) are generalised per row to
    k-anonymity, like customer_profile.
-#}
with

contracts as (

    select * from {{ ref('dim_contract') }}
    where is_active_on_as_of
      and vin is not null

),

not_profiled as (

    select person_id from {{ ref('profiling_subjects') }}
    where not is_profiled

),

mileage as (

    select * from {{ ref('contract_mileage') }}

),

fuel_12m as (

    select contract_id, sum(amount_eur) as fuel_spend, count(*) as refuellings
    from {{ ref('fct_fuel_transactions') }}
    where {{ in_last_12_months('refueled_on') }}
    group by contract_id

),

washes_12m as (

    select contract_id, count(*) as washes
    from {{ ref('fct_washes') }}
    where {{ in_last_12_months('washed_on') }}
    group by contract_id

),

vehicles as (

    select * from (
        select
            *,
            row_number() over (partition by vin order by start_date desc, contract_id desc) as vehicle_rank
        from contracts
        where coalesce(driver_person_id, '') not in (select person_id from not_profiled)
          and coalesce(customer_person_id, '') not in (select person_id from not_profiled)
    ) as ranked
    where vehicle_rank = 1

),

features as (

    select
        {{ pseudonym('vehicle', 'v.vin') }} as vehicle_pseudonym,
        -- quasi-identifiers
        v.vehicle_class,
        v.power_source,
        v.make,
        case
            when m.days_elapsed is null or m.days_elapsed <= 0 then null
            when m.driven_km * 30.0 / m.days_elapsed < 1000 then 'under_1000'
            when m.driven_km * 30.0 / m.days_elapsed < 2000 then '1000-1999'
            when m.driven_km * 30.0 / m.days_elapsed < 3000 then '2000-2999'
            else '3000+'
        end as monthly_km_band,
        -- usage
        case
            when m.is_forecast_overrun then 'over'
            when m.forecast_km_at_end is null then null
            else 'within'
        end as contracted_km_forecast,
        {{ spend_band('f.fuel_spend') }} as fuel_spend_band,
        {{ wash_band('w.washes') }} as wash_frequency_band,
        {{ months_band('v.remaining_months') }} as contract_months_remaining_band,
        case when v.is_company_contract then 'company' else 'private' end as customer_kind
    from vehicles as v
    left join mileage as m
        on m.contract_id = v.contract_id
    left join fuel_12m as f
        on f.contract_id = v.contract_id
    left join washes_12m as w
        on w.contract_id = v.contract_id

),

{{ k_anonymise(
    'features', 'vehicle_pseudonym',
    ['contracted_km_forecast', 'wash_frequency_band'],
    [
        {'vehicle_class': 'vehicle_class', 'power_source': 'power_source', 'make': 'make',
         'monthly_km_band': 'monthly_km_band', 'fuel_spend_band': 'fuel_spend_band',
         'contract_months_remaining_band': 'contract_months_remaining_band', 'customer_kind': 'customer_kind'},
        {'vehicle_class': 'vehicle_class', 'power_source': 'power_source', 'make': "'*'",
         'monthly_km_band': 'monthly_km_band', 'fuel_spend_band': coarse_spend_band('fuel_spend_band'),
         'contract_months_remaining_band': coarse_months_band('contract_months_remaining_band'),
         'customer_kind': 'customer_kind'},
        {'vehicle_class': 'vehicle_class', 'power_source': power_group('power_source'), 'make': "'*'",
         'monthly_km_band': "'*'", 'fuel_spend_band': "'*'", 'contract_months_remaining_band': "'*'",
         'customer_kind': 'customer_kind'},
        {'vehicle_class': "'*'", 'power_source': "'*'", 'make': "'*'", 'monthly_km_band': "'*'",
         'fuel_spend_band': "'*'", 'contract_months_remaining_band': "'*'", 'customer_kind': "'*'"},
    ],
    k=var('k_anonymity', 5)
) }}

select
    vehicle_pseudonym,
    vehicle_class,
    power_source,
    make,
    monthly_km_band,
    contracted_km_forecast,
    fuel_spend_band,
    wash_frequency_band,
    contract_months_remaining_band,
    customer_kind,
    generalisation_level,
    {{ as_of_date() }} as as_of
from k_published
