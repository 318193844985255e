{{
    config(
        materialized=fleetdw.incremental_materialization(),
        unique_key='event_date',
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    )
}}
{#- Page views per page (URL without query string) and day (Finnish time) over ALL events, with and without
    analytics consent: events without consent may be counted in aggregates (RULES.md §3). Unique visitors can
    only be counted among consented events.
    Incremental, so that the aggregates outlive the events (the 26-month policy deletes identified events from
    int_web_events, "daily aggregates stay"): a run recomputes only the days of the events that loads newer than
    the newest _watermark_load_id here touched, each version of a corrected event included, and replaces those
    days whole. -#}
-- depends_on: {{ ref('stg_web__events') }}
with

page_views as (

    select * from {{ ref('int_web_events') }}
    where event_type = 'page_view'
    {% if is_incremental() %}
      and event_date in (
          select event_date from {{ ref('stg_web__events') }}
          where event_id in (
              select event_id from {{ ref('stg_web__events') }}
              where _load_id > (select coalesce(max(_watermark_load_id), 0) from {{ this }})
          )
      )
    {% endif %}

),

daily as (

    select
        event_date,
        page_url,
        count(*) as page_views,
        sum(case when consent_analytics then 1 else 0 end) as consented_page_views,
        count(distinct visitor_key) as consented_visitors,
        (select max(load_id) from {{ source('raw', 'file_manifest') }}) as _watermark_load_id
    from page_views
    group by event_date, page_url

)

select * from daily
