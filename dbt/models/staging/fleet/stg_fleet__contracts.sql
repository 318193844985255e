{#- The column list (grouped: ids, ..., lineage) is the macro contract_columns in macros/staging/crm_columns.sql:
    contracts_history cleans every version of the same rows with it, so both layers clean alike. -#}
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
