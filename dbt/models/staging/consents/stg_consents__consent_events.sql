with

source as (

    select * from {{ source('raw', 'consents_current') }}

),

renamed as (

    select
        -- ids
        consent_event_id,
        person_id,
        -- consent
        purpose,
        channel,
        action,
        nullif(trim(source), '') as collected_via,
        -- timestamps
        recorded_at,
        -- lineage
        _load_id
    from source

)

select * from renamed
