{{
    config(
        materialized=fleetdw.incremental_materialization(),
        unique_key='transaction_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    )
}}
{#-
    Incremental. Every row carries the load watermark of the run that wrote it (_watermark_load_id = the
    greatest load_id in raw.file_manifest at that time). A run rewrites only the transactions touched since the
    newest watermark here:
      * a new version of the transaction was loaded (new event or correction);
      * a contract that ever carried its plate changed (the plate's contract periods may have moved);
      * a CRM person that ever had its phone changed (the refueller resolution may have changed).
    Anything else cannot change a row, so an incremental run equals a full refresh (tests/test_dbt_marts.py).
-#}
-- depends_on: {{ ref('stg_fuel__transactions') }}
-- depends_on: {{ source('raw', 'contracts') }}
-- depends_on: {{ source('raw', 'crm_persons') }}
with

fuel as (

    select * from {{ ref('int_fuel_transactions') }}

),

{% if is_incremental() %}
watermark as (

    select coalesce(max(_watermark_load_id), 0) as load_id from {{ this }}

),

new_versions as (

    select transaction_id from {{ ref('stg_fuel__transactions') }}
    where _load_id > (select load_id from watermark)

),

changed_plates as (

    select {{ normalise_plate('registration_number') }} as registration_number
    from {{ source('raw', 'contracts') }}
    where contract_id in (
        select contract_id from {{ source('raw', 'contracts') }} where _load_id > (select load_id from watermark)
    )

),

changed_phones as (

    select {{ normalise_phone('phone') }} as phone
    from {{ source('raw', 'crm_persons') }}
    where person_id in (
        select person_id from {{ source('raw', 'crm_persons') }} where _load_id > (select load_id from watermark)
    )

),

touched as (

    select transaction_id from new_versions
    union
    select transaction_id from {{ ref('stg_fuel__transactions') }}
    where registration_number in (select registration_number from changed_plates)
       or phone in (select phone from changed_phones)

),
{% endif %}

final as (

    select
        fuel.*,
        (select max(load_id) from {{ source('raw', 'file_manifest') }}) as _watermark_load_id
    from fuel
    {% if is_incremental() %}
    where transaction_id in (select transaction_id from touched)
    {% endif %}

)

select * from final
