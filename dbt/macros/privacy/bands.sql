{#- Generalisations that profiling and pricing may use (RULES.md §2): bands, never exact values. -#}

{#- Yearly fuel spend in euros -> none | low (< 600) | medium (< 1800) | high. -#}
{% macro spend_band(expr) -%}
    (case
        when {{ expr }} is null or {{ expr }} <= 0 then 'none'
        when {{ expr }} < 600 then 'low'
        when {{ expr }} < 1800 then 'medium'
        else 'high'
    end)
{%- endmacro %}

{% macro coarse_spend_band(band) -%}
    (case when {{ band }} is null then null when {{ band }} = 'none' then 'none' else 'some' end)
{%- endmacro %}

{#- Months left on a contract -> 0-3 | 4-6 | 7-12 | 13-24 | 25+ (NULL without an active contract). -#}
{% macro months_band(expr) -%}
    (case
        when {{ expr }} is null then null
        when {{ expr }} <= 3 then '0-3'
        when {{ expr }} <= 6 then '4-6'
        when {{ expr }} <= 12 then '7-12'
        when {{ expr }} <= 24 then '13-24'
        else '25+'
    end)
{%- endmacro %}

{#- Months bands of months_band -> 0-6 | 7-12 | 13+. -#}
{% macro coarse_months_band(band) -%}
    (case
        when {{ band }} is null then null
        when {{ band }} in ('0-3', '4-6') then '0-6'
        when {{ band }} = '7-12' then '7-12'
        else '13+'
    end)
{%- endmacro %}

{#- Age bands of the age_band macro -> under_35 | 35-54 | 55+. -#}
{% macro coarse_age_band(band) -%}
    (case
        when {{ band }} is null then null
        when {{ band }} in ('under_18', '18-24', '25-34') then 'under_35'
        when {{ band }} in ('35-44', '45-54') then '35-54'
        else '55+'
    end)
{%- endmacro %}

{#- Power source -> combustion | electrified. -#}
{% macro power_group(expr) -%}
    (case
        when {{ expr }} is null then null
        when {{ expr }} in ('petrol', 'diesel', 'gas') then 'combustion'
        else 'electrified'
    end)
{%- endmacro %}

{#- Washes in 12 months -> none | 1-3 | 4+. -#}
{% macro wash_band(expr) -%}
    (case
        when coalesce({{ expr }}, 0) = 0 then 'none'
        when {{ expr }} <= 3 then '1-3'
        else '4+'
    end)
{%- endmacro %}

{#- The 12 months up to and including the as-of date. -#}
{% macro in_last_12_months(date_col) -%}
    ({{ date_col }} <= {{ fleetdw.as_of_date() }} and {{ date_col }} > {{ fleetdw.as_of_date() }} - interval 12 month)
{%- endmacro %}
