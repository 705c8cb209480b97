"""Smoke test of the benchmark driver (slow: runs peers in subprocesses; `make test-all`)."""

import pytest


@pytest.mark.slow
def test_quick_benchmark_runs_and_reports_errors():
    run = pytest.importorskip("benchmarks.run")
    table = run.main(quick=True)
    assert len(table) > 0
    assert {"method", "error"} <= set(table.columns) or len(table.columns) > 3
