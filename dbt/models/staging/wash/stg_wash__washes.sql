with

source as (

    select * from {{ source('raw', 'wash_current') }}

),

renamed as (

    select
        -- ids
        wash_id,
        -- washer and vehicle
        {{ normalise_phone('phone') }} as phone,
        {{ normalise_plate('registration_number') }} as registration_number,
        -- timestamps
        washed_at,
        {{ local_date('washed_at') }} as washed_on,
        -- wash
        trim(wash_program) as wash_program,
        trim(wash_location) as wash_location,
        -- validation flags
        {{ is_valid_plate(normalise_plate('registration_number')) }} as has_valid_plate,
        -- lineage
        _load_id
    from source

)

select * from renamed
