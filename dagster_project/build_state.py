"""Which dbt models a run must build: those downstream of an input that changed since the build that last covered
them, so that a run costs what changed.

dbt builds from a handful of *inputs*, each with a value the warehouse can state cheaply (counts and load ids, no
personal data) and with the models that read it, found in the dbt manifest:

* ``source:<name>`` — the raw layer of one source: its newest load and how often an erasure or a shorter retention
  policy changed its rows (``ops.erasure_audit``). Read by the models downstream of ``raw.<name>`` and
  ``raw.<name>_current``.
* ``relation:<schema.table>`` — a dbt table an erasure changed in place; read by the models downstream of it.
* ``as_of`` — the run's clock: read by every model whose SQL or macros use ``var('as_of')`` (ages, active
  contracts, eligibility, segments, profiles) and what is downstream of them.
* ``erasure_requests`` — ``ops.erasure_requests`` (a person with a request is never eligible); read through the
  macro ``erasure_requests_relation``.
* ``project`` — the dbt project itself (every node's checksum and every macro of the project): when it changed,
  everything is built.

After a build in which every model it ran built and every data test passed, the dbt step records the value of each
input whose readers were all part of the build (``ops.dbt_inputs``) and logs the build (``ops.dbt_builds``). Before
a run, the inputs whose value differs from the recorded one — plus the sources with a landing file waiting — name
the models to build: none (the run leaves dbt out), some (a Dagster asset selection: dagster-dbt turns it into
``dbt build --select``), or all. A failed data test records nothing, so the next run builds and tests the same
models again: a finding never hides behind a skipped build.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

import duckdb

from dagster_project.retention.policy import NOT_REDERIVED, REDERIVED_AUDIT
from ingest.contracts import SOURCES

INPUTS_DDL = """create table if not exists ops.dbt_inputs (
    input varchar not null, value varchar not null, run_id varchar, built_at timestamptz not null)"""
BUILDS_DDL = """create table if not exists ops.dbt_builds (
    run_id varchar, as_of date not null, models bigint not null, complete boolean not null,
    inputs varchar[] not null, built_at timestamptz not null)"""

PROJECT = "project"
AS_OF = "as_of"
ERASURE_REQUESTS = "erasure_requests"
BUILT = ("model.", "seed.", "snapshot.")

# How a model's SQL (or a macro it calls, at any depth) reads an input that is not a dbt source.
READS = {AS_OF: re.compile(r"""var\(\s*['"]as_of['"]"""),
         ERASURE_REQUESTS: re.compile(r"erasure_requests_relation|identifier\s*=\s*['\"]erasure_requests['\"]")}


def source_input(name: str) -> str:
    return f"source:{name}"


def relation_input(relation: str) -> str:
    return f"relation:{relation}"


def _relation(node: dict[str, Any]) -> str:
    return f"{node['schema']}.{node.get('alias') or node['name']}".lower()


def _descendants(manifest: dict[str, Any], roots: set[str]) -> set[str]:
    children = manifest.get("child_map", {})
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        uid = todo.pop()
        for child in children.get(uid, []):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return {uid for uid in seen | roots if uid.startswith(BUILT)}


def _macro_readers(manifest: dict[str, Any], pattern: re.Pattern) -> set[str]:
    """Macros that read an input, directly or through another macro."""
    macros = manifest.get("macros", {})
    reading = {uid for uid, m in macros.items() if pattern.search(m.get("macro_sql", ""))}
    grew = True
    while grew:
        grew = False
        for uid, m in macros.items():
            if uid not in reading and reading & set(m.get("depends_on", {}).get("macros", [])):
                reading.add(uid)
                grew = True
    return reading


