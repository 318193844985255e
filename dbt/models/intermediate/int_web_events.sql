{{
    config(
        materialized=fleetdw.incremental_materialization(),
        unique_key='event_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    )
}}
{#-
    Current web events (latest delivered version per event_id), already stripped of identifiers where analytics
    consent was refused (stg_web__events). Incremental: a run reads only the loads newer than the newest _load_id
    already here and replaces the events they carry (a re-delivered event_id is a correction).
-#}
with

versions as (

    select * from {{ ref('stg_web__events') }}
    {% if is_incremental() %}
    where _load_id > (select coalesce(max(_load_id), 0) from {{ this }})
    {% endif %}

),

latest as (

    {{ latest_version('versions', 'event_id') }}

),

final as (

    select
        -- ids
        event_id,
        visitor_key,
        cookie_id,
        user_id,
        -- timestamps
        event_time,
        event_date,
        -- event
        event_type,
        page_url,
        referrer,
        search_query,
        -- device
        ip_network,
        user_agent,
        -- consent at event time
        consent_analytics,
        consent_marketing,
        -- lineage
        _load_id
    from latest

)

select * from final
