"""The suite's own schedule: with ``--dist loadscope`` the modules marked ``heavy`` must reach xdist in the order
``tests/conftest.py`` gives them (heaviest first), or one worker ends up running the longest module alone."""

from __future__ import annotations


def test_xdist_keeps_the_heavy_first_order(pytestconfig):
    # xdist's default (--loadscope-reorder) sorts the modules by their number of tests instead
    assert pytestconfig.getoption("loadscopereorder") is False


def test_heavy_modules_come_first_heaviest_first():
    from types import SimpleNamespace

    from tests.conftest import pytest_collection_modifyitems

    def item(name, seconds=None):
        mark = SimpleNamespace(args=(seconds,)) if seconds else None
        return SimpleNamespace(name=name, get_closest_marker=lambda _name: mark)

    items = [item("light_a"), item("heavy_30", 30), item("light_b"), item("heavy_90", 90), item("heavy_60", 60)]
    pytest_collection_modifyitems(items)
    assert [i.name for i in items] == ["heavy_90", "heavy_60", "heavy_30", "light_a", "light_b"]
