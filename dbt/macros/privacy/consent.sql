{#-
    Consent events spread over the scopes they decide (RULES.md §1): a direct-marketing event with channel C
    decides channel C, one with channel 'any' decides every channel (email, sms, phone, post); profiling and
    location-tracking events always decide scope 'any'. Ordering of events within a scope: recorded_at, then
    consent_event_id (the later id wins a tie). `events` has the columns of stg_consents__consent_events.
-#}
{% macro consent_scopes(events) -%}
    select
        e.person_id,
        e.purpose,
        s.channel,
        e.channel as event_channel,
        e.consent_event_id,
        e.action,
        case e.action when 'grant' then 'granted' else 'refused' end as state,
        e.collected_via,
        e.recorded_at,
        {{ fleetdw.local_date('e.recorded_at') }} as recorded_on
    from {{ events }} as e
    inner join (
        select 'email' as channel union all select 'sms' union all select 'phone' union all select 'post'
        union all select 'any'
    ) as s
        on (e.purpose = 'direct_marketing' and s.channel <> 'any' and e.channel in (s.channel, 'any'))
        or (e.purpose <> 'direct_marketing' and s.channel = 'any')
{%- endmacro %}

{#- The marketing channels of RULES.md §1, as rows (channel). -#}
{% macro marketing_channels() -%}
    select 'email' as channel union all select 'sms' union all select 'phone' union all select 'post'
{%- endmacro %}

{#- A web search that mentions electric vehicles (Finnish and English terms, common EV model names). -#}
{% macro ev_search_matches(expr) -%}
    coalesce({{ fleetdw.regex_full_match('lower(' ~ expr ~ ')', '.*(sähkö|electric|tesla|täyssähkö|id[.][0-9]|ioniq|e-tron|enyaq|(^|[^a-z])ev([^a-z]|$)).*') }}, false)
{%- endmacro %}
