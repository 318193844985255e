{#-
    Each current CRM person's age and age band as of the run's date (var('as_of')), and whether the relationship
    covers that date. These are the only CRM facts that change with the date alone: kept here, apart from staging
    and history (which read no date), so that a new day rebuilds only the models that read the date and not the
    fuel and wash chain that reads persons by phone (dagster_project/build_state.py).
-#}
select
    person_id,
    birth_date,
    {{ age_in_years('birth_date', as_of_date()) }} as age,
    {{ age_band(age_in_years('birth_date', as_of_date())) }} as age_band,
    {{ relationship_active('relationship_start', 'relationship_end') }} as is_relationship_active
from {{ ref('stg_crm__persons') }}
