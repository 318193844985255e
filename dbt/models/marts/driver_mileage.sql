{#- Monthly drive-log kilometres per driver, car and contract, split into work and leisure (RULES.md §4): the
    figures a taxable car benefit and a fleet report need. Kilometres are the distances the driver typed. -#}
with

trips as (

    select * from {{ ref('driver_trips') }}

),

final as (

    select
        -- ids
        driver_person_id,
        registration_number,
        contract_id,
        customer_business_id,
        cost_center,
        -- month
        trip_month as mileage_month,
        -- kilometres
        sum(case when trip_type = 'work' then distance_km else 0 end) as work_km,
        sum(case when trip_type = 'leisure' then distance_km else 0 end) as leisure_km,
        sum(distance_km) as total_km,
        -- trips
        count(*) as trips,
        sum(case when trip_type = 'work' then 1 else 0 end) as work_trips,
        sum(case when trip_type = 'leisure' then 1 else 0 end) as leisure_trips,
        sum(case when has_distance_mismatch or has_odometer_overlap then 1 else 0 end) as trips_with_findings
    from trips
    group by driver_person_id, registration_number, contract_id, customer_business_id, cost_center,
             trip_month

)

select * from final
