"""Raw layer: one asset per landing source. Each materialisation loads that source's new files."""


import dagster as dg

from dagster_project.defs.resources import WarehouseResource
from dagster_project.lake import CONTROL_TABLES, sync_if_spark
from dagster_project.retention.reappeared import erase_found, find_reappeared, withhold_erased
from ingest.contracts import SOURCES, Source
from ingest.loader import LoadContext, Loader


def raw_asset_key(source: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", source])


def build_raw_asset(source: Source) -> dg.AssetsDefinition:
    # A consent-gated source (location) decides from raw.consents: it loads after the consents of the same run.
    deps = [raw_asset_key("consents")] if source.consent else []

    @dg.asset(
        key=raw_asset_key(source.name),
        deps=deps,
        group_name="raw",
        kinds={"duckdb"},
        description=f"Every accepted version of every {source.name} row with lineage ({source.semantics} "
                    f"semantics); bad rows go to raw.quarantine, bad files are rejected and recorded.",
    )
    def _raw(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        settings = warehouse.settings()
        with warehouse.connect() as con:
            # rows naming an erased person are withheld at the load (retention/reappeared.py)
            ctx = LoadContext(settings.home, settings.landing, settings.as_of, context.run.run_id,
                              withhold_erased(con, settings, context.run.run_id))
            outcome = Loader(con, ctx).ingest(source)
            # An erased person this source brought back is erased again before anything is built from the rows
            # (the loads no check has seen, so a run killed between the load and this check is caught next time).
            found = find_reappeared(con, settings, [f"raw.{source.name}"])
        meta = outcome.metadata()
        again = erase_found(settings, found, context.run.run_id) if found else None
        # FLEETDW_ENGINE=spark: this source's loads (every table after a re-erasure) into the Parquet lake
        lake = sync_if_spark(settings, None if again else [f"raw.{source.name}", *CONTROL_TABLES])
        if again is not None:
            context.log.info(f"{source.name}: {again.erased_subjects} erased person(s) re-delivered and erased "
                             f"again; verification {again.verification}")
        context.log.info(
            f"{source.name}: {meta['files_loaded']} file(s) loaded, {meta['rows_loaded']} row(s), "
            f"{meta['rows_quarantined']} quarantined, {meta['rows_withheld']} withheld "
            f"({meta['rows_withheld_erased']} naming an erased person), "
            f"{meta['files_rejected']} file(s) rejected, "
            f"{meta['files_duplicate']} duplicate file(s)"
        )
        return dg.MaterializeResult(metadata={
            "files_loaded": meta["files_loaded"],
            "files_rejected": meta["files_rejected"],
            "files_duplicate": meta["files_duplicate"],
            "rows_loaded": meta["rows_loaded"],
            "rows_quarantined": meta["rows_quarantined"],
            "rows_withheld": meta["rows_withheld"],
            "rows_withheld_erased": meta["rows_withheld_erased"],
            "quarantine_reasons": dg.MetadataValue.json(meta["quarantine_reasons"]),
            "drift_columns": dg.MetadataValue.json(meta["drift_columns"]),
            "rejected_files": dg.MetadataValue.json(meta["rejected_files"]),
            "drift_files": dg.MetadataValue.json(meta["drift_files"]),
            "erased_again": again.erased_subjects if again else 0,
            "erased_again_verification": again.verification if again else "not_run",
            **(lake.metadata() if lake else {}),
        })

    return _raw


RAW_ASSETS = [build_raw_asset(s) for s in SOURCES.values()]
