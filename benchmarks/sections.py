"""Benchmark sections beyond the MDP solver suite, appended to ``benchmarks/results.md``.

Each section runs in its own subprocess with one BLAS / OpenMP / Numba thread (the targets of
these sections are stated for one core, and on a shared 2-core machine extra BLAS threads make
memory-bound matrix-vector products several times slower). A section returns
``{"markdown": str, "targets": [{"target", "met", "details"}]}``; a section that fails is
reported as such, with its error, instead of stopping the suite.

Sections: best-of-n analytics (``bon_bench``), the online-learning runner (``learn_bench``),
the preference-game solvers (``games_bench``). ``make bench`` runs them after the solver suite;
``python -m benchmarks.sections --update [benchmarks/results.md] [--quick]`` re-runs only them
and replaces their block in an existing results file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("bon", "proxies", "learn", "adversarial", "games", "sweep")
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "NUMBA_NUM_THREADS": "1"}


RLBERRY_QUOTED_MS = 10.5  # issue 6's figure, used when rlberry cannot be run here


def rlberry_python() -> Path | None:
    """The interpreter of the separate rlberry environment (``MDPLAB_RLBERRY_PYTHON`` or
    ``.venv-rlberry/bin/python``, made by ``make bench``), or ``None``."""
    env = os.environ.get("MDPLAB_RLBERRY_PYTHON")
    path = Path(env) if env else ROOT / ".venv-rlberry" / "bin" / "python"
    return path if path.exists() else None


def _rlberry_ucbvi(mdp, episodes: int, seed: int) -> dict | None:
    """rlberry's exact UCBVI on ``mdp`` (see ``benchmarks/rlberry_peer.py``), or ``None``."""
    import numpy as np

    py = rlberry_python()
    if py is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model.npz"
        np.savez(model, P=np.asarray(mdp.P), R=np.asarray(mdp.R), mu=np.asarray(mdp.mu),
                 H=mdp.H)
        proc = subprocess.run([str(py), str(ROOT / "benchmarks" / "rlberry_peer.py"), str(model),
                               "--episodes", str(episodes), "--seed", str(seed)],
                              capture_output=True, text=True, env={**os.environ, **ONE_THREAD},
                              timeout=3600)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _learn(quick: bool) -> dict:
    import mdplab as ml
    from benchmarks import learn_bench

    episodes = 2_000 if quick else 100_000
    rows = learn_bench.main(["--episodes", str(episodes), "--learners", "ucbvi-bf", "ucbvi-ch"])
    peer_k = 200 if quick else 2_000
    mdp = ml.envs.random_mdp(20, 4, horizon=20, rng=0)
    peer = _rlberry_ucbvi(mdp, peer_k, seed=0)
    measured = peer is not None and "error" not in peer
    rl_ms = peer["ms_per_episode"] if measured else RLBERRY_QUOTED_MS
    if measured:
        v_star = float(mdp.mu @ ml.solve(mdp).V[0])
        rl_regret = peer_k * v_star - peer["sum_returns"]
        rl_se = peer["returns_std"] * peer_k ** 0.5
        ours = ml.learn.run(ml.learn.UCBVI(bonus="bernstein"), mdp, episodes=peer_k, rng=0,
                            progress=False)
        peer_text = (
            f"rlberry {peer['rlberry']} (rlberry-scool {peer['rlberry_scool']}) `UCBVIAgent` "
            f"(exact backward induction after every episode, its \"simplified Bernstein\" "
            f"bonus), measured here in its own environment on the same model and seed: "
            f"{peer['ms_per_episode']:.1f} ms per episode over {peer_k:,} episodes. Regret "
            f"after {peer_k:,} episodes: rlberry {rl_regret:.0f} ± {2 * rl_se:.0f} (realized: "
            f"K V* minus its episode returns, ± 2 s.e.; rlberry does not expose the policy it "
            f"plays), mdplab UCBVI-BF {float(ours['cum_regret'].iloc[-1]):.0f} (exact). The "
            f"regrets are not of the same order because the bonuses are not: rlberry's "
            f"sqrt(1/n) + v_max/n has no log factor and no H scaling, while mdplab uses Azar "
            f"et al.'s constants, with which UCBVI is still exploring at this K (even at 1% of "
            f"the bonus; see the claim ucbvi-sqrt-k-regret).\n"
        )
    else:
        why = peer["error"] if peer is not None else "no `.venv-rlberry` (made by `make bench`)"
        peer_text = (f"rlberry could not be run here ({why}); the ratio uses the "
                     f"{RLBERRY_QUOTED_MS} ms per episode quoted in issue 6.\n")
    label = "rlberry's" if measured else "rlberry's quoted"
    L = ["## Online learning runner (`mdplab.learn`)\n",
         f"UCBVI on a random MDP with S = 20, A = 4, H = 20, K = {episodes:,} episodes, one "
         "thread; every episode includes planning, sampling, the count update and the exact "
         "evaluation of the played policy.\n",
         peer_text,
         f"| learner | episodes | time | per episode | ratio to {label} {rl_ms:.1f} ms |",
         "|---|---|---|---|---|"]
    for r in rows:
        L.append(f"| {r['learner']} | {r['episodes']:,} | {r['seconds']:.2f} s | "
                 f"{r['us_per_episode']:.0f} µs | {1000 * rl_ms / r['us_per_episode']:.0f}x "
                 "faster |")
    per = {r["learner"]: r for r in rows}
    bf = per.get("ucbvi-bf")
    targets = []
    if bf is not None:
        projected = bf["us_per_episode"] * 1e5 / 1e6
        targets.append({"target": "(learn) 1e5 episodes of UCBVI on S=20, A=4, H=20 in under "
                                  "20 s on one core", "met": projected < 20,
                        "details": [f"UCBVI-BF: {projected:.1f} s for 1e5 episodes"
                                    + (" (projected from the quick run)" if quick else "")]})
        ratio = 1000 * rl_ms / bf["us_per_episode"]
        targets.append({"target": "(learn) at least 50x faster per episode than rlberry's "
                                  "exact UCBVI" + ("" if measured else " (10.5 ms, quoted)"),
                        "met": ratio >= 50,
                        "details": [f"{ratio:.0f}x ({rl_ms:.1f} ms "
                                    + ("measured" if measured else "quoted") + ")"]})
    return {"markdown": "\n".join(L) + "\n", "targets": targets}


