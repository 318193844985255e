{#-
    Pseudonym of a value: hex HMAC-SHA256 under the secret key, over the domain-separated input
    '<domain>:<value>' (RULES.md §2). The key never appears here: on DuckDB its HMAC pads are session variables
    that the dbt-duckdb plugin ingest.pseudonym sets on every connection and cursor (profiles.yml), so compiled
    SQL and every dbt artefact only say getvariable(...). Without the plugin the variables are NULL and the model
    fails loudly instead of writing NULL pseudonyms. NULL in, NULL out.
-#}
{% macro pseudonym(domain, expr) -%}
    {%- if domain not in ['person', 'vehicle', 'company'] -%}
        {{ exceptions.raise_compiler_error("pseudonym(): unknown domain " ~ domain) }}
    {%- endif -%}
    {{ return(adapter.dispatch('pseudonym', 'fleetdw')(domain, expr)) }}
{%- endmacro %}

{% macro duckdb__pseudonym(domain, expr) -%}
    (case when ({{ expr }}) is not null then
        sha256(
            coalesce(getvariable('fleetdw_pk_opad'), error('pseudonym key not configured (ingest.pseudonym plugin)'))
            || unhex(sha256(
                coalesce(getvariable('fleetdw_pk_ipad'), error('pseudonym key not configured (ingest.pseudonym plugin)'))
                || encode('{{ domain }}:' || cast(({{ expr }}) as varchar)))))
    end)
{%- endmacro %}

{#- Spark: hmac(key, msg) is not built in before 3.5's `hmac`-less API, so the same RFC 2104 construction over the
    pads, which a session-level `SET fleetdw.pk_ipad=<hex>` (from the key outside the warehouse) provides. -#}
{% macro spark__pseudonym(domain, expr) -%}
    (case when ({{ expr }}) is not null then
        sha2(concat(unhex('${fleetdw.pk_opad}'),
                    unhex(sha2(concat(unhex('${fleetdw.pk_ipad}'), encode(concat('{{ domain }}:', cast(({{ expr }}) as string)), 'UTF-8')), 256))), 256)
    end)
{%- endmacro %}
