with

source as (

    select * from {{ source('raw', 'crm_persons_current') }}

),

renamed as (

    select
        {{ crm_person_columns() }}
    from source

)

select * from renamed
