{#-
    Customer profile (schema profiling, RULES.md §2): one row per profiled person, keyed by a pseudonym only. No
    direct identifier, no person_id, no exact birth date, no sex. Objectors and persons with an erasure request are
    absent. Web engagement counts only consent_marketing events; the mobility band, the kilometres a day the
    Driver Assistant's location pings show (marts.daily_location_distance: only while a grant is in force), is
    filled only with a current location_tracking grant.
    Quasi-identifiers (age_band, postal_area, customer_type, vehicle_class, power_source, fuel_spend_band) are
    generalised per row until each published combination covers at least var('k_anonymity') persons; persons who
    cannot be hidden even at the coarsest level are suppressed (the run reports how many).
-#}
with

subjects as (

    select * from {{ ref('profiling_subjects') }}
    where is_profiled

),

persons as (

    select * from {{ ref('stg_crm__persons') }}

),

active_contracts as (

    select
        c.*,
        p.person_id
    from {{ ref('dim_contract') }} as c
    inner join persons as p
        on p.person_id in (c.driver_person_id, c.customer_person_id)
    where c.is_active_on_as_of

),

current_car as (

    select * from (
        select
            *,
            row_number() over (partition by person_id order by start_date desc, contract_id desc) as car_rank
        from active_contracts
    ) as ranked
    where car_rank = 1

),

fuel_12m as (

    select
        driver_person_id as person_id,
        sum(amount_eur) as fuel_spend
    from {{ ref('fct_fuel_transactions') }}
    where {{ in_last_12_months('refueled_on') }}
      and driver_person_id is not null
    group by driver_person_id

),

washes_12m as (

    select driver_person_id as person_id, count(*) as washes
    from {{ ref('fct_washes') }}
    where {{ in_last_12_months('washed_on') }}
      and driver_person_id is not null
    group by driver_person_id

),

web as (

    select * from {{ ref('web_marketing_activity') }}

),

location_12m as (

    select person_id, avg(distance_km) as km_per_day
    from {{ ref('daily_location_distance') }}
    where {{ in_last_12_months('travel_date') }}
    group by person_id

),

features as (

    select
        s.person_id,
        {{ pseudonym('person', 's.person_id') }} as person_pseudonym,
        -- quasi-identifiers
        ages.age_band,
        p.postal_area,
        p.customer_type,
        cc.vehicle_class,
        cc.power_source,
        {{ spend_band('coalesce(f.fuel_spend, 0)') }} as fuel_spend_band,
        -- behaviour
        {{ wash_band('w.washes') }} as wash_frequency_band,
        {{ months_band('cc.remaining_months') }} as contract_months_remaining_band,
        case
            when coalesce(web.active_days, 0) = 0 then 'none'
            when web.active_days <= 2 then 'low'
            else 'high'
        end as web_engagement_band,
        -- location-derived: only with a current location_tracking grant
        case
            when not s.has_location_grant then null
            when loc.km_per_day is null then 'none'
            when loc.km_per_day < 20 then 'under_20_km'
            when loc.km_per_day < 60 then '20_60_km'
            else 'over_60_km'
        end as mobility_band
    from subjects as s
    inner join persons as p
        on p.person_id = s.person_id
    inner join {{ ref('int_person_ages') }} as ages
        on ages.person_id = s.person_id
    left join current_car as cc
        on cc.person_id = s.person_id
    left join fuel_12m as f
        on f.person_id = s.person_id
    left join washes_12m as w
        on w.person_id = s.person_id
    left join web
        on web.person_id = s.person_id
    left join location_12m as loc
        on loc.person_id = s.person_id

),

{{ k_anonymise(
    'features', 'person_pseudonym',
    ['wash_frequency_band', 'web_engagement_band', 'mobility_band'],
    [
        {'age_band': 'age_band', 'postal_area': 'postal_area', 'customer_type': 'customer_type',
         'vehicle_class': 'vehicle_class', 'power_source': 'power_source', 'fuel_spend_band': 'fuel_spend_band',
         'contract_months_remaining_band': 'contract_months_remaining_band'},
        {'age_band': coarse_age_band('age_band'), 'postal_area': "substr(postal_area, 1, 1) || 'x'",
         'customer_type': 'customer_type', 'vehicle_class': 'vehicle_class',
         'power_source': power_group('power_source'), 'fuel_spend_band': coarse_spend_band('fuel_spend_band'),
         'contract_months_remaining_band': 'contract_months_remaining_band'},
        {'age_band': coarse_age_band('age_band'), 'postal_area': "'*'", 'customer_type': 'customer_type',
         'vehicle_class': "'*'", 'power_source': power_group('power_source'), 'fuel_spend_band': "'*'",
         'contract_months_remaining_band': coarse_months_band('contract_months_remaining_band')},
        {'age_band': "'*'", 'postal_area': "'*'", 'customer_type': 'customer_type', 'vehicle_class': "'*'",
         'power_source': "'*'", 'fuel_spend_band': "'*'", 'contract_months_remaining_band': "'*'"},
    ],
    k=var('k_anonymity', 5)
) }}

select
    person_pseudonym,
    age_band,
    postal_area,
    customer_type,
    vehicle_class,
    power_source,
    fuel_spend_band,
    wash_frequency_band,
    contract_months_remaining_band,
    web_engagement_band,
    mobility_band,
    generalisation_level,
    {{ as_of_date() }} as as_of
from k_published
