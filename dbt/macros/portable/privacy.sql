{#-
    Truncation of IP addresses outside the raw layer (RULES.md §3): IPv4 to its /24 network ('84.250.17.203'
    -> '84.250.17.0/24'), IPv6 to its /48 network ('2001:db8:85a3::8a2e:370:7334' -> '2001:db8:85a3::/48';
    a '::' inside the first three groups stands for zero groups). Anything else gives NULL.
-#}
{% macro truncate_ip(expr) -%}
    {{ return(adapter.dispatch('truncate_ip', 'fleetdw')(expr)) }}
{%- endmacro %}

{% macro default__truncate_ip(expr) -%}
    {%- set ip = "lower(trim(" ~ expr ~ "))" -%}
    {%- set head = "(case when " ~ ip ~ " like '%::%' then split_part(" ~ ip ~ ", '::', 1) else " ~ ip ~ " end)" -%}
    (case
        when {{ ip }} like '%:%' then
            {%- for k in [1, 2, 3] %}
            {{ '|| ' if k > 1 }}coalesce(nullif({{ fleetdw.regex_replace_all("split_part(" ~ head ~ ", ':', " ~ k ~ ")", '^0+', '') }}, ''), '0')
            || '{{ ":" if k < 3 else "::/48" }}'
            {%- endfor %}
        when {{ fleetdw.regex_full_match(ip, '[0-9]{1,3}([.][0-9]{1,3}){3}') }} then
            split_part({{ ip }}, '.', 1) || '.' || split_part({{ ip }}, '.', 2) || '.'
            || split_part({{ ip }}, '.', 3) || '.0/24'
    end)
{%- endmacro %}

{#-
    Free text scrubbed before it leaves raw (RULES.md §4): emails, henkilötunnus values, phone numbers and
    registration plates become '[email]', '[ssn]', '[phone]', '[plate]'. Order matters: emails first (they contain
    digits and dots), then henkilötunnus (digits that could read as a phone number), then phones, then plates.
-#}
{% macro scrub_free_text(expr) -%}
    {{ return(adapter.dispatch('scrub_free_text', 'fleetdw')(expr)) }}
{%- endmacro %}

{% macro default__scrub_free_text(expr) -%}
    {%- set scrub_patterns = [
        ('[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+([.][A-Za-z0-9-]+)*[.][A-Za-z]{2,}', '[email]'),
        ('(?i)\\b[0-9]{6}[-+a-fu-y][0-9]{3}[0-9a-y]\\b', '[ssn]'),
        ('([+]|\\b0)[0-9]([ ()-]{0,2}[0-9]){5,14}', '[phone]'),
        ('(?i)\\b[a-zåäö]{2,3}-[0-9]{1,3}\\b', '[plate]'),
    ] -%}
    {%- set out = namespace(sql=expr) -%}
    {%- for pattern, placeholder in scrub_patterns -%}
        {%- set out.sql = fleetdw.regex_replace_all(out.sql, pattern, placeholder) -%}
    {%- endfor -%}
    {{ out.sql }}
{%- endmacro %}
