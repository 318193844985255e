{#- Segment contract_ending: the private customer or the driver of an active contract whose end date falls within
    var('contract_ending_days') (180) days after the as-of date. Contact persons of a company customer are not in it
    (only the contract's customer_person_id and driver_person_id are). A person with several such contracts is listed
    once, with the contract that ends first. -#}
with

contracts as (

    select * from {{ ref('dim_contract') }}
    where status = 'active'
      and end_date >= {{ as_of_date() }}
      and end_date <= {{ as_of_date() }} + interval {{ var('contract_ending_days', 180) }} day

),

roles as (

    select customer_person_id as person_id, 'customer' as contract_role, contract_id, end_date from contracts
    where customer_person_id is not null
    union all
    select driver_person_id, 'driver', contract_id, end_date from contracts
    where driver_person_id is not null

),

ranked as (

    select
        *,
        row_number() over (partition by person_id order by end_date, contract_role, contract_id) as rank_in_person
    from roles

)

select
    person_id,
    contract_role,
    contract_id,
    end_date as contract_end_date
from ranked
where rank_in_person = 1
