{{
    config(
        materialized=fleetdw.incremental_materialization(),
        unique_key='day_key',
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    )
}}
{#-
    Coordinate-free daily movement per person and car from consecutive location pings (RULES.md §2): the
    aggregate outlives the pings, which retention deletes after 90 days or after a withdrawal. Incremental: a run
    recomputes only the (person, car, day) groups that new loads touched, from every ping of that group still held.
    Who may be shown is decided downstream (marts.daily_location_distance: a current grant only).
-#}
with

pings as (

    select * from {{ ref('stg_location__pings') }}

),

touched as (

    select distinct person_id, registration_number, recorded_on
    from pings
    {% if is_incremental() %}
    where _load_id > (select coalesce(max(_load_id), 0) from {{ this }})
    {% endif %}

),

final as (

    select
        {{ dbt.hash(dbt.concat(["p.person_id", "'|'", "coalesce(p.registration_number, '')", "'|'",
                                "cast(p.recorded_on as " ~ dbt.type_string() ~ ")"])) }} as day_key,
        p.person_id,
        p.registration_number,
        p.recorded_on,
        count(*) as pings,
        round(sum(p.step_km), 3) as distance_km,
        max(p._load_id) as _load_id
    from pings as p
    inner join touched as t
        on t.person_id = p.person_id
        and t.recorded_on = p.recorded_on
        and coalesce(t.registration_number, '') = coalesce(p.registration_number, '')
    group by p.person_id, p.registration_number, p.recorded_on

)

select * from final
