{#- Kilometres per person, car and day from the Driver Assistant's location pings, for persons whose
    location_tracking grant is in force now (RULES.md §2): no coordinates, and nobody who withdrew or objected. -#}
with

daily as (

    select * from {{ ref('int_location_daily') }}

),

granted as (

    select person_id from {{ ref('profiling_subjects') }}
    where has_location_grant

),

final as (

    select
        d.person_id,
        d.registration_number,
        d.recorded_on as travel_date,
        d.pings,
        d.distance_km
    from daily as d
    inner join granted as g
        on g.person_id = d.person_id

)

select * from final
