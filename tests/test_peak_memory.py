"""Long runs report their peak memory: sweeps (per task and in the summary) and learn.run."""

import numpy as np

import mdplab as ml
from mdplab._utils import PeakMemory, process_peak_rss_mb
from tests import sweep_tasks


def test_process_peak_is_at_least_the_current_resident_memory():
    peak = process_peak_rss_mb()
    assert peak is not None and peak * 2**20 >= PeakMemory.current() * 0.99


def test_sweep_reports_the_peak_memory_of_its_workers(tmp_path):
    df = ml.sweep(sweep_tasks.noisy_square, {"x": [1, 2]}, seeds=2, workers=1, progress=False,
                  store=tmp_path / "store")
    summary = df.attrs["sweep"]
    assert summary.peak_rss_mb is not None and summary.peak_rss_mb > 10
    assert "peak worker memory" in str(summary)


def test_learning_runs_report_peak_memory():
    mdp = ml.envs.random_mdp(3, 2, horizon=3, rng=0)
    log = ml.learn.run(ml.learn.UCBVI(), mdp, episodes=20, rng=0, progress=False)
    assert log.attrs["peak_rss_mb"] > 10
    assert np.isfinite(log.attrs["peak_rss_mb"])
