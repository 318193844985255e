{#- Persons with an erasure request (GDPR Art. 17) made on or before the as-of date, pending or executed
    (ops.erasure_requests; no rows while that control table does not exist). Never eligible for marketing. -#}
with

requests as (

    select * from {{ erasure_requests_relation() }}

),

final as (

    select
        person_id,
        min(requested_at) as requested_at,
        max(executed_at) as executed_at,
        case when max(executed_at) is not null then 'executed' else 'requested' end as erasure_state
    from requests
    where person_id is not null
      and {{ local_date('requested_at') }} <= {{ as_of_date() }}
    group by person_id

)

select * from final
