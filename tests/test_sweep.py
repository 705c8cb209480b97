"""Tests of mdplab.sweep: determinism, the store (resume, failures, corruption), real
interruptions (SIGKILL of the driving process, of a Dask worker), the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sweep_tasks as T

from mdplab import sweep as sw

ROOT = Path(__file__).resolve().parents[1]


def test_grid_product_order_and_columns():
    df = sw.sweep(T.noisy_square, {"x": [1, 2, 3], "scale": [1.0, 10.0]}, seeds=2, workers=1)
    assert len(df) == 12
    assert list(df.columns[:3]) == ["x", "scale", "seed"]
    assert df["x"].tolist()[:4] == [1, 1, 1, 1] and df["seed"].tolist()[:2] == [0, 1]
    np.testing.assert_allclose(df["y"], df["scale"] * df["x"] ** 2)
    s = df.attrs["sweep"]
    assert (s.total, s.computed, s.cached, s.failed) == (12, 12, 0, 0)


def test_results_do_not_depend_on_workers_or_order():
    grid = {"x": list(range(6))}
    one = sw.sweep(T.noisy_square, grid, seeds=[3, 7], workers=1)
    two = sw.sweep(T.noisy_square, grid, seeds=[3, 7], workers=2)
    assert two["pid"].nunique() >= 1
    pd.testing.assert_frame_equal(one.drop(columns="pid"), two.drop(columns="pid"))
    # the draw is the task generator's: keyed by (fn, params, seed, version) only
    key = sw.task_key(T.noisy_square, {"x": 2}, 7)
    expect = sw.task_rng(key).normal()
    assert one[(one["x"] == 2) & (one["seed"] == 7)]["draw"].iloc[0] == expect


def test_list_of_points_and_several_rows_per_task():
    df = sw.sweep(T.several_rows, [{"n": 2}, {"n": 3}], seeds=1, workers=1)
    assert df["n"].tolist() == [2, 2, 3, 3, 3] and df["i"].tolist() == [0, 1, 0, 1, 2]


def test_store_resumes_and_recomputes_only_missing(tmp_path):
    store = tmp_path / "s"
    full = sw.sweep(T.noisy_square, {"x": range(5)}, seeds=2, store=store, workers=1)
    files = sorted((store / "tasks").glob("*.json"))
    assert len(files) == 10
    files[0].unlink()
    files[1].write_text('{"status": "done", "rows": [')  # truncated record
    again = sw.sweep(T.noisy_square, {"x": range(5)}, seeds=2, store=store, workers=1)
    s = again.attrs["sweep"]
    assert (s.computed, s.cached) == (2, 8)
    pd.testing.assert_frame_equal(full, again)


def test_failed_task_is_recorded_and_sweep_goes_on(tmp_path):
    store = tmp_path / "s"
    df = sw.sweep(T.fails_on_three, {"x": range(5)}, seeds=1, store=store, workers=2)
    assert sorted(df["x"]) == [0, 1, 2, 4]
    s = df.attrs["sweep"]
    assert s.failed == 1 and "x = 3 is not allowed" in s.errors[0]["error"]
    assert "RuntimeError" in s.errors[0]["traceback"]
    status = sw.store_status(store)
    assert status["done"] == 4 and status["failed"] == 1
    # re-running retries the failed task only (it fails again)
    again = sw.sweep(T.fails_on_three, {"x": range(5)}, seeds=1, store=store, workers=1)
    assert again.attrs["sweep"].computed == 1 and again.attrs["sweep"].cached == 4
    assert sw.clean_store(store) == 1 and sw.store_status(store)["failed"] == 0


def test_bad_input():
    with pytest.raises(TypeError, match="fn"):
        sw.sweep(42, {"x": [1]})
    with pytest.raises(ValueError, match="empty"):
        sw.sweep(T.noisy_square, {"x": []})
    with pytest.raises(ValueError, match="reserved"):
        sw.sweep(T.noisy_square, {"x": [1], "rng": [0]})
    with pytest.raises(ValueError, match="seeds"):
        sw.sweep(T.noisy_square, {"x": [1]}, seeds=0)
    with pytest.raises(ValueError, match="duplicate"):
        sw.sweep(T.noisy_square, {"x": [1]}, seeds=[1, 1])
    with pytest.raises(ValueError, match="workers"):
        sw.sweep(T.noisy_square, {"x": [1]}, workers=0)
    with pytest.raises(TypeError, match="cannot be hashed"):
        sw.sweep(T.noisy_square, {"x": [object()]})
    with pytest.raises(TypeError, match="scheduler"):
        sw.sweep(T.noisy_square, {"x": [1]}, scheduler=3.5)


DRIVER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    import sweep_tasks as T
    from mdplab import sweep as sw
    sw.sweep(T.slow, {{"x": list(range(12))}}, seeds=2, store={store!r}, workers=2)
""")