def readers(manifest: dict[str, Any]) -> dict[str, set[str]]:
    """Each input and the dbt nodes (models, seeds, snapshots) a change of it makes stale."""
    nodes = {uid: n for uid, n in manifest.get("nodes", {}).items() if uid.startswith(BUILT)}
    out: dict[str, set[str]] = {PROJECT: set(nodes)}
    for name, pattern in READS.items():
        macros = _macro_readers(manifest, pattern)
        direct = {uid for uid, n in nodes.items()
                  if pattern.search(n.get("raw_code", "")) or macros & set(n.get("depends_on", {}).get("macros", []))}
        out[name] = _descendants(manifest, direct)
    for name in SOURCES:
        roots = {uid for uid, s in manifest.get("sources", {}).items()
                 if s["source_name"] == "raw" and s["name"] in (name, f"{name}_current")}
        out[source_input(name)] = _descendants(manifest, roots)
    for uid, node in nodes.items():
        out[relation_input(_relation(node))] = _descendants(manifest, {uid})
    return out


def project_hash(manifest: dict[str, Any]) -> str:
    """Changes whenever a model, test, seed or macro of the project changes."""
    parts = sorted((uid, (n.get("checksum") or {}).get("checksum", "")) for uid, n in manifest.get("nodes", {}).items())
    parts += sorted((uid, hashlib.sha256(m.get("macro_sql", "").encode()).hexdigest())
                    for uid, m in manifest.get("macros", {}).items() if m.get("package_name") == "fleetdw")
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {f"{s}.{t}" for s, t in con.execute("select table_schema, table_name from information_schema.tables "
                                               "where table_catalog = current_database()").fetchall()}


def input_values(con: duckdb.DuckDBPyConnection, as_of: date, manifest: dict[str, Any]) -> dict[str, str]:
    """The current value of every input (counts, load ids, the as-of date, a hash: no personal data)."""
    tables = _tables(con)
    loads: dict[str, int] = {}
    if "raw.file_manifest" in tables:
        loads = dict(con.execute("select source, max(load_id) from raw.file_manifest where status = 'loaded' "
                                 "group by source").fetchall())
    audits: dict[str, str] = {}
    if "ops.erasure_audit" in tables:
        # a shorter policy's change that no dbt table re-derives (raw IPs, pings, trip points) changes no input
        audits = {t.lower(): f"{n}/{rows}" for t, n, rows in con.execute(
            f"select table_name, count(*), sum(rows) from ops.erasure_audit where rows > 0 and {REDERIVED_AUDIT} "
            "group by table_name", [list(NOT_REDERIVED)]).fetchall()}
    requests = "0/0"
    if "ops.erasure_requests" in tables:
        requests = "/".join(str(v) for v in con.execute(
            "select count(*), count(executed_at) from ops.erasure_requests").fetchall()[0])
    values = {PROJECT: project_hash(manifest), AS_OF: as_of.isoformat(), ERASURE_REQUESTS: requests}
    for name in SOURCES:
        changed = "+".join(audits.get(f"raw.{t}", "0") for t in (name, f"{name}_current"))
        values[source_input(name)] = f"{loads.get(name, 0)}|{changed}"
    for uid, node in manifest.get("nodes", {}).items():
        if uid.startswith(BUILT):
            relation = _relation(node)
            values[relation_input(relation)] = audits.get(relation, "0")
    return values


