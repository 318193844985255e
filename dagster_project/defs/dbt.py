"""The dbt project as Dagster assets downstream of the raw assets; dbt tests become asset checks.

``dbt_project`` is dagster-dbt's ``DbtProject``; its manifest is parsed on demand — only when missing or older
than a project file (``dagster_project.manifest``) — so it is never committed and never stale. ``dbt build`` runs
while no other connection to the DuckDB file is open (the in-process executor runs one step at a time), in this
process (``defs/dbt_runner.py``) or, for a partial build beside Great Expectations' import, as a ``fleetdw-dbt``
process (:func:`overlaps_quality_import`); it finds the warehouse file and the date in its environment
(:func:`dbt_cli`).
"""

import contextlib
import importlib.metadata
import os
import shutil
import sys
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, TypeVar

import dagster as dg
from packaging import version
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from dagster_project.build_state import BUILT, input_values, record_build, recorded_values, tests_after_load
from dagster_project.defs.dbt_runner import IN_PROCESS_VARIABLE, environment, in_process, install as install_dbt_runner
from dagster_project.defs.resources import WarehouseResource
from dagster_project.quality.runner import warm_up as warm_up_quality
from dagster_project.warehouse import open_warehouse
from dagster_project.manifest import DBT_DIR, dbt_child_env, dbt_executable, ensure_manifest, load_manifest


dbt_project = DbtProject(project_dir=DBT_DIR, profiles_dir=DBT_DIR)
# The manifest must exist before ``@dbt_assets`` reads it. Parsing happens only when it is missing or stale
# (in ``dagster dev``, a CLI run and tests alike), under a lock; a fresh manifest costs a stat of the project files.
ensure_manifest()
install_dbt_runner()


class FleetDbtTranslator(DagsterDbtTranslator):
    """dbt sources ``raw.<source>`` and ``raw.<source>_current`` are the raw asset of that source."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source" and dbt_resource_props["source_name"] == "raw":
            return dg.AssetKey(["raw", dbt_resource_props["name"].removesuffix("_current")])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "warehouse"


TRANSLATOR = FleetDbtTranslator(settings=DagsterDbtTranslatorSettings(
    enable_asset_checks=True, enable_duplicate_source_asset_keys=True))


def model_errors(run_results: dict) -> list[str]:
    """Models, seeds and snapshots that did not build (names only)."""
    return sorted(r["unique_id"].split(".")[-1] for r in run_results.get("results", [])
                  if r["unique_id"].startswith(BUILT) and r["status"] == "error")


def built_nodes(run_results: dict) -> set[str]:
    """Models, seeds and snapshots that built (unique ids)."""
    return {r["unique_id"] for r in run_results.get("results", [])
            if r["unique_id"].startswith(BUILT) and r["status"] == "success"}


class DbtBuildConfig(dg.Config):
    """``fleetdw run --full-refresh``: incremental models are rebuilt from scratch."""

    full_refresh: bool = False


def target_path(settings, step: str) -> Path:
    """dbt's artifacts of one invocation, under the home (never in the repository): ``<home>/dbt/<step>``, replaced
    by the next invocation of the same step, so a home keeps one set of artifacts per step however many runs it
    has seen. They hold compiled SQL, run results and the manifest — never a row's value or the pseudonym key."""
    path = settings.home / "dbt" / step
    if path.exists():
        for item in path.iterdir():
            if item.name != "partial_parse.msgpack":   # dbt's own parse cache: reused while project and vars hold
                shutil.rmtree(item) if item.is_dir() else item.unlink()
    path.mkdir(parents=True, exist_ok=True)
    return path


def dbt_cli(dbt: DbtCliResource, settings, args: list[str], tests_after: int = 0, here: bool = True, **kwargs):
    """``dbt.cli(args)`` for this home, without ``--vars`` (a changed var makes dbt re-parse the whole project,
    ~10–19 s): the run's date in ``FLEETDW_AS_OF`` (read by the ``as_of_value`` macro only while models run).
    dbt runs in this process (``defs/dbt_runner.py``) on the manifest it parsed once, with the warehouse's and the
    home's absolute paths; when not ``here``, or with ``FLEETDW_DBT_SUBPROCESS=1``, it runs as ``fleetdw-dbt`` in
    the home with the warehouse relative to it, so that its own parse cache holds across homes
    (``manifest.dbt_child_env``).
    ``DbtCliResource.cli`` hands a copy of ``os.environ`` to the dbt it starts, so the values are set for that call
    only and restored at once. ``tests_after``: the load id after which the row tests of the event sources look
    (``build_state.tests_after_load``; 0, every row, unless a build says so), in ``FLEETDW_TESTS_AFTER_LOAD`` for
    the same reason."""
    where = ({"FLEETDW_WAREHOUSE": str(settings.warehouse.resolve()), "FLEETDW_HOME": str(settings.home.resolve()),
              IN_PROCESS_VARIABLE: "1"} if here and in_process()
             else {**dbt_child_env(settings.home, settings.warehouse), IN_PROCESS_VARIABLE: "0"})
    values = {**where, "FLEETDW_AS_OF": settings.as_of.isoformat(), "FLEETDW_TESTS_AFTER_LOAD": str(int(tests_after))}
    with environment(values):
        return dbt.cli(args, **kwargs)


