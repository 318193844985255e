"""Which dbt models a run builds (``dagster_project.build_state``), on a small manifest of the same shape as dbt's:
the readers of each input come from the lineage, a changed input selects its readers, a build records only the
inputs all of whose readers it built, and a project change builds everything."""

from __future__ import annotations

import copy
from datetime import date, timedelta

import duckdb
import pytest

from dagster_project import build_state as B

DAY = date(2026, 11, 22)


def _model(name: str, parents: list[str], macros: list[str] | None = None, raw_code: str = "select 1") -> dict:
    return {"name": name, "schema": "marts", "alias": name, "raw_code": raw_code,
            "checksum": {"name": "sha256", "checksum": name}, "depends_on": {"nodes": parents, "macros": macros or []}}


@pytest.fixture()
def manifest() -> dict:
    nodes = {
        "model.fleetdw.fuel_a": _model("fuel_a", ["source.fleetdw.raw.fuel"]),
        "model.fleetdw.fuel_b": _model("fuel_b", ["model.fleetdw.fuel_a"]),
        "model.fleetdw.wash_a": _model("wash_a", ["source.fleetdw.raw.wash_current"], ["macro.fleetdw.as_of_date"]),
        "model.fleetdw.eligible": _model("eligible", [], raw_code="{{ erasure_requests_relation() }}"),
        "test.fleetdw.not_null_fuel_a": _model("not_null_fuel_a", ["model.fleetdw.fuel_a"]),
    }
    child_map = {"source.fleetdw.raw.fuel": ["model.fleetdw.fuel_a"],
                 "source.fleetdw.raw.wash_current": ["model.fleetdw.wash_a"],
                 "model.fleetdw.fuel_a": ["model.fleetdw.fuel_b", "test.fleetdw.not_null_fuel_a"]}
    macros = {"macro.fleetdw.as_of_value": {"package_name": "fleetdw", "macro_sql": "{% set v = var('as_of', '') %}",
                                            "depends_on": {"macros": []}},
              "macro.fleetdw.as_of_date": {"package_name": "fleetdw", "macro_sql": "cast({{ as_of_value() }})",
                                           "depends_on": {"macros": ["macro.fleetdw.as_of_value"]}}}
    sources = {f"source.fleetdw.raw.{n}": {"source_name": "raw", "name": n} for n in ("fuel", "wash_current")}
    return {"nodes": nodes, "child_map": child_map, "macros": macros, "sources": sources}


@pytest.fixture()
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    c.execute("create schema raw; create schema ops")
    c.execute("create table raw.file_manifest (source varchar, load_id bigint, status varchar)")
    c.execute("insert into raw.file_manifest values ('fuel', 1, 'loaded'), ('wash', 2, 'loaded')")
    c.execute("create table ops.erasure_audit (policy varchar, table_name varchar, rows bigint)")
    c.execute("create table ops.erasure_requests (person_id varchar, executed_at timestamptz)")
    return c


def names(plan: B.BuildPlan) -> set[str]:
    return {uid.split(".")[-1] for uid in plan.nodes}


def build(con, manifest, as_of=DAY, built=None) -> None:
    values = B.input_values(con, as_of, manifest)
    everything = B.readers(manifest)["project"]
    B.record_build(con, "run", as_of, manifest, values, set(everything) if built is None else built)


def test_readers_follow_lineage_and_macros(manifest):
    r = B.readers(manifest)
    assert {u.split(".")[-1] for u in r["source:fuel"]} == {"fuel_a", "fuel_b"}   # tests are dbt's to select
    assert {u.split(".")[-1] for u in r["source:wash"]} == {"wash_a"}           # via raw.wash_current
    assert {u.split(".")[-1] for u in r["as_of"]} == {"wash_a"}                 # through two macros
    assert {u.split(".")[-1] for u in r["erasure_requests"]} == {"eligible"}
    assert {u.split(".")[-1] for u in r["relation:marts.fuel_a"]} == {"fuel_a", "fuel_b"}


def test_a_new_warehouse_builds_everything_and_then_nothing(con, manifest):
    first = B.plan_build(con, DAY, manifest, set())
    assert first.complete and names(first) == {"fuel_a", "fuel_b", "wash_a", "eligible"}
    build(con, manifest)
    again = B.plan_build(con, DAY, manifest, set())
    assert again.nothing and not again.complete and again.changed == ()


def test_each_change_selects_its_readers(con, manifest):
    build(con, manifest)
    con.execute("insert into raw.file_manifest values ('fuel', 3, 'loaded')")
    assert names(B.plan_build(con, DAY, manifest, set())) == {"fuel_a", "fuel_b"}
    assert B.plan_build(con, DAY, manifest, set()).changed == ("source:fuel",)
    assert names(B.plan_build(con, DAY + timedelta(days=1), manifest, set())) == {"fuel_a", "fuel_b", "wash_a"}
    assert names(B.plan_build(con, DAY, manifest, {"wash"})) == {"fuel_a", "fuel_b", "wash_a"}   # a file waiting
    con.execute("insert into raw.file_manifest values ('fuel', 4, 'rejected')")   # a rejected file changes nothing
    build(con, manifest)
    assert B.plan_build(con, DAY, manifest, set()).nothing
    con.execute("insert into ops.erasure_audit values ('person', 'raw.wash_current', 3), ('person', 'marts.fuel_b', 1), "
                "('person', 'raw.fuel', 0)")
    assert names(B.plan_build(con, DAY, manifest, set())) == {"wash_a", "fuel_b"}
    build(con, manifest)
    con.execute("insert into ops.erasure_requests values ('p', null)")
    assert names(B.plan_build(con, DAY, manifest, set())) == {"eligible"}


