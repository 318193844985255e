"""Fleet Manager company extracts (``fleetdw publish --company BUSINESS_ID [--group] --out FILE.duckdb``, RULES.md
§8): one customer company's data — or its whole group's — in a self-contained DuckDB file, driven by the dbt
declarations (an allow-list, never a deny-list).

* **Tables**: only models whose meta declares ``company_extract``, from the schemas ``marts`` and ``staging``::

      meta:
        company_extract:
          table: contracts                 # its name in the extract
          scope: customer_business_id      # the column holding the customer company's Y-tunnus
          columns: [contract_id, ...]      # the columns the extract may hold

  or, for rows that belong to the company through another table of the extract,
  ``scope: {via: person_id, model: dim_contract, key: driver_person_id}``: a row is copied when its ``via`` value
  is a ``key`` value of the rows already copied from ``model`` (the drivers of the company's contracts).
* **Rows**: those whose scope column holds a company of the scope — the company, or with ``group`` the top parent
  of its group and every company below it (``marts.dim_company``, any depth). A private customer's contract has
  no business id, so it is in no extract. Fuel and wash events carry the contract that had the plate on the
  event's date (the marts match them), so a car that moved between customers shows each only its own period.
* **Columns**: only the listed ones, each documented in the model's yml; a listed column that holds personal data
  must be of a category in :data:`EXTRACT_CATEGORIES` — anything else (henkilötunnus, home address, consent,
  marketing, web, profiling, KYC) makes the extract refuse to run rather than copy it.

The extract reads the warehouse read-only and writes through ``<out>.part``, owner-only, renamed into place.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dagster_project.manifest import load_manifest
from dagster_project.privacy.declarations import column_declaration, model_meta, relation_nodes
from dagster_project.privacy.publish import owner_only_target, warehouse_reader

EXTRACT_SCHEMAS = ("marts", "staging")
# Personal data a company extract may hold: the company's own cars and money, where they were refuelled and
# washed, and its drivers by key, name, email and phone (processed on the company's behalf).
EXTRACT_CATEGORIES = frozenset({
    "user.unique_id",
    "user.name",
    "user.contact.email",
    "user.contact.phone_number",
    "user.government_id.vehicle_registration",
    "user.vehicle.vin",
    "user.financial",
    "user.location.imprecise",
})
COMPANIES = "marts.dim_company"


class ExtractDeclarationError(ValueError):
    """A ``company_extract`` declaration that the rules do not allow (a developer's mistake, not a user's)."""


@dataclass(frozen=True)
class ExtractTable:
    name: str                  # the table in the extract
    model: str                 # the dbt model it is read from
    relation: str              # schema.relation in the warehouse
    columns: tuple[str, ...]
    scope_column: str          # holds a business id, or the value looked up in the table of `via_model`
    via_model: str | None = None
    via_key: str | None = None
    via_table: str | None = None   # the extract table of `via_model`


@dataclass
class CompanyExtract:
    company: str
    group: bool
    companies: list[str] = field(default_factory=list)    # business ids in scope
    tables: dict[str, int] = field(default_factory=dict)  # extract table -> rows written

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def _fail(model: str, problem: str) -> ExtractDeclarationError:
    return ExtractDeclarationError(f"company_extract of {model}: {problem}")


def _table(node: dict[str, Any], spec: Any) -> ExtractTable:
    """One model's declaration as an :class:`ExtractTable` (``via_table`` not resolved yet)."""
    model = node["name"]
    if not isinstance(spec, dict) or not isinstance(spec.get("columns"), list) or not spec["columns"]:
        raise _fail(model, "needs a mapping with a list of columns")
    if node["schema"] not in EXTRACT_SCHEMAS:
        raise _fail(model, f"schema {node['schema']} is not one a company extract may read")
    documented = {c.lower(): col for c, col in node.get("columns", {}).items()}
    for column in spec["columns"]:
        if str(column).lower() not in documented:
            raise _fail(model, f"column {column} is not documented in the model's yml")
        decl = column_declaration(documented[str(column).lower()])
        if decl is not None and (not isinstance(decl, dict) or decl.get("category") not in EXTRACT_CATEGORIES):
            category = decl.get("category") if isinstance(decl, dict) else decl
            raise _fail(model, f"column {column} holds {category}, which no company extract may hold")
    scope, via_model, via_key = spec.get("scope"), None, None
    if isinstance(scope, dict):
        scope, via_model, via_key = scope.get("via"), scope.get("model"), scope.get("key")
        if not (isinstance(via_model, str) and isinstance(via_key, str)):
            raise _fail(model, "scope via needs model and key")
    if not isinstance(scope, str) or scope.lower() not in documented:
        raise _fail(model, "scope must name a documented column (or via/model/key)")
    relation = f"{node['schema']}.{node.get('alias') or node['name']}"
    return ExtractTable(str(spec.get("table") or model), model, relation, tuple(str(c) for c in spec["columns"]),
                        scope, via_model, via_key)


