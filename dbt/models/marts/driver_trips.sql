{#- Drive-log trips as kilometres (RULES.md §4), each linked by plate to the contract that had the car on the trip
    date (when periods overlap, the contract that started last). Distance mismatches and overlapping odometer
    ranges of one car are flagged, not dropped: they are data-quality findings. -#}
with

trips as (

    select * from {{ ref('stg_drive_log__trips') }}

),

periods as (

    select * from {{ ref('int_contract_vehicle_periods') }}

),

matched as (

    select
        t.*,
        p.contract_id,
        p.customer_business_id,
        p.cost_center,
        row_number() over (partition by t.trip_id order by p.period_start desc, p.contract_id desc) as contract_rank
    from trips as t
    left join periods as p
        on p.registration_number = t.registration_number
        and t.trip_date >= p.period_start
        and (p.period_end is null or t.trip_date <= p.period_end)

),

odometer_overlaps as (

    select distinct a.trip_id
    from trips as a
    inner join trips as b
        on b.registration_number = a.registration_number
        and b.trip_id <> a.trip_id
        and b.start_km < a.end_km
        and b.end_km > a.start_km

),

final as (

    select
        -- ids
        m.trip_id,
        m.driver_person_id,
        m.registration_number,
        m.contract_id,
        m.customer_business_id,
        m.cost_center,
        -- trip
        m.trip_date,
        cast({{ dbt.date_trunc('month', 'm.trip_date') }} as date) as trip_month,
        m.trip_type,
        m.distance_km,
        m.odometer_km,
        m.added_by,
        -- quality
        m.contract_id is not null as has_contract,
        m.has_distance_mismatch,
        o.trip_id is not null as has_odometer_overlap
    from matched as m
    left join odometer_overlaps as o
        on o.trip_id = m.trip_id
    where m.contract_rank = 1

)

select * from final
