{#- One row per delivered version (not deduplicated): int_web_events reads new loads by _load_id and keeps the
    latest version per event_id. Identifiers of events without analytics consent are dropped here (RULES.md §3);
    IPs are truncated; page and referrer URLs lose their query string and fragment (they can carry emails or
    tokens typed into forms). -#}
with

source as (

    select * from {{ source('raw', 'web') }}

),

renamed as (

    select
        -- ids
        event_id,
        case when consent_analytics then nullif(trim(cookie_id), '') end as cookie_id,
        case when consent_analytics then nullif(trim(user_id), '') end as user_id,
        -- the browser for sessionisation: the cookie, else the logged-in user; NULL without analytics consent
        case
            when not consent_analytics then null
            when nullif(trim(cookie_id), '') is not null then 'cookie:' || trim(cookie_id)
            when nullif(trim(user_id), '') is not null then 'user:' || trim(user_id)
        end as visitor_key,
        -- timestamps
        event_time,
        {{ local_date('event_time') }} as event_date,
        -- event
        event_type,
        split_part(split_part(page_url, '?', 1), '#', 1) as page_url,
        case when consent_analytics then split_part(split_part(referrer, '?', 1), '#', 1) end as referrer,
        case when consent_analytics then search_query end as search_query,
        -- device
        case when consent_analytics then {{ truncate_ip('ip_address') }} end as ip_network,
        case when consent_analytics then user_agent end as user_agent,
        -- consent at event time
        consent_analytics,
        consent_marketing,
        -- lineage
        _load_id,
        _line
    from source

)

select * from renamed
