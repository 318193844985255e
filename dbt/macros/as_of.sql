{#- The run's clock: var('as_of') (YYYY-MM-DD), else the environment's FLEETDW_AS_OF, else today in Europe/Helsinki.
    The pipeline passes the date in the environment rather than in --vars: dbt re-parses the whole project whenever
    a var changes, and the environment is read only while models run (`execute`), so the parse cache survives the
    daily change of date. -#}
{% macro as_of_value() -%}
    {%- set v = var('as_of', '') -%}
    {%- if execute and (v is none or (v | string | trim) == '') -%}
        {%- set v = env_var('FLEETDW_AS_OF', '') -%}
    {%- endif -%}
    {%- if v is none or (v | string | trim) == '' -%}
        {%- set v = modules.datetime.datetime.now(modules.pytz.timezone('Europe/Helsinki')).date().isoformat() -%}
    {%- endif -%}
    {{ return(v | string | trim) }}
{%- endmacro %}

{% macro as_of_date() -%}
    cast('{{ as_of_value() }}' as date)
{%- endmacro %}
