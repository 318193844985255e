{#- Calendar date in Finland (Europe/Helsinki) of a timestamp with time zone. -#}
{% macro local_date(ts) -%}
    {{ return(adapter.dispatch('local_date', 'fleetdw')(ts)) }}
{%- endmacro %}

{% macro default__local_date(ts) -%}
    cast(({{ ts }} at time zone 'Europe/Helsinki') as date)
{%- endmacro %}

{% macro duckdb__local_date(ts) -%}
    cast(timezone('Europe/Helsinki', {{ ts }}) as date)
{%- endmacro %}

{% macro spark__local_date(ts) -%}
    to_date(from_utc_timestamp({{ ts }}, 'Europe/Helsinki'))
{%- endmacro %}

{#- A select-list expression that turns one row into one row per month start from first_month to last_month
    (both month starts, inclusive). -#}
{% macro explode_months(first_month, last_month) -%}
    {{ return(adapter.dispatch('explode_months', 'fleetdw')(first_month, last_month)) }}
{%- endmacro %}

{% macro default__explode_months(first_month, last_month) -%}
    cast(generate_series({{ first_month }}, {{ last_month }}, interval '1 month') as date)
{%- endmacro %}

{% macro duckdb__explode_months(first_month, last_month) -%}
    cast(unnest(generate_series(cast({{ first_month }} as date), cast({{ last_month }} as date), interval 1 month)) as date)
{%- endmacro %}

{% macro spark__explode_months(first_month, last_month) -%}
    explode(sequence({{ first_month }}, {{ last_month }}, interval 1 month))
{%- endmacro %}

{#- Minutes between two timestamps, as a number with fractions. -#}
{% macro minutes_between(earlier, later) -%}
    {{ return(adapter.dispatch('minutes_between', 'fleetdw')(earlier, later)) }}
{%- endmacro %}

{% macro default__minutes_between(earlier, later) -%}
    (extract(epoch from {{ later }}) - extract(epoch from {{ earlier }})) / 60.0
{%- endmacro %}

{% macro spark__minutes_between(earlier, later) -%}
    (unix_timestamp({{ later }}) - unix_timestamp({{ earlier }})) / 60.0
{%- endmacro %}

{#- Seconds since 1970-01-01 UTC of a timestamp with time zone (independent of the session time zone). -#}
{% macro epoch_seconds(ts) -%}
    {{ return(adapter.dispatch('epoch_seconds', 'fleetdw')(ts)) }}
{%- endmacro %}

{% macro default__epoch_seconds(ts) -%}
    cast(extract(epoch from {{ ts }}) as bigint)
{%- endmacro %}

{% macro spark__epoch_seconds(ts) -%}
    unix_timestamp({{ ts }})
{%- endmacro %}

{#- Whole calendar months from one date to a later one (a month counts once its day is reached). -#}
{% macro months_between_dates(earlier, later) -%}
    ((extract(year from {{ later }}) - extract(year from {{ earlier }})) * 12
     + extract(month from {{ later }}) - extract(month from {{ earlier }})
     - case when extract(day from {{ later }}) < extract(day from {{ earlier }}) then 1 else 0 end)
{%- endmacro %}
