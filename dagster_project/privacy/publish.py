"""The analyst copy (``fleetdw publish --out FILE.duckdb``) — marts and profiling tables only, in a separate DuckDB
file, driven by the personal-data declarations (an allow-list, never a deny-list):

* tables: models and seeds of the schemas ``marts`` and ``profiling`` whose model meta does not say
  ``publish: false``; nothing from raw, staging, history, privacy (consents, marketing contacts) or ops;
* columns: undeclared ones (the declaration check guarantees they hold no personal data) and those declared
  ``identifier: none`` or ``quasi`` are copied; person keys (``user.unique_id``) are replaced by their pseudonym
  (domain person), plates and VINs by theirs (domain vehicle); existing pseudonyms are copied; every other key
  (cookie hashes) and every other direct identifier (free text, names, contacts) is left out.

The file is written next to its target, made readable by its owner only and renamed into place, so a failed
publish leaves no half file (:func:`owner_only_target`, shared with the company extracts of
``dagster_project.privacy.company_extract``).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import duckdb

from dagster_project.manifest import load_manifest
from dagster_project.privacy.declarations import column_declaration, model_meta, relation_nodes
from dagster_project.privacy.pseudonym import load_key, set_key_variables, sql_expression
from dagster_project.warehouse import locked_error

PUBLISHED_SCHEMAS = ("marts", "profiling")
VEHICLE_CATEGORIES = ("user.government_id.vehicle_registration", "user.vehicle.vin")


@dataclass
class PublishPlan:
    tables: dict[str, list[str]] = field(default_factory=dict)   # "schema.table" -> select expressions
    pseudonymised: int = 0
    dropped: int = 0
    rows: int = 0          # rows written to the copy (the audit log's rows out)


def column_rule(decl: Any) -> str:
    """copy | person | vehicle | drop for one column's declaration (None = undeclared)."""
    if not isinstance(decl, dict):
        return "copy"
    identifier, category = decl.get("identifier"), str(decl.get("category", ""))
    if identifier in ("none", "quasi"):
        return "copy"
    if identifier == "key":
        if category == "user.unique_id.pseudonymous":
            return "copy"
        return "person" if category == "user.unique_id" else "drop"
    if identifier == "direct" and category in VEHICLE_CATEGORIES:
        return "vehicle"
    return "drop"


def publish_plan(manifest: dict[str, Any], con, catalog: str) -> PublishPlan:
    plan = PublishPlan()
    for node in relation_nodes(manifest):
        meta = model_meta(node)
        if node["schema"] not in PUBLISHED_SCHEMAS or meta.get("publish") is False:
            continue
        name = node.get("alias") or node["name"]
        declared = {c.lower(): column_declaration(col) for c, col in node.get("columns", {}).items()}
        columns = con.execute("select column_name from information_schema.columns where table_catalog = ? "
                              "and table_schema = ? and table_name = ? order by ordinal_position",
                              [catalog, node["schema"], name]).fetchall()
        select: list[str] = []
        for (col,) in columns:
            rule = column_rule(declared.get(col.lower()))
            quoted = f'"{col}"'
            if rule == "copy":
                select.append(quoted)
            elif rule in ("person", "vehicle"):
                select.append(f"{sql_expression(rule, quoted)} as {quoted}")
                plan.pseudonymised += 1
            else:
                plan.dropped += 1
        if select:
            plan.tables[f"{node['schema']}.{name}"] = select
    return plan


@contextmanager
def owner_only_target(out: Path, force: bool) -> Iterator[Path]:
    """The temporary file to write ``out`` into (``<out>.part``, created under umask 077). When the block ends
    without an error the file is made 0600 and renamed to ``out``; after an error it and its WAL are removed. An
    existing ``out`` is replaced only with ``force``."""
    out = out.expanduser().absolute()
    if out.exists() and not force:
        raise FileExistsError(f"{out} exists (use --force to replace it)")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"directory {out.parent} does not exist")
    tmp = out.with_name(out.name + ".part")
    leftovers = (tmp, Path(str(tmp) + ".wal"))
    for leftover in leftovers:
        leftover.unlink(missing_ok=True)
    umask = os.umask(0o077)
    try:
        yield tmp
    except BaseException:
        for leftover in leftovers:
            leftover.unlink(missing_ok=True)
        raise
    finally:
        os.umask(umask)
    os.chmod(tmp, 0o600)
    os.replace(tmp, out)


@contextmanager
def warehouse_reader(settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory connection with the warehouse attached read-only as ``wh`` and in use (a lock held by another
    process becomes :class:`~dagster_project.warehouse.WarehouseLocked`)."""
    if not settings.warehouse.exists():
        raise FileNotFoundError(f"no warehouse at {settings.warehouse}: run `fleetdw run` first")
    con = duckdb.connect()
    try:
        try:
            con.execute("attach ? as wh (read_only)", [str(settings.warehouse)])
        except duckdb.IOException as exc:
            locked = locked_error(settings, exc)
            if locked:
                raise locked from None
            raise
        con.execute("use wh")
        yield con
    finally:
        con.close()


def publish(settings, out: Path, force: bool = False) -> PublishPlan:
    with owner_only_target(out, force) as tmp:
        manifest = load_manifest()
        # The key's pads live in the session variables of this in-memory connection only.
        with warehouse_reader(settings) as con:
            set_key_variables(con, load_key(settings.home))
            plan = publish_plan(manifest, con, "wh")
            con.execute("attach ? as analyst_copy", [str(tmp)])
            for schema in PUBLISHED_SCHEMAS:
                con.execute(f"create schema analyst_copy.{schema}")
            for table, select in plan.tables.items():
                con.execute(f"create table analyst_copy.{table} as select {', '.join(select)} from wh.{table}")
                plan.rows += int(con.execute(f"select count(*) from analyst_copy.{table}").fetchall()[0][0])
            con.execute("detach analyst_copy")
    return plan
