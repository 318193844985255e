{{
    config(
        materialized=fleetdw.incremental_materialization(),
        unique_key='visitor_hash',
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    )
}}
{#-
    Sessions of consented web events (consent_analytics = true): a visitor's events with no gap longer than
    var('session_timeout_minutes') minutes (a 30-minute gap stays in the session, 31 minutes starts a new one).
    The visitor is the analytics cookie, else the logged-in user; only hashes of it reach this mart.
    Incremental: a run recomputes every session of each visitor touched by loads newer than the newest
    _max_load_id here (including the visitor of an earlier version of a corrected event) and replaces all of
    that visitor's sessions, so sessions that new events extend or join are rebuilt whole.
-#}
-- depends_on: {{ ref('stg_web__events') }}
with

events as (

    select * from {{ ref('int_web_events') }}
    where visitor_key is not null
    {% if is_incremental() %}
      and visitor_key in (
          select visitor_key from {{ ref('stg_web__events') }}
          where visitor_key is not null
            and event_id in (
                select event_id from {{ ref('stg_web__events') }}
                where _load_id > (select coalesce(max(_max_load_id), 0) from {{ this }})
            )
      )
    {% endif %}

),

gaps as (

    select
        *,
        lag(event_time) over (partition by visitor_key order by event_time, event_id) as previous_event_time
    from events

),

flagged as (

    select
        *,
        case
            when previous_event_time is null then 1
            when {{ minutes_between('previous_event_time', 'event_time') }} > {{ var('session_timeout_minutes') }} then 1
            else 0
        end as starts_session
    from gaps

),

numbered as (

    select
        *,
        sum(starts_session) over (
            partition by visitor_key order by event_time, event_id rows between unbounded preceding and current row
        ) as session_number
    from flagged

),

with_pages as (

    select
        *,
        first_value(page_url) over (
            partition by visitor_key, session_number order by event_time, event_id
            rows between unbounded preceding and unbounded following
        ) as landing_page_url,
        last_value(page_url) over (
            partition by visitor_key, session_number order by event_time, event_id
            rows between unbounded preceding and unbounded following
        ) as exit_page_url
    from numbered

),

sessions as (

    select
        visitor_key,
        session_number,
        min(event_time) as session_start,
        max(event_time) as session_end,
        count(*) as events,
        sum(case when event_type = 'page_view' then 1 else 0 end) as page_views,
        sum(case when event_type = 'search' then 1 else 0 end) as searches,
        max(user_id) as person_id,
        max(case when consent_marketing then 1 else 0 end) = 1 as has_marketing_consent,
        max(landing_page_url) as landing_page_url,
        max(exit_page_url) as exit_page_url,
        max(_load_id) as _max_load_id
    from with_pages
    group by visitor_key, session_number

),

final as (

    select
        -- ids
        md5(visitor_key || '|' || cast({{ epoch_seconds('session_start') }} as {{ type_text() }})) as session_id,
        md5(visitor_key) as visitor_hash,
        person_id,
        -- session
        session_number,
        session_start,
        session_end,
        {{ epoch_seconds('session_end') }} - {{ epoch_seconds('session_start') }} as duration_seconds,
        events,
        page_views,
        searches,
        landing_page_url,
        exit_page_url,
        has_marketing_consent,
        -- lineage
        _max_load_id
    from sessions

)

select * from final
