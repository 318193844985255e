{#- One row per delivered version (not deduplicated): incremental models read new loads by _load_id and keep
    the latest version per transaction_id (see macro latest_version). -#}
with

source as (

    select * from {{ source('raw', 'fuel') }}

),

renamed as (

    select
        -- ids
        transaction_id,
        -- refueller and vehicle
        {{ normalise_phone('phone') }} as phone,
        {{ normalise_plate('registration_number') }} as registration_number,
        -- timestamps
        refueled_at,
        {{ local_date('refueled_at') }} as refueled_on,
        -- purchase
        product,
        (product = 'EV') as is_ev_charging,
        trim(fuel_company) as fuel_company,
        trim(station_name) as station_name,
        trim(city) as city,
        liters,
        kwh,
        amount_eur,
        -- validation flags
        {{ is_valid_plate(normalise_plate('registration_number')) }} as has_valid_plate,
        {{ is_valid_phone(normalise_phone('phone')) }} as has_valid_phone,
        -- lineage
        _load_id,
        _line
    from source

)

select * from renamed
