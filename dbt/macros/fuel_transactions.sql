{#- Current fuel transactions (latest delivered version per id) with the contract valid at the refuelling's
    local date (by plate) and the refueller resolved by phone: the query of intermediate.int_fuel_transactions.
    `transactions`, a query of transaction ids, limits it to those ids before anything is joined, so that the
    incremental run of marts.fct_fuel_transactions computes only the rows it rewrites instead of scanning the
    whole view (a filter on the view's output is not pushed below its window and joins). -#}
{% macro fuel_transactions(transactions=none) -%}
with

versions as (

    select * from {{ ref('stg_fuel__transactions') }}
    {% if transactions %}where transaction_id in ({{ transactions }}){% endif %}

),

latest as (

    {{ latest_version('versions', 'transaction_id') }}

),

matched as (

    {{ match_events_to_contracts('latest', 'transaction_id', 'refueled_on', 'fuel') }}

),

resolved as (

    {{ resolve_person_by_phone('matched', 'refueller') }}

),

final as (

    select
        -- ids
        transaction_id,
        contract_id,
        customer_business_id,
        cost_center,
        driver_person_id,
        refueller_person_id,
        refueller_match,
        -- vehicle
        registration_number,
        power_source,
        vehicle_class,
        -- timestamps
        refueled_at,
        refueled_on,
        -- purchase
        product,
        is_ev_charging,
        fuel_company,
        station_name,
        city,
        liters,
        kwh,
        amount_eur,
        -- match flags
        matching_contracts,
        has_contract,
        (refueller_person_id is not null and refueller_person_id = driver_person_id) as is_refueller_driver,
        has_valid_plate,
        -- lineage
        _load_id
    from resolved

)

select * from final
{%- endmacro %}