def recorded_values(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    if "ops.dbt_inputs" not in _tables(con):
        return {}
    return dict(con.execute("select input, arg_max(value, built_at) from ops.dbt_inputs group by input").fetchall())


def tests_after_load(manifest: dict[str, Any], values: dict[str, str], recorded: dict[str, str],
                     complete: bool) -> int:
    """The load id after which a build's row tests on the event sources look (0: every row).

    A row of a staging view of an event source (``data_tests`` with ``meta.new_rows_after_load`` in
    ``dbt_project.yml``) does not change once loaded, except by an erasure or a shorter retention policy, which
    changes the source's input value: so its row tests (``not_null``, ``accepted_values``, ``expect_null`` ...)
    need to check only the rows of loads the last green build of that source did not cover. That is every load
    after the smallest recorded load id of a source whose loads changed, and every row (0) when the build is
    complete, when a changed source has no recorded build, or when an erasure or policy changed a source's rows
    since its recorded build. Which tests take the filter is the project's ``get_where_subquery``: those of one row
    at a time and the uniqueness of columns that include the load id; other uniqueness and relationship tests
    always check every row."""
    if complete:
        return 0
    read = {i for i, nodes in readers(manifest).items() if nodes}
    after: list[int] = []
    for name in SOURCES:
        key = source_input(name)
        now, then = values.get(key), recorded.get(key)
        if key not in read or now is None or now == then:
            continue
        if then is None:
            return 0
        now_load, _, now_changes = now.partition("|")
        then_load, _, then_changes = then.partition("|")
        if now_changes != then_changes:
            return 0
        after.append(int(then_load))
    return min(after) if after else 0


@dataclass(frozen=True)
class BuildPlan:
    """What a run builds: every dbt node (``complete``), some, or none; and the inputs that changed (names only)."""

    nodes: frozenset[str]
    complete: bool
    changed: tuple[str, ...]

    @property
    def nothing(self) -> bool:
        return not self.nodes

    def describe(self) -> dict[str, Any]:
        return {"models": len(self.nodes), "complete": self.complete, "changed": list(self.changed)}


def plan_build(con: duckdb.DuckDBPyConnection, as_of: date, manifest: dict[str, Any],
               waiting_sources: set[str], full_refresh: bool = False) -> BuildPlan:
    """The dbt nodes stale by a changed input or downstream of a source with a landing file waiting."""
    everything = readers(manifest)
    all_nodes = frozenset(everything[PROJECT])
    if full_refresh:
        return BuildPlan(all_nodes, True, ("full_refresh",))
    current = input_values(con, as_of, manifest)
    recorded = recorded_values(con)
    if not recorded:
        return BuildPlan(all_nodes, True, ("no_recorded_build",))
    if recorded.get(PROJECT) != current[PROJECT]:
        return BuildPlan(all_nodes, True, (PROJECT,))
    changed = {i for i, v in current.items() if recorded.get(i) != v and everything.get(i)}
    changed |= {source_input(s) for s in waiting_sources}
    nodes = frozenset().union(*(everything[i] for i in changed)) if changed else frozenset()
    return BuildPlan(nodes, nodes == all_nodes, tuple(sorted(changed)))


def record_build(con: duckdb.DuckDBPyConnection, run_id: str, as_of: date, manifest: dict[str, Any],
                 values: dict[str, str], built: set[str]) -> list[str]:
    """After a green build of ``built``: record the inputs all of whose readers it built; returns their names."""
    everything = readers(manifest)
    covered = sorted(i for i, v in values.items() if everything.get(i) and everything[i] <= built)
    ts = datetime.now(timezone.utc)
    con.execute("create schema if not exists ops")
    old = con.execute("select count(*) from information_schema.columns where table_schema = 'ops' and "
                      "table_name = 'dbt_builds' and column_name = 'load_watermark'").fetchall()[0][0]
    if old:   # the log of an earlier version (one load watermark per build): derived state, started afresh
        con.execute("drop table ops.dbt_builds")
    con.execute(INPUTS_DDL)
    con.execute(BUILDS_DDL)
    if covered:
        con.execute("insert into ops.dbt_inputs select * from (select unnest(?::varchar[]), unnest(?::varchar[])), "
                    "(select ?::varchar, ?::timestamptz)", [covered, [values[i] for i in covered], run_id, ts])
        # only the newest value of an input is ever read: keep the table as small as the project
        con.execute("delete from ops.dbt_inputs d where built_at < (select max(built_at) from ops.dbt_inputs n "
                    "where n.input = d.input)")
    con.execute("insert into ops.dbt_builds values (?, ?, ?, ?, ?, ?)",
                [run_id, as_of, len(built), built >= everything[PROJECT], covered, ts])
    return covered
