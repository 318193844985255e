{#- Company fleet costs per customer company, cost centre and calendar month, up to the as-of month. A contract
    counts its full total_monthly for every month its period touches (from start to end or as-of). Fuel and
    washes count in the month (Finnish time) of the event and belong to the contract that had the plate then;
    events without a contract are left out here (they are in fuel_anomalies). CO2 is estimated from litres and
    kWh with the factors of seed fuel_emission_factors. -#}
with

contracts as (

    select * from {{ ref('stg_fleet__contracts') }}
    where is_company_contract
      and status <> 'ordered'
      and start_date is not null
      and start_date <= {{ as_of_date() }}

),

contract_spans as (

    select
        contract_id,
        customer_business_id,
        cost_center,
        total_monthly,
        -- dbt.date_trunc gives a timestamp (DuckDB, Spark): cast back to the date of the month's first day
        cast({{ dbt.date_trunc('month', 'start_date') }} as date) as first_month,
        cast({{ dbt.date_trunc('month', 'least(coalesce(end_date, ' ~ as_of_date() ~ '), ' ~ as_of_date() ~ ')') }} as date)
            as last_month
    from contracts

),

contract_months as (

    select
        contract_id,
        customer_business_id,
        cost_center,
        total_monthly,
        {{ explode_months('first_month', 'last_month') }} as month
    from contract_spans

),

lease as (

    select
        customer_business_id,
        cost_center,
        month,
        count(distinct contract_id) as contracts,
        sum(total_monthly) as lease_total_eur
    from contract_months
    group by customer_business_id, cost_center, month

),

factors as (

    select * from {{ ref('fuel_emission_factors') }}

),

fuel as (

    select
        f.customer_business_id,
        f.cost_center,
        cast({{ dbt.date_trunc('month', 'f.refueled_on') }} as date) as month,
        count(*) as fuel_transactions,
        -- summed as exact decimals: a sum of doubles depends on the order of the rows, which an incremental
        -- fct_fuel_transactions does not fix (its rows arrive in the order of the builds that wrote them)
        cast(sum(cast(f.amount_eur as decimal(18, 4))) as double) as fuel_eur,
        cast(sum(cast(f.liters as decimal(18, 4))) as double) as fuel_liters,
        cast(sum(cast(f.kwh as decimal(18, 4))) as double) as charged_kwh,
        cast(sum(cast(case when e.unit = 'kwh' then f.kwh else f.liters end * e.kg_co2_per_unit
                      as decimal(24, 6))) as double) as co2_kg_estimate
    from {{ ref('fct_fuel_transactions') }} as f
    left join factors as e
        on e.product = f.product
    where f.customer_business_id is not null
    group by f.customer_business_id, f.cost_center, cast({{ dbt.date_trunc('month', 'f.refueled_on') }} as date)

),

washes as (

    select
        customer_business_id,
        cost_center,
        cast({{ dbt.date_trunc('month', 'washed_on') }} as date) as month,
        count(*) as washes
    from {{ ref('fct_washes') }}
    where customer_business_id is not null
    group by customer_business_id, cost_center, cast({{ dbt.date_trunc('month', 'washed_on') }} as date)

),

keys as (

    select customer_business_id, cost_center, month from lease
    union
    select customer_business_id, cost_center, month from fuel
    union
    select customer_business_id, cost_center, month from washes

),

final as (

    select
        -- ids
        k.customer_business_id,
        c.top_parent_business_id,
        k.cost_center,
        k.month,
        -- lease
        coalesce(l.contracts, 0) as contracts,
        coalesce(l.lease_total_eur, 0) as lease_total_eur,
        -- fuel and charging
        coalesce(f.fuel_transactions, 0) as fuel_transactions,
        coalesce(f.fuel_eur, 0) as fuel_eur,
        coalesce(f.fuel_liters, 0) as fuel_liters,
        coalesce(f.charged_kwh, 0) as charged_kwh,
        coalesce(f.co2_kg_estimate, 0) as co2_kg_estimate,
        -- washes
        coalesce(w.washes, 0) as washes,
        -- total
        coalesce(l.lease_total_eur, 0) + coalesce(f.fuel_eur, 0) as total_cost_eur
    from keys as k
    left join lease as l
        on l.customer_business_id = k.customer_business_id
        and coalesce(l.cost_center, '') = coalesce(k.cost_center, '')
        and l.month = k.month
    left join fuel as f
        on f.customer_business_id = k.customer_business_id
        and coalesce(f.cost_center, '') = coalesce(k.cost_center, '')
        and f.month = k.month
    left join washes as w
        on w.customer_business_id = k.customer_business_id
        and coalesce(w.cost_center, '') = coalesce(k.cost_center, '')
        and w.month = k.month
    left join {{ ref('dim_company') }} as c
        on c.business_id = k.customer_business_id

)

select * from final
