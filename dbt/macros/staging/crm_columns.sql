{#-
    Cleaning of CRM and contract rows, shared by the current-state staging models (stg_*) and the history models
    (*_history), which read every version of the same rows. Each macro is the select list of a `renamed` CTE
    over the raw columns.
-#}

{% macro crm_person_columns() -%}
        -- ids
        person_id,
        nullif(trim(business_id), '') as business_id,
        -- identity
        trim(first_name) as first_name,
        trim(last_name) as last_name,
        upper(trim(ssn)) as ssn,
        {{ fleetdw.hetu_birth_date('ssn') }} as birth_date,
        -- contact
        lower(trim(email)) as email,
        {{ fleetdw.normalise_phone('phone') }} as phone,
        trim(street_address) as street_address,
        trim(postal_code) as postal_code,
        {{ fleetdw.postal_area('trim(postal_code)') }} as postal_area,
        trim(city) as city,
        -- classification
        customer_type,
        (customer_type = 'private' or (customer_type = 'prospect' and nullif(trim(business_id), '') is null))
            as is_private_person,
        trim(position) as position,
        role,
        -- validation flags
        (ssn is not null and {{ fleetdw.is_valid_hetu('ssn') }}) as has_valid_ssn,
        {{ fleetdw.is_valid_email('lower(trim(email))') }} as has_valid_email,
        {{ fleetdw.is_valid_phone(fleetdw.normalise_phone('phone')) }} as has_valid_phone,
        -- dates
        {{ fleetdw.relationship_columns() }}
{%- endmacro %}

{% macro crm_company_columns() -%}
        -- ids
        business_id,
        nullif(trim(parent_business_id), '') as parent_business_id,
        -- company
        trim(name) as company_name,
        trim(street_address) as street_address,
        trim(postal_code) as postal_code,
        {{ fleetdw.postal_area('trim(postal_code)') }} as postal_area,
        trim(city) as city,
        -- billing
        billing_method,
        trim(e_invoice_address) as e_invoice_address,
        trim(e_invoice_operator) as e_invoice_operator,
        payment_terms_days,
        -- dates
        {{ fleetdw.relationship_columns() }}
{%- endmacro %}

{% macro contract_columns() -%}
        -- ids
        contract_id,
        nullif(trim(customer_business_id), '') as customer_business_id,
        nullif(trim(customer_person_id), '') as customer_person_id,
        nullif(trim(driver_person_id), '') as driver_person_id,
        (nullif(trim(customer_business_id), '') is not null) as is_company_contract,
        -- contract
        trim(contract_type) as contract_type,
        status,
        delivery_date,
        start_date,
        end_date,
        duration_months,
        nullif(trim(cost_center), '') as cost_center,
        -- money (euros a month unless said otherwise)
        residual_value,
        lease_rent,
        service_budget,
        account_fee,
        total_monthly,
        (total_monthly is null
            or total_monthly = coalesce(lease_rent, 0) + coalesce(service_budget, 0) + coalesce(account_fee, 0))
            as total_monthly_matches_parts,
        -- mileage
        included_km,
        start_km,
        latest_odometer_km,
        -- vehicle
        {{ fleetdw.normalise_plate('registration_number') }} as registration_number,
        nullif(upper(trim(vin)), '') as vin,
        trim(make) as make,
        trim(model) as model,
        first_registration_date,
        vehicle_class,
        power_source,
        co2_g_km,
        -- services
        trim(finance_company) as finance_company,
        trim(insurance_company) as insurance_company,
        insurance_deductible,
        replacement_car_right,
        nullif(trim(replacement_car_class), '') as replacement_car_class,
        -- free text, scrubbed of emails, henkilötunnus, phones and plates (the raw text never leaves raw)
        {{ fleetdw.scrub_free_text('notes') }} as notes_scrubbed,
        -- validation flags
        (registration_number is null or {{ fleetdw.is_valid_plate(fleetdw.normalise_plate('registration_number')) }})
            as has_valid_plate,
        (vin is null or {{ fleetdw.is_valid_vin('upper(trim(vin))') }}) as has_valid_vin,
        -- dates
        updated_at,
        -- lineage
        _load_id
{%- endmacro %}

{#- Relationship dates, the delta ordering key and lineage. Whether the relationship covers the run's date is
    relationship_active() where a model needs it: staging and history read no date, so that they are the same on
    every day and a new day rebuilds only the models that read it (dagster_project/build_state.py). -#}
{% macro relationship_columns() -%}
        relationship_start,
        relationship_end,
        updated_at,
        -- lineage
        _load_id
{%- endmacro %}

{#- The relationship covers the run's date (an open start or end counts as covering it). -#}
{% macro relationship_active(start_col, end_col) -%}
    (({{ start_col }}) is null or ({{ start_col }}) <= {{ fleetdw.as_of_date() }})
        and (({{ end_col }}) is null or ({{ end_col }}) >= {{ fleetdw.as_of_date() }})
{%- endmacro %}
