{#- Fails when a value lies outside min_value .. max_value (bounds included; either may be left out; NULLs pass).
    Plain comparisons, so it runs on any engine. Returns a count only, so a failing run never prints the values. -#}
{% test accepted_range(model, column_name, min_value=none, max_value=none) %}
    {%- set outside = [] -%}
    {%- if min_value is not none %}{% do outside.append(column_name ~ ' < ' ~ min_value) %}{% endif -%}
    {%- if max_value is not none %}{% do outside.append(column_name ~ ' > ' ~ max_value) %}{% endif -%}
    {%- if not outside %}{{ exceptions.raise_compiler_error('accepted_range needs min_value or max_value') }}{% endif %}
    select count(*) as rows_out_of_range
    from {{ model }}
    where {{ outside | join(' or ') }}
    having count(*) > 0
{% endtest %}
