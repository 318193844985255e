{#- Know-your-customer records (Anti-Money-Laundering Act 444/2017), latest version per kyc_id, in the restricted
    schema kyc (RULES.md §5): identity checks, beneficial owners and PEP checks. Nothing outside raw and this schema
    reads them: no mart, profiling table, segment, analyst copy or company extract (tests enforce it). A view, so it
    shows exactly what raw holds after retention (5 years after the relationship's end) or an erasure, which keeps
    these rows for the legal obligation. -#}
with

source as (

    select * from {{ source('raw', 'kyc_current') }}

),

final as (

    select
        -- ids
        kyc_id,
        record_type,
        person_id,
        business_id,
        -- identity
        full_name,
        ssn,
        document_type,
        document_number,
        document_expiry,
        -- ownership and exposure
        ownership_pct,
        is_pep,
        -- verification
        verified_at,
        verified_by,
        updated_at,
        -- lineage
        _load_id
    from source

)

select * from final
