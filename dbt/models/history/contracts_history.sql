with

source as (

    select * from {{ source('raw', 'contracts') }}

),

renamed as (

    select
        {{ contract_columns() }},
        _line
    from source

),

versioned as (

    {{ scd2_versions('renamed', 'contract_id') }}

)

{{ scd2_select('versioned') }}
