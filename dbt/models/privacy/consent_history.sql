{#-
    Every consent event ever received (the latest delivered version of each consent_event_id), spread over the
    scopes it decides and never overwritten: one row per event and scope with the dates between which it was the
    deciding event. Answer "what was P's state for channel C on date D" with
    valid_from <= D and (valid_to is null or valid_to > D) — the same rule as consent_state (RULES.md §1).
-#}
with

events as (

    select * from {{ ref('stg_consents__consent_events') }}

),

scoped as (

    {{ consent_scopes('events') }}

),

sequenced as (

    select
        *,
        lead(recorded_on) over (partition by person_id, purpose, channel order by sequence_number) as next_recorded_on
    from scoped

),

final as (

    select
        -- ids
        person_id,
        consent_event_id,
        -- scope
        purpose,
        channel,
        event_channel,
        -- decision
        action,
        state,
        collected_via,
        -- validity (local dates; valid_to is exclusive, NULL while the event still decides)
        recorded_at,
        recorded_on as valid_from,
        next_recorded_on as valid_to,
        sequence_number,
        (next_recorded_on is null) as is_latest
    from sequenced

)

select * from final
