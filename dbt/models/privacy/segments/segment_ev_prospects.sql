{#- Segment ev_prospects: drivers of a petrol or diesel car on an active contract whose fuel spend over the last 12
    months is in the top quartile of those drivers, or whose consented web searches (consent_marketing) mention
    electric vehicles. -#}
with

drivers as (

    select distinct driver_person_id as person_id, power_source
    from {{ ref('dim_contract') }}
    where is_active_on_as_of
      and power_source in ('petrol', 'diesel')
      and driver_person_id is not null

),

spend as (

    select driver_person_id as person_id, sum(amount_eur) as fuel_spend_12m
    from {{ ref('fct_fuel_transactions') }}
    where {{ in_last_12_months('refueled_on') }}
    group by driver_person_id

),

driver_spend as (

    select
        d.person_id,
        min(d.power_source) as power_source,
        coalesce(max(s.fuel_spend_12m), 0) as fuel_spend_12m
    from drivers as d
    left join spend as s
        on s.person_id = d.person_id
    group by d.person_id

),

threshold as (

    select {{ percentile_cont('fuel_spend_12m', 0.75) }} as top_quartile_from from driver_spend

),

web as (

    select person_id, ev_searches from {{ ref('web_marketing_activity') }}

),

flagged as (

    select
        d.person_id,
        d.power_source,
        (d.fuel_spend_12m > 0 and d.fuel_spend_12m >= t.top_quartile_from) as is_top_quartile_spend,
        coalesce(w.ev_searches, 0) > 0 as has_ev_searches
    from driver_spend as d
    cross join threshold as t
    left join web as w
        on w.person_id = d.person_id

)

select
    person_id,
    power_source,
    case
        when is_top_quartile_spend and has_ev_searches then 'top_fuel_spend_and_ev_search'
        when is_top_quartile_spend then 'top_fuel_spend'
        else 'ev_search'
    end as prospect_reason
from flagged
where is_top_quartile_spend or has_ev_searches
