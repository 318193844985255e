with

source as (

    select * from {{ source('raw', 'crm_companies_current') }}

),

renamed as (

    select
        {{ crm_company_columns() }}
    from source

)

select * from renamed
