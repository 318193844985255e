{#-
    Joins vehicle events (fuel, wash) to the contract whose vehicle period covers the event's local date, by
    normalised plate. A plate can move between contracts, so the join is by plate AND date; when periods overlap
    (bad data) the contract that started last wins, `matching_contracts` says how many matched and `has_contract`
    whether one did. `events` must have columns registration_number and the given key and date column; `source_name` (fuel, wash)
    finds the events whose subject was erased in raw.anonymised_events.
-#}
{% macro match_events_to_contracts(events, key, date_col, source_name) -%}
    {%- set period_columns -%}
            p.contract_id, p.customer_business_id, p.customer_person_id, p.driver_person_id, p.cost_center,
            p.power_source, p.vehicle_class, p.period_start
    {%- endset -%}
    select
        *,
        (contract_id is not null) as has_contract
    from (
        select
            *,
            count(contract_id) over (partition by {{ key }}) as matching_contracts,
            row_number() over (
                partition by {{ key }} order by period_start desc, contract_id desc
            ) as _contract_rank
        from (
            -- by plate and date
            select e.*, {{ period_columns }}
            from {{ events }} as e
            left join {{ ref('int_contract_vehicle_periods') }} as p
                on p.registration_number = e.registration_number
                and e.{{ date_col }} >= p.period_start
                and (p.period_end is null or e.{{ date_col }} <= p.period_end)
            where e.registration_number is not null
            union all
            -- an event whose subject was erased has no plate any more: the contract erasure recorded for it
            select e.*, {{ period_columns }}
            from {{ events }} as e
            left join {{ source('raw', 'anonymised_events') }} as a
                on a.source = '{{ source_name }}'
                and a.event_id = e.{{ key }}
            left join {{ ref('int_contract_vehicle_periods') }} as p
                on p.contract_id = a.contract_id
                and e.{{ date_col }} >= p.period_start
                and (p.period_end is null or e.{{ date_col }} <= p.period_end)
            where e.registration_number is null
        ) as candidates
    ) as ranked
    where _contract_rank = 1
{%- endmacro %}

{#-
    Resolves the person behind an event's normalised phone: `<role>_person_id` only when exactly one CRM person has
    that number, `<role>_match` unique | ambiguous | unknown | no_phone. `events` must have a column phone.
    int_fuel_transactions and int_wash_events share this macro (and match_events_to_contracts) rather than an
    intermediate model: each applies it to its own events, and a shared model would have to union refuellings
    and washes only to split them again.
-#}
{% macro resolve_person_by_phone(events, role) -%}
    select
        e.*,
        pp.person_id as {{ role }}_person_id,
        case
            when e.phone is null then 'no_phone'
            when pp.persons_with_phone is null then 'unknown'
            when pp.persons_with_phone = 1 then 'unique'
            else 'ambiguous'
        end as {{ role }}_match
    from {{ events }} as e
    left join {{ ref('int_persons_by_phone') }} as pp
        on pp.phone = e.phone
{%- endmacro %}
