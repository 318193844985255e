{#- Driver Assistant location pings (latest delivered version per ping_id) without their coordinates (RULES.md
    §2): the only thing that leaves raw is the distance from the person's previous ping of the same car on the same
    local day (haversine, km). Pings without a location_tracking grant in force were never loaded (withheld at
    ingestion); after a withdrawal the marts stop showing the person and retention deletes the pings. -#}
with

source as (

    select * from {{ source('raw', 'location_current') }}

),

ordered as (

    select
        ping_id,
        person_id,
        {{ normalise_plate('registration_number') }} as registration_number,
        recorded_at,
        {{ local_date('recorded_at') }} as recorded_on,
        accuracy_m,
        speed_kmh,
        lat,
        lon,
        lag(lat) over (partition by person_id, {{ normalise_plate('registration_number') }},
                       {{ local_date('recorded_at') }} order by recorded_at, ping_id) as previous_lat,
        lag(lon) over (partition by person_id, {{ normalise_plate('registration_number') }},
                       {{ local_date('recorded_at') }} order by recorded_at, ping_id) as previous_lon,
        _load_id
    from source

),

final as (

    select
        -- ids
        ping_id,
        person_id,
        registration_number,
        -- time
        recorded_at,
        recorded_on,
        -- movement, coordinate-free
        case
            when previous_lat is null then 0.0
            else 2 * 6371.0088 * asin(sqrt(
                power(sin(radians(lat - previous_lat) / 2), 2)
                + cos(radians(previous_lat)) * cos(radians(lat)) * power(sin(radians(lon - previous_lon) / 2), 2)))
        end as step_km,
        accuracy_m,
        speed_kmh,
        -- lineage
        _load_id
    from ordered

)

select * from final
