"""Tests of mdplab.report: files per claim, index.md, caching, --force, output-folder safety."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from mdplab import report
from mdplab.claims import ClaimResult, _registry, register
from mdplab.report import build_report

META = {
    "citation": "Doe (2024), arXiv:2401.00000, Eq. (3)",
    "statement": r"The map $T_\beta$ is a $\gamma$-contraction.",
    "budget_seconds": 5,
}
CALLS: list[str] = []


@pytest.fixture
def fake_claims():
    """Three fake claims (pass with a figure and a long table, fail, raise) in an empty registry."""
    CALLS.clear()
    with _registry._isolated():

        @register(id="fake-pass", title="Passes", **META)
        def check_pass(quick, rng, out):
            CALLS.append("fake-pass")
            n = 5 if quick else 40
            figures = [out / "curve.pdf", out / "curve.png"]  # stand-ins (plots: test_plot.py)
            for f in figures:
                f.write_bytes(rng.bytes(16))
            table = pd.DataFrame({"k": np.arange(n), "ratio | bound": np.linspace(0, 0.9, n)})
            return ClaimResult(passed=True, table=table, figures=figures,
                               summary="max ratio 0.9 <= gamma", key_numbers={"max_ratio": 0.9,
                                                                              "nan_value": np.nan})

        @register(id="fake-fail", title="Fails", **META)
        def check_fail(quick, rng, out):
            CALLS.append("fake-fail")
            return ClaimResult(passed=False, table=pd.DataFrame({"err": [0.5]}),
                               summary="error 0.5 > 1e-10", key_numbers={"err": 0.5})

        @register(id="fake-raise", title="Raises", **META)
        def check_raise(quick, rng, out):
            CALLS.append("fake-raise")
            raise RuntimeError("solver exploded")

        yield


def _build(tmp_path, **kw):
    kw.setdefault("quick", True)
    kw.setdefault("out", tmp_path / "report")
    kw.setdefault("figures_dir", tmp_path / "figures")
    kw.setdefault("progress", False)
    return report.build_report(**kw)


def test_build_report_writes_files_and_returns_frame(fake_claims, tmp_path):
    df = _build(tmp_path)
    out = tmp_path / "report"
    assert list(df["id"]) == ["fake-fail", "fake-pass", "fake-raise"]
    assert list(df["verdict"]) == ["FAIL", "PASS", "FAIL"]
    assert not df["cached"].any() and (df["mode"] == "quick").all()
    for cid in df["id"]:
        assert (out / cid / "table.csv").is_file()
        assert (out / cid / "result.json").is_file()
    rec = json.loads((out / "fake-pass" / "result.json").read_text())
    assert rec["passed"] is True and rec["verdict"] == "PASS" and rec["mode"] == "quick"
    assert rec["key_numbers"] == {"max_ratio": 0.9, "nan_value": None}  # strict JSON
    assert rec["figures"] == ["curve.pdf", "curve.png"]
    assert rec["seed"] == 0 and len(rec["cache_key"]) == 64
    assert (out / "fake-pass" / "curve.png").is_file()
    assert math.isnan(df.set_index("id").loc["fake-pass", "key_numbers"]["nan_value"])
    raised = json.loads((out / "fake-raise" / "result.json").read_text())
    assert raised["passed"] is False and raised["error"] is True
    assert "solver exploded" in raised["summary"] and "Traceback" in raised["summary"]
    table = pd.read_csv(out / "fake-pass" / "table.csv")
    assert list(table.columns) == ["k", "ratio | bound"] and len(table) == 5
    assert not (tmp_path / "figures").exists()  # quick mode: no figure copy


def test_index_md_contents(fake_claims, tmp_path):
    _build(tmp_path, quick=False)
    text = (tmp_path / "report" / "index.md").read_text()
    assert text.splitlines()[0] == report.INDEX_MARKER
    assert "3 claims: 1 passed, 2 failed" in text
    assert "| [fake-pass](#fake-pass) | Passes | Doe (2024), arXiv:2401.00000, Eq. (3) | PASS |" \
        in text
    assert "| [fake-fail](#fake-fail) | Fails |" in text and "**FAIL**" in text
    assert "max_ratio = 0.9; nan_value = nan" in text
    assert r"$T_\beta$ is a $\gamma$-contraction" in text  # statement, LaTeX kept
    assert "```text\ncheck raised RuntimeError: solver exploded" in text
    assert "![fake-pass: curve](fake-pass/curve.png)" in text
    assert "[curve.pdf](fake-pass/curve.pdf)" in text
    assert "Table: first 30 of 40 rows" in text and "ratio \\| bound" in text  # escaped pipe
    section = text.split("## fake-pass")[1].split("## fake-raise")[0]
    assert sum(line.startswith("| ") for line in section.splitlines()) == 31  # header + 30


def test_full_mode_copies_figures(fake_claims, tmp_path):
    _build(tmp_path, quick=False)
    figs = tmp_path / "figures" / "fake-pass"
    assert sorted(p.name for p in figs.iterdir()) == ["curve.pdf", "curve.png"]
    assert not (tmp_path / "figures" / "fake-fail").exists()
    stale = figs / "old.png"
    stale.write_bytes(b"x")
    _build(tmp_path, quick=False)  # cached, but the copy is refreshed
    assert not stale.exists() and (figs / "curve.pdf").is_file()


def test_full_mode_without_figures_dir(fake_claims, tmp_path):
    _build(tmp_path, quick=False, figures_dir=None)
    assert not (tmp_path / "figures").exists()


def test_cache_reuse_force_seed_and_mode(fake_claims, tmp_path):
    _build(tmp_path, ids=["fake-pass"])
    assert CALLS == ["fake-pass"]
    df = _build(tmp_path, ids=["fake-pass"])
    assert CALLS == ["fake-pass"] and df["cached"].all()
    _build(tmp_path, ids=["fake-pass"], force=True)
    assert CALLS == ["fake-pass"] * 2
    _build(tmp_path, ids=["fake-pass"], seed=1)
    _build(tmp_path, ids=["fake-pass"], quick=False)
    assert CALLS == ["fake-pass"] * 4


def test_failed_claims_are_cached_too(fake_claims, tmp_path):
    _build(tmp_path, ids="fake-raise")
    df = _build(tmp_path, ids="fake-raise")
    assert CALLS == ["fake-raise"] and df["cached"].all() and not df["passed"].any()


def test_cache_invalid_when_files_missing_or_run_interrupted(fake_claims, tmp_path):
    out = tmp_path / "report"
    _build(tmp_path, ids=["fake-pass"])
    (out / "fake-pass" / "curve.png").unlink()
    _build(tmp_path, ids=["fake-pass"])
    assert CALLS == ["fake-pass"] * 2
    (out / "fake-pass" / ".mdplab-running").touch()
    _build(tmp_path, ids=["fake-pass"])
    assert CALLS == ["fake-pass"] * 3
    assert not (out / "fake-pass" / ".mdplab-running").exists()


def test_stale_files_are_removed_on_rerun(fake_claims, tmp_path):
    out = tmp_path / "report"
    _build(tmp_path, ids=["fake-pass"])
    (out / "fake-pass" / "stale.png").write_bytes(b"x")
    _build(tmp_path, ids=["fake-pass"], force=True)
    assert not (out / "fake-pass" / "stale.png").exists()


def test_cache_key_depends_on_mode_seed_and_claim(fake_claims):
    from mdplab.claims import get

    c = get("fake-pass")
    keys = {report.cache_key(c, q, s) for q in (True, False) for s in (0, 1)}
    keys.add(report.cache_key(get("fake-fail"), True, 0))
    assert len(keys) == 5
    assert report.cache_key(c, True, 0) == report.cache_key(c, True, 0)


def test_index_accumulates_claims_across_runs(fake_claims, tmp_path):
    _build(tmp_path, ids=["fake-pass"])
    _build(tmp_path, ids=["fake-fail"])
    text = (tmp_path / "report" / "index.md").read_text()
    assert "## fake-pass" in text and "## fake-fail" in text
    assert "2 claims: 1 passed, 1 failed" in text
    assert list(report.load_results(tmp_path / "report")["id"]) == ["fake-fail", "fake-pass"]


def test_unknown_id_raises_before_writing(fake_claims, tmp_path):
    with pytest.raises(KeyError, match="known claims: fake-fail, fake-pass, fake-raise"):
        _build(tmp_path, ids=["fake-pass", "nope"])
    assert not (tmp_path / "report").exists() and CALLS == []


def test_foreign_folder_is_protected(fake_claims, tmp_path):
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "index.md").write_text("# my thesis\n")
    with pytest.raises(FileExistsError, match="not an mdplab report"):
        _build(tmp_path, out=out)
    assert (out / "index.md").read_text() == "# my thesis\n" and CALLS == []
    _build(tmp_path, out=out, force=True)
    assert report.is_report_dir(out)


def test_output_folder_rules(tmp_path):
    assert report.prepare_output_dir(tmp_path / "new" / "deep") == tmp_path / "new" / "deep"
    assert (tmp_path / "new" / "deep").is_dir()
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(NotADirectoryError):
        report.prepare_output_dir(file, force=True)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert report.prepare_output_dir(empty) == empty
    assert not report.is_report_dir(tmp_path / "missing")


def test_markdown_table_formats_and_truncates():
    df = pd.DataFrame({"a": [1, 2, 3], "b": [0.123456, np.inf, np.nan], "c": ["x|y", "z\nw", "v"]})
    md = report.markdown_table(df, max_rows=2)
    lines = md.splitlines()
    assert lines[0] == "| a | b | c |" and lines[1] == "|---:|---:|---|"
    assert lines[2] == "| 1 | 0.1235 | x\\|y |" and lines[3] == "| 2 | inf | z w |"
    assert len(lines) == 4
    assert report.markdown_table(pd.DataFrame()) == "(empty table)"


def test_named_index_is_kept_and_over_budget_is_flagged(tmp_path):
    import time

    with _registry._isolated():

        @register(id="slow-indexed", title="Slow", citation="c", statement="s",
                  budget_seconds=0.001)
        def check(quick, rng, out):
            time.sleep(0.01)
            table = pd.DataFrame({"err": [1e-12, 2e-12]}, index=pd.Index([0.1, 1.0], name="beta"))
            return ClaimResult(passed=True, table=table)

        _build(tmp_path, quick=False, figures_dir=None)
    out = tmp_path / "report"
    assert list(pd.read_csv(out / "slow-indexed" / "table.csv").columns) == ["beta", "err"]
    assert "**over budget**" in (out / "index.md").read_text()


def test_parallel_workers_give_the_same_report_as_serial(tmp_path):
    """Claims run in 2 worker processes (through mdplab.sweep) give the verdicts, numbers and
    files of a serial run."""
    ids = ["kl-rl-bayesian-posterior", "bon-binary-reward-is-tilt"]
    serial = build_report(ids, quick=True, out=tmp_path / "a", figures_dir=None, progress=False)
    parallel = build_report(ids, quick=True, out=tmp_path / "b", figures_dir=None,
                            progress=False, workers=2)
    cols = ["id", "verdict", "passed", "summary"]
    pd.testing.assert_frame_equal(serial[cols], parallel[cols])
    for a, b in zip(serial["key_numbers"], parallel["key_numbers"], strict=True):
        assert a == b
    for cid in ids:
        assert (tmp_path / "b" / cid / "result.json").is_file()
        assert not (tmp_path / "b" / cid / report._RUNNING).exists()
        ta = pd.read_csv(tmp_path / "a" / cid / "table.csv")
        tb = pd.read_csv(tmp_path / "b" / cid / "table.csv")
        pd.testing.assert_frame_equal(ta, tb)
    again = build_report(ids, quick=True, out=tmp_path / "b", figures_dir=None, progress=False,
                         workers=2)
    assert again["cached"].all()


INTERRUPT_IDS = ["bon-binary-reward-is-tilt", "kl-constrained-optimum", "bon-exact-pmf"]


def _check_cmd(out):
    import sys

    return [sys.executable, "-m", "mdplab", "claims", "check", *INTERRUPT_IDS, "--quick",
            "--out", str(out), "--no-progress", "--no-fail-on-claims", "--no-figures"]


def _comparable(out):
    """What must not depend on interruptions: verdicts, summaries, key numbers, tables."""
    recs = {}
    for cid in INTERRUPT_IDS:
        rec = json.loads((out / cid / "result.json").read_text())
        table = (out / cid / "table.csv").read_text()
        recs[cid] = (rec["passed"], rec["summary"], rec["key_numbers"], table)
    return recs


@pytest.fixture(scope="module")
def uninterrupted_report(tmp_path_factory):
    import subprocess

    clean = tmp_path_factory.mktemp("clean") / "report"
    done = subprocess.run(_check_cmd(clean), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return _comparable(clean)


@pytest.mark.parametrize("sig", ["SIGKILL", "SIGINT"])
def test_interrupted_claims_check_resumes_to_the_same_report(tmp_path, sig,
                                                             uninterrupted_report):
    """`mdplab claims check` killed (SIGKILL) or interrupted (Ctrl-C) after its first claim:
    finished claims are kept, nothing is corrupt, and the next run produces the report of an
    uninterrupted run."""
    import os
    import signal
    import subprocess
    import time

    out = tmp_path / "report"
    proc = subprocess.Popen(_check_cmd(out), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    first = out / INTERRUPT_IDS[0] / "result.json"
    deadline = time.time() + 120
    while time.time() < deadline and not first.exists() and proc.poll() is None:
        time.sleep(0.02)
    assert first.exists(), f"the first claim did not finish (exit code {proc.poll()})"
    os.killpg(proc.pid, getattr(signal, sig))
    proc.wait(timeout=60)
    # every result on disk is complete and valid JSON; the interrupted claim is not cached
    for path in out.glob("*/result.json"):
        json.loads(path.read_text())
    rerun = subprocess.run(_check_cmd(out), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "(cached)" in rerun.stdout  # the claim finished before the kill was reused
    assert _comparable(out) == uninterrupted_report
    assert (out / "index.md").is_file()


def test_peak_memory_is_measured_and_reported(tmp_path):
    """A claim that holds 200 MB reports a peak at least that far above its starting RSS."""
    from mdplab._utils import PeakMemory

    start = PeakMemory.current()
    assert start is not None and start > 0  # Linux: /proc/self/statm
    with PeakMemory(interval=0.01) as mem:
        block = np.ones(200 * 2**20 // 8)  # 200 MiB, touched
        block += 1.0
        del block
    assert mem.peak_mb >= start / 2**20 + 150
    with _registry._isolated():

        @register(id="memory-hog", title="Holds memory", **META)
        def check(quick, rng, out):
            block = np.ones(100 * 2**20 // 8)
            block += 1.0
            return ClaimResult(passed=True, table=pd.DataFrame({"x": [block[0]]}), summary="ok")

        df = _build(tmp_path)
        rec = json.loads((tmp_path / "report" / "memory-hog" / "result.json").read_text())
        assert rec["peak_rss_mb"] >= 100
        assert df.loc[0, "peak_rss_mb"] == pytest.approx(rec["peak_rss_mb"])
        assert "peak memory" in (tmp_path / "report" / "index.md").read_text()


def test_environment_is_recorded_listed_and_part_of_the_key(fake_claims, tmp_path, monkeypatch):
    """A result is reused only in the environment that produced it: the versions are in
    result.json, in index.md, and a different NumPy version re-runs the claim."""
    env = report.environment()
    assert env["numpy"] == np.__version__ and env["python"].count(".") == 2
    _build(tmp_path, ids=["fake-pass"])
    rec = json.loads((tmp_path / "report" / "fake-pass" / "result.json").read_text())
    assert rec["environment"] == env
    assert f"numpy {np.__version__}" in (tmp_path / "report" / "index.md").read_text()
    monkeypatch.setattr(report, "environment", lambda: {**env, "numpy": "0.0.0"})
    df = _build(tmp_path, ids=["fake-pass"])
    assert CALLS == ["fake-pass"] * 2 and not df["cached"].any()
