{#-
    Automated decision log: the renewal-offer price tier of every profiled person with an active contract, decided
    by a transparent rule set over their customer_profile row (GDPR Art. 22: the person can demand a manual
    review with `fleetdw review request`). Each row records the model version, the rule that fired and the
    inputs used (the band values it read, as JSON). Persons suppressed from the profile for k-anonymity, and
    objectors, get no automated decision (they are priced manually).

    Model renewal-tier v1 (first matching rule wins):
      R1 tier_1_green_renewal  contract ends within 6 months and the car is electrified
      R2 tier_2_high_usage     contract ends within 12 months and fuel spend band is high
      R3 tier_3_standard       contract ends within 12 months
      R4 no_offer_yet          contract ends later
-#}
{%- set model_version = 'renewal-tier-v1' -%}
with

profile as (

    select * from {{ ref('customer_profile') }}
    where contract_months_remaining_band is not null

),

decided as (

    select
        *,
        case
            when contract_months_remaining_band in ('0-3', '4-6', '0-6')
                and power_source in ('electric', 'plug_in_hybrid', 'hybrid', 'electrified') then 'R1'
            when contract_months_remaining_band in ('0-3', '4-6', '0-6', '7-12') and fuel_spend_band = 'high' then 'R2'
            when contract_months_remaining_band in ('0-3', '4-6', '0-6', '7-12') then 'R3'
            else 'R4'
        end as rule_id
    from profile

)

select
    person_pseudonym,
    case rule_id
        when 'R1' then 'tier_1_green_renewal'
        when 'R2' then 'tier_2_high_usage'
        when 'R3' then 'tier_3_standard'
        else 'no_offer_yet'
    end as decision,
    rule_id,
    '{{ model_version }}' as model_version,
    {{ json_object([
        ('contract_months_remaining_band', 'contract_months_remaining_band'),
        ('power_source', 'power_source'),
        ('fuel_spend_band', 'fuel_spend_band'),
    ]) }} as inputs_used,
    {{ as_of_date() }} as decided_at
from decided
