"""The dbt-duckdb plugin of the pseudonym key (``plugins: [{module: dagster_project.privacy.dbt_plugin}]`` in
``dbt/profiles.yml``): the key's HMAC pads as session variables on dbt's connection and each of its cursors
(``dagster_project/privacy/pseudonym.py`` says why session variables)."""

from __future__ import annotations

from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from dagster_project.privacy.pseudonym import load_key, set_key_variables


class Plugin(BasePlugin):
    """dbt-duckdb plugin: the pseudonym key's pads as session variables on dbt's connection and its cursors."""

    def initialize(self, plugin_config: dict[str, Any]) -> None:
        self._key: bytes | None = None
        self._home = (plugin_config or {}).get("home") or None

    def _load(self) -> bytes:
        if self._key is None:
            self._key = load_key(self._home)
        return self._key

    def configure_connection(self, conn: Any) -> None:
        set_key_variables(conn, self._load())

    def configure_cursor(self, cursor: Any) -> None:
        # Variables belong to a connection; dbt runs each query on a fresh cursor of its connection.
        set_key_variables(cursor, self._load())
