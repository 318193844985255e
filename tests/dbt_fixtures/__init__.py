"""Helpers for the dbt tests: a small hand-made landing zone, loading it, and running dbt on it."""
