{#- Match keys as SOURCES.md defines them: normalised phone, or first name, last name, street address and postal
    code compared case-insensitively with surrounding spaces ignored. -#}
with

source as (

    select * from {{ source('raw', 'robinson_current') }}

),

renamed as (

    select
        -- match keys
        {{ normalise_phone('phone') }} as phone,
        lower(trim(first_name)) as first_name,
        lower(trim(last_name)) as last_name,
        lower(trim(street_address)) as street_address,
        trim(postal_code) as postal_code,
        -- lineage
        _load_id,
        _line
    from source

)

select * from renamed
