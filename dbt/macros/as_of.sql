{#- The run's clock: var('as_of') (YYYY-MM-DD), or today in Europe/Helsinki when it is empty. -#}
{% macro as_of_value() -%}
    {%- set v = var('as_of', '') -%}
    {%- if v is none or (v | string | trim) == '' -%}
        {%- set v = modules.datetime.datetime.now(modules.pytz.timezone('Europe/Helsinki')).date().isoformat() -%}
    {%- endif -%}
    {{ return(v | string | trim) }}
{%- endmacro %}

{% macro as_of_date() -%}
    cast('{{ as_of_value() }}' as date)
{%- endmacro %}
