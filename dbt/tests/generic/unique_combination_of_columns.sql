{#- Fails for every combination of the given columns that occurs more than once (NULLs compare equal). The
    failing rows show only the count, never the values. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    select count(*) as occurrences
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1
{% endtest %}