def _games(quick: bool) -> dict:
    from benchmarks import games_bench

    iterations = 500 if quick else 10_000
    df = games_bench.run(n=1000, iterations=iterations)
    L = ["## Preference-game solvers (`mdplab.learn.games`)\n",
         f"|Y| = 1000 responses, random preference matrix, beta = 0.1, {iterations:,} "
         "iterations, one thread.\n",
         "| algorithm | iterations | time | µs per preference query |", "|---|---|---|---|"]
    for _, r in df.iterrows():
        per_q = r.get("us_per_query")
        L.append(f"| {r['algorithm']} | {int(r['iterations']):,} | {r['seconds']:.2f} s | "
                 + (f"{per_q:.0f} |" if per_q == per_q and per_q is not None else "— |"))
    algos = df[df["algorithm"] != "regularized_equilibrium"]
    worst = float((algos["seconds"] * 10_000 / iterations).max())
    targets = [{"target": "(games) 1e4 iterations on |Y| = 1000 in seconds (below 10 s each)",
                "met": worst < 10.0,
                "details": [f"slowest algorithm: {worst:.1f} s for 1e4 iterations"
                            + (" (projected)" if quick else "")]}]
    return {"markdown": "\n".join(L) + "\n", "targets": targets}


def _bon(quick: bool) -> dict:
    from benchmarks import bon_bench

    out = bon_bench.section(quick)
    return {"markdown": out["markdown"], "targets": out["targets"]}


