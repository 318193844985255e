{#- Fails when the column holds a value in any row (combine with `config: {where: ...}` to restrict the rows).
    Returns a count only, so a failing run never prints the personal data it found. -#}
{% test expect_null(model, column_name) %}
    select count(*) as rows_with_value
    from {{ model }}
    where {{ column_name }} is not null
    having count(*) > 0
{% endtest %}
