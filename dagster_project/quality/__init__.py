"""Data quality: Great Expectations suites on each newly loaded batch and on the retention inputs, and the
stewards' report. Results carry counts and rule names only (no unexpected values ever leave DuckDB or GE)."""
