"""The Spark side of the suite: one generated landing zone built on DuckDB and, from its Parquet lake, on Spark
(``--target spark_session``, dbt in-process through ``dbtRunner`` on one Spark session), then compared table by
table. Everything the tests assert is computed once, under a file lock shared by the xdist workers, into
``results.json``: counts, booleans and checksums, never a value. Only one Spark session is ever started."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections import Counter
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import duckdb

from tests.support import AS_OF, REPO
from tests.support.dbt import LandingZone, run_dbt

DBT_DIR = REPO / "dbt"
KEY = "spark-equivalence-key-0123456789abcdef"
PERSONS = 150
COMPARED_SCHEMAS = ("marts", "privacy", "profiling")
# DuckDB-only SQL that must never reach Spark: what the duckdb__ macros and the DuckDB raw schema use.
DUCKDB_ONLY = {
    "cast operator ::": r"::",
    "qualify": r"\bqualify\b",
    "getvariable": r"\bgetvariable\s*\(",
    "list functions": r"\blist_[a-z_]+\s*\(",
    "struct_pack": r"\bstruct_pack\s*\(",
    "struct literal": r"\bto_json\s*\(\s*\{",
    "strftime": r"\bstrftime\s*\(",
    "regexp_full_match": r"\bregexp_full_match\s*\(",
    "timestamptz": r"\btimestamptz\b|timestamp with time zone",
    "varchar": r"\bvarchar\b",
    "quantile_cont": r"\bquantile_cont\s*\(",
    "epoch(": r"\bepoch\s*\(|extract\s*\(\s*epoch",
    "try(": r"\btry\s*\(",
    "unnest(": r"\bunnest\s*\(",
    "generate_series": r"\bgenerate_series\s*\(",
    "sha256(": r"\bsha256\s*\(",
    "timezone(": r"\btimezone\s*\(",
    "delete+insert": r"delete\s+from\b",
}
SAMPLE_IDS = ["P000101", "ABC-123", "äöå", "0123456789"]


def normalise(value: Any) -> Any:
    """A value as both engines must agree on it: floats rounded, instants in UTC, dates as ISO text."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (float, Decimal)):
        # 12 significant digits first, so that summation order (681.22475 vs 681.2247500000001) cannot decide
        # which way the rounding to 4 decimals goes
        return round(float(f"{float(value):.12g}"), 4) + 0.0
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return tuple(normalise(v) for v in value)
    return value


def table_digest(columns: list[str], rows: list[tuple]) -> dict[str, Any]:
    """Row count and an order-independent checksum of ``rows`` (columns in name order)."""
    order = sorted(range(len(columns)), key=lambda i: columns[i])
    counted = Counter(repr(tuple(normalise(r[i]) for i in order)) for r in rows)
    h = hashlib.sha256()
    for line in sorted(counted):
        h.update(f"{counted[line]}|{line}\n".encode())
    return {"rows": len(rows), "columns": [columns[i] for i in order], "checksum": h.hexdigest(),
            "_lines": counted}


