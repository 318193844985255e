{#
  Schemas earlier versions of the project built and this one no longer does. Their tables hold personal data
  that no model declares any more, so erasure and access requests would not reach them: they are dropped before
  every run. `snapshots` held the history layer before it was named `history` (folder, schema and models alike).
#}
{% macro drop_retired_schemas() %}
  {% for schema in ['snapshots'] %}
    drop schema if exists {{ schema }} cascade;
  {% endfor %}
{% endmacro %}
