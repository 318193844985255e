"""On demand: a simulated month of operation (``tests/soak/operate.py``), one table row per day.

    python tests/soak/soak.py                      # 30 days, 2,000 persons, in a fresh temporary home
    python tests/soak/soak.py --days 10 --persons 300 --home /tmp/soak

Exits 1 (after the table) if any day is not green. The suite runs a five-day version (``tests/test_soak.py``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.soak.operate import HEADER, Operation  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30, help="days of operation after the first (default 30)")
    parser.add_argument("--persons", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 11, 1))
    parser.add_argument("--home", type=Path, default=None, help="an empty directory (default: a temporary one)")
    args = parser.parse_args()
    if args.days < 4:
        parser.error("--days must be at least 4 (the scenario's steward actions take days 1 to 4)")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    root = args.home or Path(tempfile.mkdtemp(prefix="fleetdw-soak-"))
    if (root / "home").exists():
        parser.error(f"{root / 'home'} exists: give an empty --home")
    op = Operation(root / "home", root / "work", persons=args.persons, seed=args.seed, start=args.start)
    print(f"soak: {args.days} days after {args.start}, {args.persons} persons, home {root / 'home'}", flush=True)
    print(HEADER, flush=True)
    started = time.monotonic()
    days = [op.first_day()]
    print(days[-1].row(), flush=True)
    for k in range(1, args.days + 1):
        days.append(op.operate(k))
        print(days[-1].row(), flush=True)
    red = [d.day for d in days if not d.green]
    walls = sorted(d.wall_s for d in days[1:])
    print(f"soak: {len(days)} runs in {time.monotonic() - started:.0f} s; daily run median {walls[len(walls) // 2]:.1f} s,"
          f" max {walls[-1]:.1f} s; " + ("every day green" if not red else f"days not green: {red}"), flush=True)
    return 1 if red else 0


if __name__ == "__main__":
    sys.exit(main())