def test_sigkill_mid_sweep_then_resume_gives_the_uninterrupted_table(tmp_path):
    store = tmp_path / "killed"
    code = DRIVER.format(tests=str(ROOT / "tests"), store=str(store))
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path,
                            start_new_session=True)
    deadline = time.time() + 60
    tdir = store / "tasks"
    while time.time() < deadline:
        if tdir.is_dir() and len(list(tdir.glob("*.json"))) >= 4:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its workers
    proc.wait()
    n_before = len(list(tdir.glob("*.json")))
    assert 4 <= n_before < 24
    for path in tdir.glob("*.json"):  # every record on disk is complete
        assert json.loads(path.read_text())["status"] == "done"
    resumed = sw.sweep(T.slow, {"x": list(range(12))}, seeds=2, store=store, workers=2)
    assert resumed.attrs["sweep"].cached == n_before
    clean = sw.sweep(T.slow, {"x": list(range(12))}, seeds=2, workers=2)
    pd.testing.assert_frame_equal(resumed, clean)


def test_dask_local_cluster_survives_a_killed_worker(tmp_path):
    distributed = pytest.importorskip("distributed")
    import cloudpickle

    cloudpickle.register_pickle_by_value(T)  # workers need not import the test module
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=50)
    client = distributed.Client(cluster)
    try:
        pids = list(client.run(os.getpid).values())
        killer_done = []

        def kill_one():
            time.sleep(1.0)
            os.kill(pids[0], signal.SIGKILL)
            killer_done.append(True)

        import threading

        threading.Thread(target=kill_one, daemon=True).start()
        store = tmp_path / "dask"
        df = sw.sweep(T.slow, {"x": list(range(16))}, seeds=1, store=store, scheduler=client)
        assert killer_done
        assert df.attrs["sweep"].failed == 0 and len(df) == 16
        local = sw.sweep(T.slow, {"x": list(range(16))}, seeds=1, workers=1)
        pd.testing.assert_frame_equal(df, local)
    finally:
        client.close()
        cluster.close()
        cloudpickle.unregister_pickle_by_value(T)


def test_cli_status_and_clean(tmp_path):
    from typer.testing import CliRunner

    from mdplab.cli import app

    store = tmp_path / "s"
    sw.sweep(T.fails_on_three, {"x": range(5)}, seeds=1, store=store, workers=1)
    runner = CliRunner()
    out = runner.invoke(app, ["sweep", "status", str(store)])
    assert out.exit_code == 0, out.output
    assert "4 done" in out.output and "1 failed" in out.output and "x = 3" in out.output
    out = runner.invoke(app, ["sweep", "clean", str(store)])
    assert out.exit_code == 0 and "removed 1" in out.output
    out = runner.invoke(app, ["sweep", "clean", str(store), "--all"])
    assert out.exit_code == 0 and not store.exists()
    out = runner.invoke(app, ["sweep", "status", str(tmp_path / "nothing")])
    assert out.exit_code == 1 and "not a sweep store" in out.output


def test_load_and_export_store_give_the_sweep_table(tmp_path):
    """The store read back (in key order) holds exactly the rows the sweep returned; the CSV
    export round-trips; failed tasks are left out; bad suffixes and missing stores are errors."""
    from typer.testing import CliRunner

    from mdplab.cli import app

    store = tmp_path / "s"
    df = sw.sweep(T.fails_on_three, {"x": range(5)}, seeds=2, store=store, workers=1)
    back = sw.load_store(store)
    assert len(back) == len(df) == 8 and set(back["x"]) == {0, 1, 2, 4}
    cols = [c for c in df.columns]
    key_order = back.sort_values(["x", "seed"]).reset_index(drop=True)[cols]
    pd.testing.assert_frame_equal(key_order, df.reset_index(drop=True), check_dtype=False)
    out = sw.export_store(store, tmp_path / "t.csv")
    pd.testing.assert_frame_equal(pd.read_csv(out), back, check_dtype=False)
    with pytest.raises(ValueError, match=".csv"):
        sw.export_store(store, tmp_path / "t.xlsx")
    with pytest.raises(FileNotFoundError, match="not a sweep store"):
        sw.load_store(tmp_path / "nothing")
    res = CliRunner().invoke(app, ["sweep", "export", str(store), str(tmp_path / "u.csv.gz")])
    assert res.exit_code == 0 and "wrote 8 rows" in res.output, res.output
    assert len(pd.read_csv(tmp_path / "u.csv.gz")) == 8
    res = CliRunner().invoke(app, ["sweep", "export", str(store), str(tmp_path / "u.txt")])
    assert res.exit_code == 2


def test_export_to_parquet_without_an_engine_says_what_to_install(tmp_path, monkeypatch):
    store = tmp_path / "s"
    sw.sweep(T.noisy_square, {"x": [1]}, seeds=1, store=store, workers=1)

    def no_engine(*args, **kwargs):
        raise ImportError("Unable to find a usable engine")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", no_engine)
    with pytest.raises(ImportError, match="pip install pyarrow"):
        sw.export_store(store, tmp_path / "t.parquet")