def duckdb_tables(warehouse: Path, value: Callable[[Any], Any] | None = None) -> dict[str, dict[str, Any]]:
    """:func:`table_digest` of every compared table of a DuckDB warehouse; ``value`` maps each value first (the
    scale-out script's comparison with Thrift's text values)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        names = con.execute("select table_schema || '.' || table_name from information_schema.tables where "
                            f"table_schema in {COMPARED_SCHEMAS} and table_type = 'BASE TABLE' order by 1").fetchall()
        out = {}
        for (name,) in names:
            cur = con.execute(f"select * from {name}")
            rows = cur.fetchall()
            if value is not None:
                rows = [tuple(value(v) for v in r) for r in rows]
            out[name] = table_digest([d[0] for d in cur.description], rows)
        return out
    finally:
        con.close()


def spark_tables(spark, names: list[str]) -> dict[str, dict[str, Any]]:
    out = {}
    for name in names:
        if not spark.catalog.tableExists(name):
            continue
        from pyspark.sql.types import TimestampType

        df = spark.table(name)
        # PySpark gives a timestamp (an instant) as a naive datetime in the process's local time: make it aware
        instants = [i for i, f in enumerate(df.schema.fields) if isinstance(f.dataType, TimestampType)]
        rows = []
        for r in df.collect():
            r = list(r)
            for i in instants:
                if r[i] is not None:
                    r[i] = r[i].astimezone(timezone.utc)
            rows.append(tuple(r))
        out[name] = table_digest(df.columns, rows)
    return out


def compare(duck: dict[str, dict], spark: dict[str, dict]) -> dict[str, dict[str, Any]]:
    """Per table: rows on each engine, whether the checksums agree, and how many rows differ (no values)."""
    out = {}
    for name, d in duck.items():
        s = spark.get(name)
        if s is None:
            out[name] = {"duckdb_rows": d["rows"], "spark_rows": None, "same": False, "differing_rows": None,
                         "same_columns": False}
            continue
        diff = (d["_lines"] - s["_lines"]) + (s["_lines"] - d["_lines"])
        out[name] = {"duckdb_rows": d["rows"], "spark_rows": s["rows"], "same": d["checksum"] == s["checksum"],
                     "same_columns": d["columns"] == s["columns"], "differing_rows": sum(diff.values())}
    return out


def secret_hits(roots: list[Path], needles: list[str]) -> int:
    hits = 0
    for root in roots:
        for p in root.rglob("*"):
            if p.is_file():
                data = p.read_bytes()
                hits += sum(1 for n in needles if n.encode() in data)
    return hits


def duckdb_only_hits(compiled: Path) -> dict[str, int]:
    """Per DuckDB-only construct, how many compiled Spark SQL files use it (comments stripped)."""
    hits: dict[str, int] = {}
    for p in compiled.rglob("*.sql"):
        sql = re.sub(r"--[^\n]*", "", re.sub(r"/\*.*?\*/", "", p.read_text(), flags=re.S)).lower()
        sql = re.sub(r"'(?:[^']|'')*'", "''", sql)          # string literals (regex patterns, '::/48') are data
        for name, pattern in DUCKDB_ONLY.items():
            if re.search(pattern, sql):
                hits[name] = hits.get(name, 0) + 1
    return hits


def _dbt(runner, args: list[str], work: Path) -> Any:
    common = ["--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR), "--target", "spark_session",
              "--target-path", str(work / "target"), "--log-path", str(work / "logs")]
    return runner.invoke([*args, *common])


def _statuses(res) -> tuple[Counter, list[str]]:
    results = getattr(res.result, "results", None) or []
    statuses = Counter(str(r.status) for r in results)
    failed = sorted(r.node.unique_id for r in results if str(r.status) in ("error", "fail", "skipped"))
    return statuses, failed


# The equivalence build's tables hold a few hundred rows: compiling each query to Java (whole-stage codegen and the
# expressions' own code, spark.sql.codegen.factoryMode), adaptive re-planning and a second shuffle partition cost
# more than they save; Spark evaluates the same plans interpreted. Measured back to back on this machine's 2 cores:
# the Spark dbt build 76.0 s -> 61.3 s (82.1 -> 68.9 s in a second pair), every table still the same. The session's
# tables live in memory, not in a Derby metastore (register_lake 13-14 s -> 8-10 s).
SMALL_DATA_CONF = {"spark.sql.codegen.wholeStage": "false", "spark.sql.codegen.factoryMode": "NO_CODEGEN",
                   "spark.sql.adaptive.enabled": "false", "spark.sql.shuffle.partitions": "1",
                   "spark.default.parallelism": "1", "spark.sql.catalogImplementation": "in-memory"}
# A JVM that lives about a minute: its just-in-time compiler's second tier and G1's concurrent threads took more CPU
# than they gave back. The Spark tests alone: 91 s wall and 160 s of CPU on 2 cores -> 61 s and 89 s with these
# options and the settings above, leaving the other test worker a core.
SMALL_DATA_JAVA = "-XX:TieredStopAtLevel=1 -XX:CICompilerCount=1 -XX:+UseSerialGC -XX:-UsePerfData"


def build(root: Path, data_tests: bool) -> dict[str, Any]:
    """Generate, load and build on DuckDB, export the lake, build on Spark, compare: the suite's results."""
    from dagster_project.lake import export_lake
    from dagster_project.lake.spark import local_session, pad_environment, registration_args
    from dagster_project.privacy.pseudonym import parse_key, pseudonym
    from dagster_project.retention.control import record_erasure_request
    from dagster_project.settings import Settings
    from dagster_project.synthetic import generate_landing

    timings: dict[str, float] = {}
    t = time.monotonic()
    os.environ["FLEETDW_PSEUDONYM_KEY"] = KEY
    home = root / "home"
    lz = LandingZone(home)
    generate_landing(lz.root, persons=PERSONS, seed=11, as_of=AS_OF, days=10)
    lz.load(as_of=AS_OF)
    con = duckdb.connect(str(lz.warehouse))
    try:     # one erasure request, so that privacy.erased_persons and eligibility see one on both engines
        person = con.execute("select min(person_id) from raw.crm_persons").fetchall()[0][0]
        record_erasure_request(con, person, "equivalence test", datetime(2026, 11, 1, tzinfo=timezone.utc))
    finally:
        con.close()
    run_dbt(["build", "--exclude", "resource_type:test", "resource_type:unit_test"], lz.warehouse, root / "duck")
    timings["duckdb_load_and_build"] = time.monotonic() - t
    t = time.monotonic()
    settings = Settings.resolve(str(home), as_of=AS_OF)
    export_lake(settings)
    timings["lake_export"] = time.monotonic() - t

    t = time.monotonic()
    spark = local_session(root / "spark", conf=SMALL_DATA_CONF, java_options=SMALL_DATA_JAVA)
    spark.sparkContext.setLogLevel("ERROR")
    timings["spark_session_start"] = time.monotonic() - t
    from dbt.cli.main import dbtRunner

    key = parse_key(KEY)
    pads = pad_environment(key)
    os.environ.update(pads)
    os.environ["FLEETDW_AS_OF"] = AS_OF.isoformat()
    runner = dbtRunner()
    work = root / "spark_dbt"
    # no --vars (the date is in FLEETDW_AS_OF) and one target path: each dbt call reuses the first one's parse
    t = time.monotonic()
    reg = _dbt(runner, ["run-operation", "register_lake", "--args", json.dumps(registration_args(settings.lake))],
               work)
    timings["spark_register_lake"] = time.monotonic() - t
    t = time.monotonic()
    args = ["build"] if data_tests else ["build", "--exclude", "resource_type:test"]
    res = _dbt(runner, args, work)
    timings["spark_dbt_build"] = time.monotonic() - t
    statuses, failed = _statuses(res)

    t = time.monotonic()
    duck = duckdb_tables(lz.warehouse)
    sparks = spark_tables(spark, list(duck))
    tables = compare(duck, sparks)
    timings["compare"] = time.monotonic() - t

    # pseudonyms: the macro's Spark SQL on sample inputs, against Python's hmac and DuckDB's SQL
    from dagster_project.privacy.pseudonym import set_key_variables, sql_expression

    values = ", ".join("('" + v + "')" for v in SAMPLE_IDS)
    spark.sql(f"create or replace temporary view fleetdw_sample_ids as select * from values {values} as t(v)")
    pseudo = _dbt(runner, ["run-operation", "spark_pseudonym_probe", "--args",
                           json.dumps({"relation": "fleetdw_sample_ids", "column": "v", "domain": "person"})], work)
    probed = {r.v: r.p for r in spark.table("fleetdw_probe_result").collect()} if pseudo.success else {}
    dcon = duckdb.connect()
    set_key_variables(dcon, key)
    duck_p = {v: dcon.execute(f"select {sql_expression('person', 'v')} from (select ?::varchar as v)", [v]
                              ).fetchall()[0][0] for v in SAMPLE_IDS}
    dcon.close()
    python_p = {v: pseudonym(key, "person", v) for v in SAMPLE_IDS}

    eligible = {}
    for engine, rows in (("duckdb", _duck_rows(lz.warehouse, ELIGIBILITY_SQL)),
                         ("spark", [tuple(r) for r in spark.sql(ELIGIBILITY_SQL).collect()])):
        eligible[engine] = hashlib.sha256(repr(sorted(rows)).encode()).hexdigest()
    k_groups = {}
    for table, qis in K_TABLES.items():
        sql = f"select count(*) from (select {qis} from {table} group by {qis} having count(*) < 5) as g"
        k_groups[table] = {"duckdb": _duck_rows(lz.warehouse, sql)[0][0],
                           "spark": spark.sql(sql).collect()[0][0],
                           "spark_rows": spark.table(table).count()}
    # without the key's pads the pseudonymising models fail (dbt-spark drops the table first, so this runs last)
    for name in pads:
        os.environ.pop(name)
    t = time.monotonic()
    keyless = _dbt(runner, ["run", "--select", "customer_profile"], work)
    timings["spark_keyless_run"] = time.monotonic() - t
    keyless_statuses, _ = _statuses(keyless)

    hex_needles = [v for v in pads.values()] + [key.hex(), KEY]
    return {
        "timings": {k: round(v, 1) for k, v in timings.items()},
        "register_success": reg.success,
        "build_success": res.success,
        "data_tests": data_tests,
        "statuses": dict(statuses),
        "failed": failed,
        "tables": tables,
        "pseudonym": {"probe_success": pseudo.success, "inputs": len(SAMPLE_IDS),
                      "spark_equals_python": [probed.get(v) == python_p[v] for v in SAMPLE_IDS],
                      "duckdb_equals_python": [duck_p[v] == python_p[v] for v in SAMPLE_IDS]},
        "keyless": {"success": keyless.success, "statuses": dict(keyless_statuses),
                    "message_names_key": "pseudonym key not configured" in _messages(keyless)},
        "secret_hits": secret_hits([work, root / "spark"], hex_needles),
        "duckdb_only": duckdb_only_hits(work / "target"),
        "compiled_files": sum(1 for _ in (work / "target").rglob("*.sql")),
        "eligibility": eligible,
        "k_groups": k_groups,
    }


def _messages(res) -> str:
    results = getattr(res.result, "results", None) or []
    return " ".join(str(r.message or "") for r in results)


def _duck_rows(warehouse: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


ELIGIBILITY_SQL = "select person_id, channel, eligible, reason from privacy.marketing_eligibility"
K_TABLES = {
    "profiling.customer_profile": "age_band, postal_area, customer_type, vehicle_class, power_source, "
                                  "fuel_spend_band, contract_months_remaining_band",
    "profiling.vehicle_usage_profile": "vehicle_class, power_source, make, monthly_km_band, fuel_spend_band, "
                                       "contract_months_remaining_band, customer_kind",
}
