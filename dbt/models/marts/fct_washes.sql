with

washes as (

    select * from {{ ref('int_wash_events') }}

)

select * from washes