def _sweep(quick: bool) -> dict:
    """Per-task overhead of mdplab.sweep on the local default, and scaling 1 -> 2 workers."""
    import time

    from mdplab import sweep as sw

    from . import sweep_tasks

    n_tiny = 200 if quick else 2000
    grid = {"x": list(range(n_tiny))}
    t = time.perf_counter()
    sw.sweep(sweep_tasks.tiny, grid, seeds=1, workers=2, progress=False)
    tiny_cold = time.perf_counter() - t  # first sweep of the process: starts the fork server
    t = time.perf_counter()
    sw.sweep(sweep_tasks.tiny, grid, seeds=[1], workers=2, progress=False)
    tiny_2 = time.perf_counter() - t
    t = time.perf_counter()
    sw.sweep(sweep_tasks.tiny, grid, seeds=1, workers=1, progress=False)
    tiny_1 = time.perf_counter() - t
    n_cpu, sec = (8, 1.0) if quick else (16, 1.0)
    times = {}
    for w in (1, 2):
        t = time.perf_counter()
        sw.sweep(sweep_tasks.spin, {"x": list(range(n_cpu))}, seeds=1, workers=w,
                 progress=False)
        times[w] = time.perf_counter() - t
    ideal = n_cpu * sec
    speedup = times[1] / times[2]
    L = ["## Parameter sweeps (`mdplab.sweep`)\n",
         f"Overhead: {n_tiny:,} tasks that return at once, including the start of the worker "
         f"processes. Scaling: {n_cpu} CPU-bound tasks of {sec:g} s each.\n",
         "| measurement | value |", "|---|---|",
         f"| overhead per task, 2 local processes, first sweep of the process (starts the "
         f"fork server: imports numpy, pandas, mdplab) | {1e3 * tiny_cold / n_tiny:.2f} ms |",
         f"| overhead per task, 2 local processes, later sweeps (pool start included) | "
         f"{1e3 * tiny_2 / n_tiny:.2f} ms |",
         f"| overhead per task, in-process (`workers=1`) | {1e3 * tiny_1 / n_tiny:.3f} ms |",
         f"| CPU-bound sweep, 1 worker | {times[1]:.2f} s (ideal {ideal:.2f} s) |",
         f"| CPU-bound sweep, 2 workers | {times[2]:.2f} s (ideal {ideal / 2:.2f} s) |",
         f"| speed-up 1 -> 2 workers | {speedup:.2f}x |"]
    targets = [
        {"target": "(sweep) overhead per task on the local default under 5 ms",
         "met": 1e3 * tiny_2 / n_tiny < 5.0,
         "details": [f"{1e3 * tiny_2 / n_tiny:.2f} ms per task with 2 processes "
                     f"({1e3 * tiny_cold / n_tiny:.2f} ms in the first sweep of a process)"]},
        {"target": "(sweep) scaling from 1 to 2 workers on a CPU-bound sweep at least 1.8x",
         "met": speedup >= 1.8, "details": [f"{speedup:.2f}x (machine shared: load matters)"]},
    ]
    return {"markdown": "\n".join(L) + "\n", "targets": targets}


def _adversarial(quick: bool) -> dict:
    from benchmarks import adversarial_bench

    rows = adversarial_bench.main(["--repeats", "3" if quick else "10"])
    L = ["## Adversarial MDPs (`mdplab.learn.adversarial`)\n",
         "Entropic projection onto the occupancy polytope (S = 50, A = 5, H = 10): dual Newton "
         "cold (dual started at 0) and warm (after one bandit update, what O-REPS pays per "
         "episode), against cvxpy (Clarabel); the UOB-REPS projection onto the occupancy "
         "measures of a confidence box (triples), dual Newton against cvxpy; then O-REPS and "
         "UOB-REPS episode loops, one thread. Max |q - q_newton| of cvxpy in the last column.\n",
         "| case | S, A, H | median | max | iterations | flow violation | vs Newton |",
         "|---|---|---|---|---|---|---|"]
    for r in rows:
        mx = "—" if r["max_ms"] != r["max_ms"] else f"{r['max_ms']:.2f} ms"
        viol = "—" if r["violation"] != r["violation"] else f"{r['violation']:.1e}"
        L.append(f"| {r['case']} | {r['S']}, {r['A']}, {r['H']} | {r['median_ms']:.3f} ms | "
                 f"{mx} | {r['iterations']} | {viol} | "
                 + (f"{r['max_abs_diff_vs_newton']:.1e} |" if "max_abs_diff_vs_newton" in r
                    else "— |"))
    cold = next(r for r in rows if r["case"] == "newton cold")
    targets = [{"target": "(adversarial) occupancy projection for S=50, A=5, H=10 in under "
                          "50 ms", "met": cold["max_ms"] < 50.0,
                "details": [f"dual Newton, cold start: median {cold['median_ms']:.1f} ms, "
                            f"max {cold['max_ms']:.1f} ms"]}]
    return {"markdown": "\n".join(L) + "\n", "targets": targets}


