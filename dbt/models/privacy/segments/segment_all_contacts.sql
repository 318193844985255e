{#- Segment all_contacts: every person in the CRM. The export keeps only those eligible on the chosen channel. -#}
select
    person_id,
    customer_type
from {{ ref('stg_crm__persons') }}
