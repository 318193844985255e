{#- History models: at most one current version per key. -#}
{% test at_most_one_current(model, column_name) %}
    select count(*) as current_versions
    from {{ model }}
    where is_current
    group by {{ column_name }}
    having count(*) > 1
{% endtest %}
