with

contracts as (

    select * from {{ ref('stg_fleet__contracts') }}

),

periods as (

    select * from {{ ref('int_contract_vehicle_periods') }}

),

final as (

    select
        -- ids
        c.contract_id,
        c.customer_business_id,
        c.customer_person_id,
        c.driver_person_id,
        c.registration_number,
        c.vin,
        -- contract
        c.contract_type,
        c.is_company_contract,
        c.status,
        c.cost_center,
        c.delivery_date,
        c.start_date,
        c.end_date,
        c.duration_months,
        (c.status = 'active'
            and c.start_date <= {{ as_of_date() }}
            and (c.end_date is null or c.end_date >= {{ as_of_date() }})) as is_active_on_as_of,
        case
            when c.end_date is null then null
            when c.end_date < {{ as_of_date() }} then 0
            else {{ months_between_dates(as_of_date(), 'c.end_date') }}
        end as remaining_months,
        -- the car's time on this contract (what fuel and wash events are matched against)
        p.period_start as vehicle_period_start,
        p.period_end as vehicle_period_end,
        -- money
        c.residual_value,
        c.lease_rent,
        c.service_budget,
        c.account_fee,
        c.total_monthly,
        c.total_monthly_matches_parts,
        -- mileage
        c.included_km,
        c.start_km,
        c.latest_odometer_km,
        -- vehicle
        c.make,
        c.model,
        c.vehicle_class,
        c.power_source,
        c.co2_g_km,
        -- services
        c.finance_company,
        c.insurance_company,
        c.insurance_deductible,
        c.replacement_car_right,
        c.replacement_car_class,
        c.updated_at
    from contracts as c
    left join periods as p
        on p.contract_id = c.contract_id

)

select * from final
