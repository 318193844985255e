{#-
    Direct-marketing eligibility as of var('as_of'): one row per person and channel (email, sms, phone, post) with
    `eligible` and the reason (RULES.md §1.3), so a steward can answer "why was this person (not) contacted".
    Reasons, first that applies:
      erased / erasure_requested   an Art. 17 request exists (never eligible)
      no_contact_detail            no email (email), no phone (sms, phone), no street address or postal code (post)
      objected / withdrawn         the deciding consent event (channel or 'any') objects or withdraws
      no_opt_in                    private person, email or sms, no grant (electronic marketing needs opt-in)
      robinson                     private person, phone or post, on the Robinson list (by phone or by name+address)
      opt_in_granted               private person, email or sms, granted                     -> eligible
      no_objection                 private person, phone or post, not refused, not listed    -> eligible
      business_opt_out_regime      business contact, not refused                             -> eligible
    Relationship status does not matter (RULES.md §1.3). `contact` is the channel's contact detail only.
-#}
with

persons as (

    select * from {{ ref('stg_crm__persons') }}

),

channels as (

    {{ marketing_channels() }}

),

consent as (

    select * from {{ ref('consent_state') }}
    where purpose = 'direct_marketing'

),

robinson as (

    select * from {{ ref('robinson_matches') }}

),

erased as (

    select * from {{ ref('erased_persons') }}

),

person_channels as (

    select
        p.person_id,
        c.channel,
        p.is_private_person,
        case c.channel
            when 'email' then p.email
            when 'sms' then p.phone
            when 'phone' then p.phone
            when 'post' then case when p.street_address is not null and p.postal_code is not null
                then p.street_address || ', ' || p.postal_code || coalesce(' ' || p.city, '') end
        end as contact,
        coalesce(cs.state, 'none') as consent_state,
        cs.action as consent_action,
        cs.deciding_event_id,
        (r.person_id is not null) as on_robinson_list,
        e.erasure_state
    from persons as p
    cross join channels as c
    left join consent as cs
        on cs.person_id = p.person_id
        and cs.channel = c.channel
    left join robinson as r
        on r.person_id = p.person_id
    left join erased as e
        on e.person_id = p.person_id

),

reasoned as (

    select
        *,
        case
            when erasure_state = 'executed' then 'erased'
            when erasure_state = 'requested' then 'erasure_requested'
            when contact is null then 'no_contact_detail'
            when consent_action = 'object' then 'objected'
            when consent_action = 'withdraw' then 'withdrawn'
            when is_private_person and channel in ('email', 'sms') and consent_state <> 'granted' then 'no_opt_in'
            when is_private_person and channel in ('phone', 'post') and on_robinson_list then 'robinson'
            when is_private_person and channel in ('email', 'sms') then 'opt_in_granted'
            when is_private_person then 'no_objection'
            else 'business_opt_out_regime'
        end as reason
    from person_channels

),

final as (

    select
        -- ids
        person_id,
        channel,
        -- decision
        reason in ('opt_in_granted', 'no_objection', 'business_opt_out_regime') as eligible,
        reason,
        -- inputs of the decision
        case when is_private_person then 'private' else 'business' end as regime,
        consent_state,
        deciding_event_id,
        on_robinson_list,
        erasure_state,
        -- the channel's contact detail (only this channel's)
        contact,
        {{ as_of_date() }} as as_of
    from reasoned

)

select * from final
