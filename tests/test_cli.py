"""Tests of the ``mdplab`` command line (typer.testing.CliRunner): exit codes and outputs."""

import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import mdplab
from mdplab import cli
from mdplab.claims import ClaimResult, _registry, register

runner = CliRunner()
META = {"citation": "Doe (2024), arXiv:2401.00000, Thm 2", "statement": "$1 = 1$.",
        "budget_seconds": 5}


@pytest.fixture
def fake_claims():
    with _registry._isolated():

        @register(id="cli-pass", title="Passes", **META)
        def check_pass(quick, rng, out):
            return ClaimResult(passed=True, table=pd.DataFrame({"x": [1]}), summary="ok")

        @register(id="cli-fail", title="Fails", **META)
        def check_fail(quick, rng, out):
            raise ValueError("broken check")

        @register(id="cli-false", title="Returns a failed verdict", **META)
        def check_false(quick, rng, out):
            return ClaimResult(passed=False, table=pd.DataFrame({"x": [1]}), summary="no")

        yield


def invoke(*args):
    return runner.invoke(cli.app, [str(a) for a in args])


def test_help_and_version():
    assert invoke("--help").exit_code == 0
    result = invoke("--version")
    assert result.exit_code == 0 and result.output.strip() == f"mdplab {mdplab.__version__}"
    assert "list" in invoke("claims", "--help").output


def test_claims_list(fake_claims):
    result = invoke("claims", "list")
    assert result.exit_code == 0, result.output
    for text in ("cli-fail", "cli-pass", "Passes", "arXiv:2401.00000", "3 claims"):
        assert text in result.output


# ---------------------------------------------------------------------- claims check


def test_check_passing_claim(fake_claims, tmp_path):
    out = tmp_path / "rep"
    result = invoke("claims", "check", "cli-pass", "--quick", "--out", out, "--no-progress")
    assert result.exit_code == 0, result.output
    assert "PASS" in result.output and "1 passed, 0 failed" in result.output
    assert (out / "index.md").is_file() and (out / "cli-pass" / "result.json").is_file()
    again = invoke("claims", "check", "cli-pass", "--quick", "--out", out, "--no-progress")
    assert again.exit_code == 0 and "(cached)" in again.output


def test_check_failing_claim_exits_1(fake_claims, tmp_path):
    result = invoke("claims", "check", "--all", "--quick", "--out", tmp_path / "r",
                    "--no-progress")
    assert result.exit_code == 1
    assert "FAIL" in result.output and "1 passed, 2 failed" in result.output


def test_no_fail_on_claims_exits_0_on_a_failed_verdict_but_1_on_an_error(fake_claims, tmp_path):
    """``make report`` mode: a failed theorem check is a finding; a crashing check is not."""
    ok = invoke("claims", "check", "cli-pass", "cli-false", "--quick", "--out", tmp_path / "a",
                "--no-progress", "--no-fail-on-claims")
    assert ok.exit_code == 0, ok.output
    assert "1 passed, 1 failed" in ok.output
    crash = invoke("claims", "check", "cli-pass", "cli-fail", "--quick", "--out", tmp_path / "b",
                   "--no-progress", "--no-fail-on-claims")
    assert crash.exit_code == 1 and "raised an error" in crash.output


def test_check_full_mode_copies_figures_unless_disabled(fake_claims, tmp_path):
    result = invoke("claims", "check", "cli-pass", "--out", tmp_path / "r",
                    "--figures-dir", tmp_path / "figs", "--no-figures", "--no-progress")
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "figs").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give claim ids or --all"),
        (("cli-pass", "--all"), "not both"),
        (("nope",), "known claims: cli-fail, cli-false, cli-pass"),
        (("--all", "--scheduler", "localhost:8786"), "expected an address"),
        (("--all", "--seed", "-1"), "seed"),
    ],
)
def test_check_usage_errors_exit_2(fake_claims, tmp_path, args, message):
    result = invoke("claims", "check", *args, "--out", tmp_path / "r", "--no-progress")
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "r" / "index.md").exists()


def test_check_refuses_foreign_folder_without_force(fake_claims, tmp_path):
    out = tmp_path / "data"
    out.mkdir()
    (out / "precious.csv").write_text("1,2\n")
    result = invoke("claims", "check", "cli-pass", "--quick", "--out", out, "--no-progress")
    assert result.exit_code == 2 and "not an mdplab report" in " ".join(result.output.split())
    assert not (out / "index.md").exists()
    forced = invoke("claims", "check", "cli-pass", "--quick", "--out", out, "--force",
                    "--no-progress")
    assert forced.exit_code == 0 and (out / "index.md").is_file()
    assert (out / "precious.csv").read_text() == "1,2\n"


