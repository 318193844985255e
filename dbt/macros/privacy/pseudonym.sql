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

{#- Spark has no HMAC function: the same RFC 2104 construction over the pads, which reach the session as the conf
    keys spark.fleetdw.pk_ipad/_opad (hex; profiles.yml server_side_parameters from DBT_ENV_SECRET_*, set
    from the key file by dagster_project.lake.spark.pad_environment). Spark substitutes ${...} when it parses the
    statement, so compiled SQL and dbt's artefacts hold only the reference. An absent or malformed pad (an unset
    conf becomes '') fails the statement instead of giving keyless pseudonyms. The substituted literal only feeds
    rlike, unhex, concat and sha2, which cannot fail on it: no error message can quote it. -#}
{% macro spark__pseudonym(domain, expr) -%}
    {%- set ipad = "'${spark.fleetdw.pk_ipad}'" -%}
    {%- set opad = "'${spark.fleetdw.pk_opad}'" -%}
    (case
        when not ({{ ipad }} rlike '^[0-9a-f]{128}$' and {{ opad }} rlike '^[0-9a-f]{128}$') then
            raise_error('pseudonym key not configured (DBT_ENV_SECRET_FLEETDW_PK_IPAD/_OPAD)')
        when ({{ expr }}) is not null then
            sha2(concat(unhex({{ opad }}),
                        unhex(sha2(concat(unhex({{ ipad }}), encode(concat('{{ domain }}:', cast(({{ expr }}) as string)), 'UTF-8')), 256))), 256)
    end)
{%- endmacro %}