def _proxies(quick: bool) -> dict:
    from benchmarks import proxies_bench

    out = proxies_bench.section(quick)
    return {"markdown": out["markdown"], "targets": out["targets"]}


RUNNERS = {"bon": _bon, "proxies": _proxies, "learn": _learn, "adversarial": _adversarial,
           "games": _games, "sweep": _sweep}


def run_section(name: str, quick: bool, timeout: float = 900.0) -> dict:
    """Run one section in a one-thread subprocess; never raises."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.json"
        env = {**os.environ, **ONE_THREAD, "PYTHONPATH": str(ROOT)}
        cmd = [sys.executable, "-m", "benchmarks.sections", name, str(path)]
        if quick:
            cmd.append("--quick")
        try:
            proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            return _failed(name, f"timed out after {timeout:g} s")
        if proc.returncode != 0 or not path.is_file():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            return _failed(name, "; ".join(tail) or f"exit code {proc.returncode}")
        return json.loads(path.read_text())


def _failed(name: str, why: str) -> dict:
    return {"markdown": f"## Section `{name}`\n\nNot measured: the section failed ({why}).\n",
            "targets": [{"target": f"({name}) section ran", "met": False, "details": [why]}]}


def run_all(quick: bool, log=print) -> list[dict]:
    out = []
    for name in SECTIONS:
        log(f"section {name} ...")
        out.append(run_section(name, quick))
    return out


START, END = "<!-- sections:start -->", "<!-- sections:end -->"


def sections_block(results: list[dict], note: str = "") -> str:
    """The markdown of all sections with their targets, between markers so that
    :func:`update_results` can replace it without re-running the solver suite."""
    L = [START]
    if note:
        L.append(note + "\n")
    for sec in results:
        L.append(sec["markdown"])
    L.append("## Targets of these sections\n")
    for sec in results:
        for t in sec["targets"]:
            L.append(f"- **{t['target']}: {'MET' if t['met'] else 'NOT MET'}**")
            for d in t["details"]:
                L.append(f"  - {d}")
    L += ["", END, ""]
    return "\n".join(L)


def update_results(path: Path, quick: bool = False, log=print) -> None:
    """Re-run the sections and replace their block in an existing ``results.md`` (inserted
    before the solver suite's "## Targets" when the file has none)."""
    import datetime as dt

    text = path.read_text(encoding="utf-8")
    stamp = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    block = sections_block(run_all(quick, log),
                           note=f"_Sections below measured on {stamp} by "
                                f"`python -m benchmarks.sections --update`"
                                + (" (quick mode)" if quick else "") + "._")
    if START in text and END in text:
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        new = head + block + tail
    elif "\n## Targets" in text:
        head, tail = text.split("\n## Targets", 1)
        new = head + "\n" + block + "\n## Targets" + tail
    else:
        new = text.rstrip("\n") + "\n\n" + block
    tmp = path.with_suffix(".tmp")
    tmp.write_text(new, encoding="utf-8")
    tmp.replace(path)
    log(f"updated the sections of {path}")


if __name__ == "__main__":
    if sys.argv[1] == "--update":
        args = sys.argv[2:]
        target = Path(next((a for a in args if not a.startswith("--")),
                           ROOT / "benchmarks" / "results.md"))
        update_results(target, quick="--quick" in args)
    else:
        name, dest = sys.argv[1], Path(sys.argv[2])
        result = RUNNERS[name]("--quick" in sys.argv[3:])
        tmp = dest.with_suffix(".tmp")
        tmp.write_text(json.dumps(result))
        tmp.replace(dest)
