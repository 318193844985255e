{#- Driven kilometres against contracted kilometres, and a linear forecast to the contract's end. The latest
    odometer reading is taken as read on the contract's last update (local date, not after end_date or as-of). -#}
with

contracts as (

    select * from {{ ref('stg_fleet__contracts') }}
    where start_date is not null
      and end_date is not null
      and end_date > start_date
      and latest_odometer_km is not null
      and status <> 'ordered'

),

measured as (

    select
        *,
        least({{ local_date('updated_at') }}, end_date, {{ as_of_date() }}) as odometer_read_on,
        latest_odometer_km - coalesce(start_km, 0) as driven_km,
        {{ dbt.datediff('start_date', 'end_date', 'day') }} as contract_days
    from contracts

),

elapsed as (

    select
        *,
        greatest({{ dbt.datediff('start_date', 'odometer_read_on', 'day') }}, 0) as days_elapsed
    from measured

),

final as (

    select
        -- ids
        contract_id,
        customer_business_id,
        cost_center,
        registration_number,
        -- contract
        status,
        start_date,
        end_date,
        contract_days,
        included_km,
        -- odometer
        start_km,
        latest_odometer_km,
        odometer_read_on,
        days_elapsed,
        driven_km,
        -- against plan
        round(included_km * days_elapsed * 1.0 / contract_days, 0) as expected_km_to_date,
        case when days_elapsed > 0 then round(driven_km * contract_days * 1.0 / days_elapsed, 0) end
            as forecast_km_at_end,
        case when days_elapsed > 0 then greatest(round(driven_km * contract_days * 1.0 / days_elapsed, 0)
            - included_km, 0) end as forecast_overrun_km,
        coalesce(included_km is not null and days_elapsed > 0
            and driven_km * contract_days * 1.0 / days_elapsed > included_km, false) as is_forecast_overrun
    from elapsed

)

select * from final