T = TypeVar("T")


def unechoed(events: Iterable[T]) -> Iterator[T]:
    """The events of a dbt invocation, without dagster-dbt's echo of each one's text on ``sys.stdout``.

    dagster-dbt writes and flushes every event's text as it streams them (``stream_raw_events``). That stdout is the
    step's captured output, a file under ``<home>/dagster/storage`` that the UI shows, or a daemon's terminal: a
    failing model's message can quote a row's value, and logs hold no personal data. Nothing reads those lines —
    Dagster records what the events say, and ``fleetdw run`` prints its summary — so they go nowhere. Writing them
    also cost about 1 ms each, 0.6 s of a day's run. ``sys.stdout`` is swapped only while dagster-dbt produces an
    event, not while the step handles it."""
    source = iter(events)
    with open(os.devnull, "w") as sink:
        while True:
            with contextlib.redirect_stdout(sink):
                try:
                    event = next(source)
                except StopIteration:
                    return
            yield event


def overlaps_quality_import(complete: bool) -> bool:
    """Whether a build runs dbt as a process of its own (``fleetdw-dbt``) so that the quality step's imports proceed
    in this process meanwhile, on the other core: a partial build in a process that has not imported Great
    Expectations yet (a run's own process). Not beside dbt in this process: both are Python under one interpreter
    lock, and a 150-person run with one fuel file took 2.5-3 s longer so. Not for a complete build, dbt's heaviest:
    at the annual size the import's CPU slowed it about as much as it saved, and its 210 MB came on top of the
    run's peak. Every other build runs dbt in this process (``defs/dbt_runner.py``)."""
    return not complete and "great_expectations" not in sys.modules


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, dagster_dbt_translator=TRANSLATOR)
def warehouse_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource,
                  config: DbtBuildConfig):
    """``dbt build`` of the selected models (all of them, or — a run's asset selection — those whose inputs
    changed, ``dagster_project.build_state``); dagster-dbt turns a subset into ``--select``."""
    settings = warehouse.settings()
    manifest = load_manifest()
    complete = config.full_refresh or set(context.selected_asset_keys) == set(warehouse_dbt.keys)
    with open_warehouse(settings, read_only=True) as con:
        values = input_values(con, settings.as_of, manifest)   # what this build is built from
        tests_after = tests_after_load(manifest, values, recorded_values(con), complete)
    if tests_after:
        context.log.info(f"dbt: the event sources' row tests check the loads after load {tests_after}")
    overlap = overlaps_quality_import(complete)
    if overlap:
        warm_up_quality()
    # No dbt log file: a failing model's message can quote a value, and logs hold no personal data.
    # dbt unit tests test the SQL, not the data: the test suite runs them (the ``built_fleet`` fixture's dbt build
    # fails on any), not every build of the warehouse.
    invocation = dbt_cli(dbt, settings, ["--log-level-file", "none", "build", "--exclude-resource-type", "unit_test",
                                         *(["--full-refresh"] if config.full_refresh else [])],
                         tests_after=tests_after, here=not overlap, context=context, raise_on_error=False,
                         target_path=target_path(settings, "build"))
    yield from unechoed(invocation.stream())
    run_results = invocation.get_artifact("run_results.json")
    errors = model_errors(run_results)
    if errors or not invocation.is_successful() and not _tests_failed(run_results):
        # A model that does not build is a failure of the pipeline; a failing data test is a finding.
        raise dg.Failure(f"dbt build failed: {len(errors)} model(s) in error", metadata={"models_in_error": errors})
    if invocation.is_successful():
        # every selected model built and every test passed: later runs need not build them again until one of
        # their inputs changes
        built = built_nodes(run_results)
        with open_warehouse(settings) as con:
            covered = record_build(con, context.run.run_id, settings.as_of, manifest, values, built)
        context.log.info(f"dbt: {len(built)} model(s) built; {len(covered)} input(s) up to date")


def _tests_failed(run_results: dict) -> bool:
    return any(r["unique_id"].startswith(("test.", "unit_test.")) and r["status"] in ("fail", "error")
               for r in run_results.get("results", []))


class FleetDbtCliResource(DbtCliResource):
    """dagster-dbt's resource without its two start-up costs that fleetdw never uses (7 s of every dbt step):

    - ``dbt --version`` in a subprocess to learn the engine's version (5 s: dbt's start-up): the dbt we run is the
      ``dbt-core`` installed in this environment, whose version its package metadata gives;
    - a dbt adapter created in this process (dbt's imports, the project's macros: 2 s), which dagster-dbt needs
      only to fetch row counts or column metadata for a model — fleetdw asks for neither (the warehouse's counts
      come from its own steps).
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):
        return None


def dbt_resource() -> DbtCliResource:
    return FleetDbtCliResource(project_dir=dbt_project, profiles_dir=str(DBT_DIR), dbt_executable=dbt_executable())
