with

source as (

    select * from {{ source('raw', 'crm_persons') }}

),

renamed as (

    select
        {{ crm_person_columns() }},
        _line
    from source

),

versioned as (

    {{ scd2_versions('renamed', 'person_id') }}

)

{{ scd2_select('versioned') }}
