"""Smoke test of the benchmark driver (slow: runs peers in subprocesses; `make test-all`)."""

import pytest


@pytest.mark.slow
def test_quick_benchmark_runs_and_mdplab_is_accurate():
    run = pytest.importorskip("benchmarks.run")
    table = run.main(quick=True, log=lambda *a, **k: None)
    mine = table[(table["library"] == "mdplab") & (table["status"] == "ok")]
    assert len(mine) > 0
    # every mdplab run that finished is within the 1e-8 accuracy it was asked for
    assert (mine["error"] <= 1e-8).all(), mine[["instance", "method", "error"]]