def test_a_shorter_policy_no_table_re_derives_changes_no_input(con, manifest, monkeypatch):
    monkeypatch.setattr(B, "NOT_REDERIVED", ("raw_ip_address|raw.fuel",))
    build(con, manifest)
    con.execute("insert into ops.erasure_audit values ('raw_ip_address', 'raw.fuel', 7)")
    assert B.plan_build(con, DAY, manifest, set()).nothing
    con.execute("insert into ops.erasure_audit values ('quarantine', 'raw.fuel', 2)")   # another rule's change does
    assert names(B.plan_build(con, DAY, manifest, set())) == {"fuel_a", "fuel_b"}


def test_the_shorter_rules_said_not_re_derived_are_read_only_by_views_and_incremental_models():
    """``PolicyRule.rederived=False`` is a claim about the dbt project, checked on its manifest: a nulled column no
    model names needs nothing; otherwise every model reading the relation (through views) is a view, which computes
    on read, or an incremental model, which reads a row once, when it loads."""
    import re

    from dagster_project.manifest import load_manifest
    from dagster_project.retention.policy import SHORTER_RULES

    manifest = load_manifest()
    nodes, children = manifest["nodes"], manifest["child_map"]
    rules = [r for r in SHORTER_RULES if not r.rederived]
    assert {r.policy.name for r in rules} >= {"raw_ip_address", "location_pings", "drive_log_points"}
    models = [n for n in nodes.values() if n["resource_type"] == "model"]
    for rule in rules:
        schema, table = rule.relation.split(".")
        if rule.action == "null" and not any(re.search(rf"\b({'|'.join(rule.columns)})\b", n["raw_code"])
                                             for n in models):
            continue
        todo = [uid for uid, src in manifest["sources"].items()
                if src["source_name"] == schema and src["name"] in (table, f"{table}_current")]
        assert todo, rule.relation
        seen: set[str] = set()
        while todo:
            for child in children.get(todo.pop(), []):
                node = nodes.get(child)
                if child in seen or not node or node["resource_type"] != "model":
                    continue
                seen.add(child)
                materialized = node["config"]["materialized"]
                assert materialized in ("view", "incremental"), (rule.policy.name, node["name"], materialized)
                if materialized == "view":
                    todo.append(child)
        assert seen, rule.policy.name


def test_a_partial_or_failed_build_records_only_what_it_covered(con, manifest):
    build(con, manifest)
    con.execute("insert into raw.file_manifest values ('fuel', 3, 'loaded'), ('wash', 4, 'loaded')")
    # fuel_b did not build (or the build failed and recorded nothing): the fuel input stays stale
    build(con, manifest, built={"model.fleetdw.fuel_a", "model.fleetdw.wash_a"})
    assert names(B.plan_build(con, DAY, manifest, set())) == {"fuel_a", "fuel_b"}
    logged = con.execute("select models, complete from ops.dbt_builds order by built_at").fetchall()
    assert logged == [(4, True), (2, False)]
    assert con.execute("select count(*) = count(distinct input) from ops.dbt_inputs").fetchall()[0][0]


def test_a_changed_project_builds_everything(con, manifest):
    build(con, manifest)
    changed = copy.deepcopy(manifest)
    changed["nodes"]["model.fleetdw.fuel_b"]["checksum"]["checksum"] = "edited"
    plan = B.plan_build(con, DAY, changed, set())
    assert plan.complete and plan.changed == ("project",)
    edited_macro = copy.deepcopy(manifest)
    edited_macro["macros"]["macro.fleetdw.as_of_date"]["macro_sql"] = "cast({{ as_of_value() }} as date)"
    assert B.plan_build(con, DAY, edited_macro, set()).complete
    assert B.plan_build(con, DAY, manifest, set(), full_refresh=True).complete


def test_row_tests_check_the_loads_after_the_last_green_build_of_each_changed_source(con, manifest):
    """``tests_after_load``: the load id after which the event sources' row tests look — the smallest recorded load
    of a source whose loads changed; every row (0) for a complete build, a source never recorded, or a source whose
    rows an erasure or a shorter policy changed since its recorded build."""
    build(con, manifest)                                     # fuel at load 1, wash at load 2
    recorded = B.recorded_values(con)
    nothing_new = B.input_values(con, DAY, manifest)
    assert B.tests_after_load(manifest, nothing_new, recorded, complete=False) == 0
    con.execute("insert into raw.file_manifest values ('fuel', 3, 'loaded'), ('wash', 4, 'loaded')")
    values = B.input_values(con, DAY, manifest)
    assert B.tests_after_load(manifest, values, recorded, complete=False) == 1
    assert B.tests_after_load(manifest, values, recorded, complete=True) == 0
    only_wash = {k: v for k, v in recorded.items() if k != "source:fuel"}
    assert B.tests_after_load(manifest, values, only_wash, complete=False) == 0
    con.execute("insert into ops.erasure_audit values ('person', 'raw.wash', 1)")
    assert B.tests_after_load(manifest, B.input_values(con, DAY, manifest), recorded, complete=False) == 0
