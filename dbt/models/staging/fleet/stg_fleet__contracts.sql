with

source as (

    select * from {{ source('raw', 'contracts_current') }}

),

renamed as (

    select
        {{ contract_columns() }}
    from source

)

select * from renamed
