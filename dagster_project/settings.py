"""Where fleetdw keeps things and which day it is: one place that reads the ``FLEETDW_*`` environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

HELSINKI = ZoneInfo("Europe/Helsinki")


class SettingsError(ValueError):
    """A user-facing configuration mistake (shown as a one-line error)."""


def create_files_owner_only() -> None:
    """Every file and directory this process creates from now on is readable by its owner only (umask 077): the
    warehouse, the landing archive, rejected and duplicate files, exports, reports, the key and Dagster's storage
    all can hold personal data."""
    os.umask(0o077)


def today_helsinki() -> date:
    return datetime.now(HELSINKI).date()


def as_of_clock(as_of: date) -> datetime:
    """When a request recorded now counts as made: now when ``as_of`` is today in Helsinki, otherwise the start of
    that day (00:00 Europe/Helsinki), so a run on that as-of date sees it (CLI.md, ``consent record``)."""
    if as_of == today_helsinki():
        return datetime.now(timezone.utc).replace(microsecond=0)
    return datetime.combine(as_of, time(0, 0), tzinfo=HELSINKI)


def parse_as_of(value: str | date | None) -> date:
    if value is None or value == "":
        return today_helsinki()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise SettingsError(f"--as-of must be a date YYYY-MM-DD, got {value!r}") from None


ENGINES = ("duckdb", "spark")


def parse_engine(value: str | None) -> str:
    """``FLEETDW_ENGINE``: ``duckdb`` (default, the embedded warehouse) or ``spark`` (the dbt project also runs on
    Spark, which reads the raw layer from the Parquet lake under ``<home>/lake``)."""
    engine = (value or "duckdb").strip().lower()
    if engine not in ENGINES:
        raise SettingsError(f"FLEETDW_ENGINE must be one of {', '.join(ENGINES)}, got {value!r}")
    return engine


@dataclass(frozen=True)
class Settings:
    home: Path
    warehouse: Path
    landing: Path
    as_of: date
    engine: str = "duckdb"

    @classmethod
    def resolve(cls, home: str | None = None, warehouse: str | None = None, landing: str | None = None,
                as_of: str | date | None = None, engine: str | None = None) -> "Settings":
        """Explicit values first, then ``FLEETDW_HOME``/``_WAREHOUSE``/``_LANDING``/``_AS_OF``/``_ENGINE``, then
        defaults."""
        home_path = Path(home or os.environ.get("FLEETDW_HOME") or ".fleetdw").expanduser().absolute()
        wh = warehouse or os.environ.get("FLEETDW_WAREHOUSE") or str(home_path / "warehouse.duckdb")
        land = landing or os.environ.get("FLEETDW_LANDING") or str(home_path / "landing")
        return cls(
            home=home_path,
            warehouse=Path(wh).expanduser().absolute(),
            landing=Path(land).expanduser().absolute(),
            as_of=parse_as_of(as_of if as_of is not None else os.environ.get("FLEETDW_AS_OF")),
            engine=parse_engine(engine or os.environ.get("FLEETDW_ENGINE")),
        )

    @property
    def lake(self) -> Path:
        """The raw layer as Parquet for Spark (``dagster_project/lake``), kept only when the engine is spark."""
        return self.home / "lake"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    def as_env(self) -> dict[str, str]:
        return {
            "FLEETDW_HOME": str(self.home),
            "FLEETDW_WAREHOUSE": str(self.warehouse),
            "FLEETDW_LANDING": str(self.landing),
            "FLEETDW_AS_OF": self.as_of.isoformat(),
        }
