{#-
    Consent state as of var('as_of') per person, purpose and scope (RULES.md §1.1): among the person's events of
    that purpose recorded on or before the as-of date (local date) whose channel is the scope's channel or 'any',
    the latest recorded_at decides, a tie goes to the later consent_event_id; grant -> granted, withdraw or
    object -> refused. Scopes without any event have no row here (state none).
-#}
with

events as (

    select * from {{ ref('stg_consents__consent_events') }}

),

scoped as (

    {{ consent_scopes('events') }}

),

as_of_events as (

    select
        *,
        max(sequence_number) over (partition by person_id, purpose, channel) as latest_sequence_number
    from scoped
    where recorded_on <= {{ as_of_date() }}

),

final as (

    select
        -- ids
        person_id,
        consent_event_id as deciding_event_id,
        -- scope
        purpose,
        channel,
        -- state
        state,
        action,
        event_channel,
        recorded_at,
        {{ as_of_date() }} as as_of
    from as_of_events
    where sequence_number = latest_sequence_number

)

select * from final
