{#-
    Web behaviour that marketing and profiling may use (RULES.md §2, §3): only events with consent_marketing = true
    (and analytics consent, without which staging has already dropped the identifiers), linked to a person only
    through the user_id of logged-in events — the event's own user_id, or the cookie of a logged-in event when
    that cookie was logged in as exactly one CRM person. Last 12 months up to the as-of date. One row per person.
-#}
with

events as (

    select * from {{ ref('int_web_events') }}
    where {{ in_last_12_months('event_date') }}

),

persons as (

    select person_id from {{ ref('stg_crm__persons') }}

),

cookie_users as (

    select cookie_id, min(user_id) as person_id
    from events
    where cookie_id is not null and user_id is not null
    group by cookie_id
    having count(distinct user_id) = 1

),

linked as (

    select
        coalesce(e.user_id, cu.person_id) as person_id,
        e.event_id,
        e.event_date,
        e.event_type,
        e.search_query
    from events as e
    left join cookie_users as cu
        on cu.cookie_id = e.cookie_id
    where e.consent_marketing
      and coalesce(e.user_id, cu.person_id) in (select person_id from persons)

),

final as (

    select
        person_id,
        count(*) as marketing_events,
        count(distinct event_date) as active_days,
        count(*) filter (where event_type = 'search') as searches,
        count(*) filter (where event_type = 'search' and {{ ev_search_matches('search_query') }}) as ev_searches,
        max(event_date) as last_event_on
    from linked
    group by person_id

)

select * from final
