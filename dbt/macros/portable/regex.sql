{#-
    Regular-expression helpers. DuckDB replaces only the first match unless given the 'g' option; Spark (Java
    regex) always replaces every match and reads backslashes in string literals as escapes. Patterns stick to the
    common subset of RE2 and Java regex (inline (?i), \b, character classes, non-capturing groups) and never
    contain a single quote.
-#}
{% macro regex_replace_all(expr, pattern, replacement) -%}
    {{ return(adapter.dispatch('regex_replace_all', 'fleetdw')(expr, pattern, replacement)) }}
{%- endmacro %}

{% macro default__regex_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, '{{ pattern }}', '{{ replacement }}', 'g')
{%- endmacro %}

{% macro spark__regex_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, '{{ pattern | replace("\\", "\\\\") }}', '{{ replacement }}')
{%- endmacro %}

{#- True when the whole of expr matches pattern. -#}
{% macro regex_full_match(expr, pattern) -%}
    {{ return(adapter.dispatch('regex_full_match', 'fleetdw')(expr, pattern)) }}
{%- endmacro %}

{% macro default__regex_full_match(expr, pattern) -%}
    ({{ expr }} ~ '^(?:{{ pattern }})$')
{%- endmacro %}

{% macro duckdb__regex_full_match(expr, pattern) -%}
    regexp_full_match({{ expr }}, '{{ pattern }}')
{%- endmacro %}

{% macro spark__regex_full_match(expr, pattern) -%}
    ({{ expr }} rlike '^(?:{{ pattern | replace("\\", "\\\\") }})$')
{%- endmacro %}
