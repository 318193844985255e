with

source as (

    select * from {{ source('raw', 'crm_companies') }}

),

renamed as (

    select
        {{ crm_company_columns() }},
        _line
    from source

),

versioned as (

    {{ scd2_versions('renamed', 'business_id') }}

)

{{ scd2_select('versioned') }}
