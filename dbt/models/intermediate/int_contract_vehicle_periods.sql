{#- One row per contract that has (had) a car: the plate and the local dates between which the car was on
    that contract. The period starts at delivery (or start) and ends at end_date (open while NULL). A contract
    whose plate erasure cleared (it identified an erased driver) keeps its period: the events erasure recorded in
    raw.anonymised_events still match it by contract. -#}
with

contracts as (

    select * from {{ ref('stg_fleet__contracts') }}

),

periods as (

    select
        contract_id,
        registration_number,
        vin,
        coalesce(delivery_date, start_date) as period_start,
        end_date as period_end,
        status,
        customer_business_id,
        customer_person_id,
        driver_person_id,
        cost_center,
        power_source,
        vehicle_class
    from contracts
    where (registration_number is not null
           or contract_id in (select contract_id from {{ source('raw', 'anonymised_events') }}))
      and status <> 'ordered'
      and coalesce(delivery_date, start_date) is not null

)

select * from periods
