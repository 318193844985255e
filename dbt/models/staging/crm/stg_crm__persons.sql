{#- The column list (grouped: ids, ..., lineage) is the macro crm_person_columns in macros/staging/crm_columns.sql:
    crm_persons_history cleans every version of the same rows with it, so both layers clean alike. -#}
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
