{#-
    Consent events spread over the scopes they decide (RULES.md §1): a direct-marketing event with channel C
    decides channel C, one with channel 'any' decides every channel (email, sms, phone, post); profiling and
    location-tracking events always decide scope 'any'. Within a scope (person, purpose, channel) the events are
    numbered in the order that decides it: recorded_at, then consent_event_id (the later id wins a tie);
    sequence_number 1 is the earliest. `events` has the columns of stg_consents__consent_events.
    consent_history and consent_state both start from this macro, so they cannot disagree on scopes or order. A
    macro rather than a shared intermediate model: that model would be one more relation holding every consent
    event (one more place for erasure, DSAR export and the Dagster graph) for a join and a window.
-#}
{% macro consent_scopes(events) -%}
    select
        *,
        row_number() over (
            partition by person_id, purpose, channel order by recorded_at, consent_event_id
        ) as sequence_number
    from (
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
            {{ fleetdw.marketing_channels() }}
            union all select 'any'
        ) as s
            on (e.purpose = 'direct_marketing' and s.channel <> 'any' and e.channel in (s.channel, 'any'))
            or (e.purpose <> 'direct_marketing' and s.channel = 'any')
    ) as scoped
{%- endmacro %}

{#- The marketing channels of RULES.md §1, as rows (channel). -#}
{% macro marketing_channels() -%}
    select 'email' as channel union all select 'sms' union all select 'phone' union all select 'post'
{%- endmacro %}

{#- A web search that mentions electric vehicles (Finnish and English terms, common EV model names). -#}
{% macro ev_search_matches(expr) -%}
    coalesce({{ fleetdw.regex_full_match('lower(' ~ expr ~ ')', '.*(sähkö|electric|tesla|täyssähkö|id[.][0-9]|ioniq|e-tron|enyaq|(^|[^a-z])ev([^a-z]|$)).*') }}, false)
{%- endmacro %}