# ---------------------------------------------------------------------- solve


@pytest.fixture
def model_file(tmp_path, small_mdp):
    return small_mdp.save(tmp_path / "model.npz")


def _fake_solve(converged=True, finite=False):
    def solve(mdp, beta=0.0, method="auto", tol=1e-10):
        V = np.ones((3, mdp.S)) if finite else np.arange(mdp.S, dtype=float)
        return SimpleNamespace(V=V, Q=np.zeros((mdp.S, mdp.A)), policy=np.full((mdp.S, mdp.A),
                               1 / mdp.A), iterations=7, residual=1e-12, error_bound=1e-11,
                               converged=converged, method="vi" if method == "auto" else method,
                               message="stopped by the contraction bound")

    return solve


def test_solve_prints_summary_and_writes_npz(model_file, tmp_path, monkeypatch, small_mdp):
    monkeypatch.setattr(mdplab, "solve", _fake_solve(), raising=False)
    out = tmp_path / "sol" / "solution.npz"
    result = invoke("solve", model_file, "--beta", "0.1", "--method", "pi", "--tol", "1e-8",
                    "--out", out)
    assert result.exit_code == 0, result.output
    J = small_mdp.mu @ np.arange(small_mdp.S, dtype=float)
    assert f"{J:.10g}" in result.output and "mu @ V" in result.output
    assert "iterations   7" in result.output and "converged    yes" in result.output
    with np.load(out) as f:
        assert f["J"] == pytest.approx(J) and str(f["method"]) == "pi"
        assert f["V"].shape == (small_mdp.S,) and bool(f["converged"])
    again = invoke("solve", model_file, "--out", out)
    assert again.exit_code == 2 and "--force" in again.output
    assert invoke("solve", model_file, "--out", out, "--force").exit_code == 0


def test_solve_finite_horizon_uses_first_step(model_file, monkeypatch):
    monkeypatch.setattr(mdplab, "solve", _fake_solve(finite=True), raising=False)
    result = invoke("solve", model_file)
    assert result.exit_code == 0 and "mu @ V[0]" in result.output


def test_solve_not_converged_exits_1(model_file, monkeypatch):
    monkeypatch.setattr(mdplab, "solve", _fake_solve(converged=False), raising=False)
    result = invoke("solve", model_file)
    assert result.exit_code == 1 and "converged    NO" in result.output


def test_solve_bad_file_exits_1(tmp_path, monkeypatch):
    monkeypatch.setattr(mdplab, "solve", _fake_solve(), raising=False)
    assert invoke("solve", tmp_path / "missing.npz").exit_code == 1
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    result = invoke("solve", bad)
    assert result.exit_code == 1 and "not a valid mdplab model" in " ".join(result.output.split())


def test_solve_real_solver(model_file):
    if not hasattr(mdplab, "solve"):
        pytest.skip("mdplab.solve is not available yet")
    result = invoke("solve", model_file, "--beta", "0.1")
    assert result.exit_code == 0, result.output
    assert "converged    yes" in result.output


# ---------------------------------------------------------------------- bench


def _fake_repo(root, body):
    (root / "benchmarks").mkdir(parents=True)
    (root / "benchmarks" / "__init__.py").write_text("")
    (root / "benchmarks" / "run.py").write_text(body)
    return root


def test_bench_runs_module_from_root(tmp_path):
    root = _fake_repo(tmp_path / "repo", "import pathlib, sys\n"
                      "pathlib.Path('ran.txt').write_text(' '.join(sys.argv[1:]))\n")
    result = invoke("bench", "--quick", "--root", root)
    assert result.exit_code == 0, result.output
    assert (root / "ran.txt").read_text() == "--quick"


def test_bench_finds_root_from_subfolder_and_propagates_exit_code(tmp_path, monkeypatch):
    root = _fake_repo(tmp_path / "repo", "raise SystemExit(3)\n")
    (root / "sub").mkdir()
    assert cli.find_bench_root(root / "sub") == root
    monkeypatch.chdir(root / "sub")
    assert invoke("bench").exit_code == 3


def test_bench_not_found(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "find_bench_root", lambda start=None: None)
    result = invoke("bench")
    assert result.exit_code == 1 and "benchmarks/run.py not found" in " ".join(
        result.output.split())
    assert invoke("bench", "--root", tmp_path).exit_code == 1


def test_module_entry_point_is_typer_app():
    assert cli.app.info.name == "mdplab"
    assert sys.modules["mdplab.cli"] is cli
