{#- Driver Assistant trips, latest delivered version per trip_id, as kilometres (RULES.md §4): the start and end
    points the user typed are precise locations and stay in raw; nothing here carries them. A distance that does
    not equal end_km - start_km loads (it is a data-quality finding, flagged here and in the source suite). -#}
with

source as (

    select * from {{ source('raw', 'drive_log_current') }}

),

renamed as (

    select
        -- ids
        trip_id,
        driver_person_id,
        {{ normalise_plate('registration_number') }} as registration_number,
        -- trip
        trip_date,
        trip_type,
        start_km,
        end_km,
        distance_km,
        end_km - start_km as odometer_km,
        distance_km <> end_km - start_km as has_distance_mismatch,
        -- who typed it, when
        added_by,
        added_at,
        -- lineage
        _load_id
    from source

)

select * from renamed