def extract_tables(manifest: dict[str, Any]) -> list[ExtractTable]:
    """The declared tables of a company extract, each after the table its scope goes through."""
    pending: dict[str, ExtractTable] = {}
    for node in relation_nodes(manifest):
        spec = model_meta(node).get("company_extract")
        if spec is not None:
            pending[node["name"]] = _table(node, spec)
    names = [t.name for t in pending.values()]
    if len(set(names)) != len(names):
        raise ExtractDeclarationError("company_extract: two models declare the same table name")
    done: dict[str, ExtractTable] = {}
    while pending:
        ready = sorted(m for m, t in pending.items() if t.via_model is None or t.via_model in done)
        if not ready:
            raise ExtractDeclarationError("company_extract: scope via a model that is not in the extract "
                                          f"({', '.join(sorted(pending))})")
        for model in ready:
            table = pending.pop(model)
            if table.via_model is not None:
                target = done[table.via_model]
                if table.via_key not in target.columns:
                    raise _fail(model, f"scope key {table.via_key} is not a column of {target.name}")
                table = replace(table, via_table=target.name)
            done[model] = table
    return list(done.values())


def scope_companies(con, company: str, group: bool) -> list[str]:
    """The business ids an extract of ``company`` covers: the company, or the top parent of its group and every
    company below it. An unknown business id is a :class:`LookupError`."""
    found = con.execute(f"select top_parent_business_id from {COMPANIES} where business_id = ?", [company]).fetchall()
    if not found:
        raise LookupError(f"unknown company {company}: no customer company has that business id")
    if not group:
        return [company]
    top = found[0][0] or company
    rows = con.execute(f"select business_id from {COMPANIES} where top_parent_business_id = ? "
                       "union select ? order by 1", [top, top]).fetchall()
    return [r[0] for r in rows]


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def publish_company(settings, company: str, out: Path, group: bool = False, force: bool = False) -> CompanyExtract:
    """Write the extract of ``company`` (its group's with ``group``) to ``out``."""
    company = company.strip()
    result = CompanyExtract(company, group)
    with owner_only_target(out, force) as tmp:
        tables = extract_tables(load_manifest())
        with warehouse_reader(settings) as con:
            result.companies = scope_companies(con, company, group)
            con.execute("create temp table extract_scope (business_id varchar)")
            con.executemany("insert into temp.extract_scope values (?)", [[c] for c in result.companies])
            con.execute("attach ? as company_extract", [str(tmp)])
            for table in tables:
                columns = ", ".join(_quoted(c) for c in table.columns)
                if table.via_table is None:
                    scope = "select business_id from temp.extract_scope"
                else:
                    scope = f"select {_quoted(table.via_key)} from company_extract.main.{_quoted(table.via_table)}"
                con.execute(f"create table company_extract.main.{_quoted(table.name)} as select {columns} "
                            f"from wh.{table.relation} where {_quoted(table.scope_column)} in ({scope}) order by all")
                result.tables[table.name] = int(con.execute(
                    f"select count(*) from company_extract.main.{_quoted(table.name)}").fetchall()[0][0])
            con.execute("detach company_extract")
    return result
