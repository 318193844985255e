"""Built once per test session, shared by the xdist workers: a directory under the session's common temporary
root, built under a file lock by whichever worker comes first, marked complete only after the build."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable

import pytest
from filelock import FileLock

DONE = "done"


def shared_root(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """``name`` under the temporary root that every xdist worker of this session shares."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / name


def build_once(root: Path, build: Callable[[Path], None]) -> Path:
    """``root`` built by ``build(root)`` once: the first worker builds it (from an empty directory, whatever a
    build killed half-way left), the others wait for the lock and find it done."""
    with FileLock(str(root) + ".lock"):
        if not (root / DONE).exists():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(parents=True)
            build(root)
            (root / DONE).write_text("ok")
    return root


def shared_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """:func:`build_once` of ``name`` under the session's shared root."""
    return build_once(shared_root(tmp_path_factory, name), build)
