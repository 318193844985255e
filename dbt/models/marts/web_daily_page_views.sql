{#- Page views per page (URL without query string) and day (Finnish time) over ALL events, with and without
    analytics consent: events without consent may be counted in aggregates (RULES.md §3). Unique visitors can
    only be counted among consented events. -#}
with

page_views as (

    select * from {{ ref('int_web_events') }}
    where event_type = 'page_view'

),

daily as (

    select
        event_date,
        page_url,
        count(*) as page_views,
        sum(case when consent_analytics then 1 else 0 end) as consented_page_views,
        count(distinct visitor_key) as consented_visitors
    from page_views
    group by event_date, page_url

)

select * from daily
