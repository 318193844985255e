"""The house rules of the code: imports run one way (CLI -> Dagster wiring -> domain -> ingest), domain code
imports no Dagster, and every module imports on its own (no import cycle)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ingest", "dagster_project")


def modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            if parts[-1] != "__main__":
                out[name] = path
    return out


def layer(module: str) -> int:
    """0 ingest, 1 domain, 2 Dagster wiring, 3 CLI."""
    if module.startswith("ingest"):
        return 0
    if module.startswith("dagster_project.cli"):
        return 3
    if module.startswith(("dagster_project.defs", "dagster_project.definitions")):
        return 2
    return 1


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_domain_and_ingest_import_no_dagster():
    offenders = {m: sorted(n for n in imported(p) if n.split(".")[0].startswith("dagster") and n.split(".")[0] != "dagster_project")
                 for m, p in modules().items() if layer(m) <= 1}
    assert {m: n for m, n in offenders.items() if n} == {}


def test_imports_run_one_way():
    """A module imports only from its own layer or the layers below it."""
    wrong = []
    for module, path in modules().items():
        for name in imported(path):
            if name.split(".")[0] in PACKAGES and layer(name) > layer(module):
                wrong.append(f"{module} -> {name}")
    assert wrong == []


def test_cli_commands_import_no_asset_module():
    wrong = [f"{m} -> {n}" for m, p in modules().items() if layer(m) == 3 for n in imported(p)
             if n.startswith("dagster_project.defs.") and n != "dagster_project.defs.runs"]
    assert wrong == []


def test_every_module_imports_on_its_own():
    """Each module imported first, with none of the project's modules loaded before it: a cycle shows up as a
    partially initialised module."""
    script = """
import importlib, sys
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m.split('.')[0] in ('ingest', 'dagster_project')]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed.append(f"{name}: {type(exc).__name__}: {exc}")
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""
    proc = subprocess.run([sys.executable, "-c", script, *modules()], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
