r"""Benchmark driver: time to a certified :math:`10^{-8}`-accurate :math:`V^*`, mdplab vs peers.

Protocol (see ``docs/benchmarks.md``):

* Every method is asked for :math:`\|V - V^*\|_\infty \le 10^{-8}` (peers with the setting whose
  documented guarantee is 1e-8, see :mod:`benchmarks.peers`) and every returned ``V`` is compared
  with a reference; the achieved error is reported, right or wrong.
* The reference (per instance and ``beta``) is computed by mdplab at ``tol = 1e-11``
  (warm-started from the fastest mdplab result) and certified *independently* with a plain
  NumPy Bellman operator and the McQueen-Porteus bracket (:func:`benchmarks.peers.certify`):
  the certificate ``ref_cert`` bounds :math:`\|V_{\rm ref} - V^*\|_\infty`, so every reported
  error is exact to within ``ref_cert``. mdplab's PI and QuantEcon's PI (exact policy
  evaluation) are independent cross-checks of the reference (their errors are ~1e-11).
* Each (instance, library) group runs in a fresh subprocess: it loads the instance from the
  on-disk cache, warms up the JIT on small models of the same layout (Numba compile and cache
  loading are **excluded** from all timings; the cold-compile time is reported once), then
  times each run with ``time.perf_counter`` around the solve call only (building a peer's model
  object is reported separately as ``setup``). Peak memory per run: the process's peak RSS is
  reset before the run (``/proc/self/clear_refs``) and read after it (``VmHWM``): ``peak_mb``
  is the whole process (model included), ``extra_mb`` what the solve added.
* A run that would take more than ``CAP`` seconds is skipped with the reason written in the
  table: estimated from a smaller instance of the same family (linear in the bytes of ``P`` for
  iterative methods; cubic for dense or fill-in-bound direct solvers; quadratic for
  pymdptoolbox's ``_boundIter`` set-up), from a pilot sweep (QuantEcon VI), or because it timed
  out on a smaller or less discounted instance. A watchdog kills a run that exceeds ``CAP``
  anyway and reports it as ``timeout``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from . import instances as inst_mod
from .instances import Instance

TOL = 1e-8
REF_TOL = 1e-11
BETA_SOFT = 0.1
CAP = 60.0             # seconds per run (skip estimate and watchdog)
CAP_SECONDARY = 20.0   # skip estimate and watchdog for secondary runs (see is_primary)
CAP_TB_BUILD = 150.0   # watchdog for pymdptoolbox VI at S = 1e4 (its set-up is measured once)
REPEAT_BELOW = 0.2     # runs faster than this are repeated (best of up to 5)
BUDGET = 18.5 * 60.0   # seconds for the whole suite; later runs are skipped past it
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results.md"

__all__ = ["main", "run_group", "RunSpec"]


# ============================================================================ run specs


def RunSpec(lib: str, method: str, beta: float = 0.0, variant: str = "tol") -> dict:
    rid = f"{lib}:{method}:{variant}:b{beta:g}"
    return {"id": rid, "lib": lib, "method": method, "beta": float(beta), "variant": variant}


def specs_for(inst: Instance) -> dict[str, list[dict]]:
    """All runs of an instance, grouped by library (one subprocess per group)."""
    methods = ("vi", "gs", "mpi", "pi", "auto") if inst.sparse else ("vi", "mpi", "pi", "auto")
    mdplab = [RunSpec("mdplab", m, b) for b in (0.0, BETA_SOFT) for m in methods]
    qe = [RunSpec("quantecon", m) for m in ("mpi", "pi", "vi")]
    qe += [RunSpec("quantecon", m, variant="defaults") for m in ("vi", "mpi")]
    tb = [RunSpec("mdptoolbox", "vi"), RunSpec("mdptoolbox", "pi"),
          RunSpec("mdptoolbox", "vi", variant="defaults")]
    npy = [RunSpec("numpy", "vi", 0.0), RunSpec("numpy", "vi", BETA_SOFT)]
    return {"mdplab": mdplab, "quantecon": qe, "mdptoolbox": tb, "numpy": npy}


def is_primary(spec: dict) -> bool:
    """Rows the targets are judged on: mdplab ``auto``, and the peers at the 1e-8 setting.
    Other rows (mdplab's individual methods, peers' defaults, NumPy VI) are skipped when
    estimated above ``CAP_SECONDARY`` and killed after that long, to keep the suite within its
    time budget."""
    if spec["lib"] == "mdplab":
        return spec["method"] == "auto"
    return spec["lib"] in ("quantecon", "mdptoolbox") and spec["variant"] == "tol"


def _tb_build_once(inst: Instance, spec: dict) -> bool:
    return (spec["lib"] == "mdptoolbox" and spec["method"] == "vi" and spec["variant"] == "tol"
            and inst.family == "random-sparse" and inst.S == 10_000)


_REDUCED_1E6 = {("mdplab", "auto", 0.0), ("mdplab", "auto", 0.1), ("mdplab", "vi", 0.0),
                ("mdplab", "mpi", 0.0), ("mdplab", "vi", 0.1), ("quantecon", "mpi", 0.0)}


# Growth of run time with the size of P (bytes), used to extrapolate from a smaller instance.
_EXPONENT = {("quantecon", "pi"): 3.0, ("mdptoolbox", "pi"): 3.0, ("mdptoolbox", "vi"): 2.0}


def _pkey(inst: Instance, spec: dict) -> tuple:
    return (inst.family, inst.A, spec["lib"], spec["method"], spec["variant"], spec["beta"])


class Planner:
    """Skip decisions from what already ran (the reasons end up in the table)."""

    def __init__(self, cap: float, quick: bool = False):
        self.cap = cap
        self.quick = quick
        self.hist: dict[tuple, list[dict]] = {}
        self.tb_setup_rate = None  # pymdptoolbox _boundIter seconds per (S * nnz)

    def record(self, inst: Instance, nnz: int, spec: dict, row: dict) -> None:
        self.hist.setdefault(_pkey(inst, spec), []).append(
            {"S": inst.S, "gamma": inst.gamma, "nnz": nnz, "status": row["status"],
             "time": row.get("time_s"), "setup": row.get("setup_s") or 0.0,
             "reason": row.get("reason", "")})
        if spec["lib"] == "mdptoolbox" and spec["method"] == "vi" and row["status"] == "ok":
            rate = (row.get("setup_s") or 0.0) / (inst.S * max(nnz, 1))
            self.tb_setup_rate = max(self.tb_setup_rate or 0.0, rate)

    def _dominated(self, inst: Instance, spec: dict) -> str | None:
        """An mdplab method 10x slower than mdplab's fastest at the next smaller size (same
        family, gamma, beta) is not run again once its estimate exceeds CAP / 4 (time budget)."""
        if spec["lib"] != "mdplab" or spec["method"] == "auto":
            return None
        prev = [h for h in self.hist.get(_pkey(inst, spec), [])
                if h["status"] == "ok" and h["S"] < inst.S and h["gamma"] == inst.gamma]
        if not prev:
            return None
        h = max(prev, key=lambda h: h["S"])
        peers = [x for m in ("vi", "gs", "mpi", "pi", "auto")
                 for x in self.hist.get(_pkey(inst, {**spec, "method": m}), [])
                 if x["status"] == "ok" and x["S"] == h["S"] and x["gamma"] == inst.gamma]
        fastest = min(x["time"] for x in peers)
        est = h["time"] * inst.S / h["S"]
        if h["time"] > 10 * fastest and est > CAP_SECONDARY / 4:
            return (f"dominated: {h['time'] / fastest:.0f}x slower than mdplab's fastest "
                    f"method at S={inst_mod._fmt_int(h['S'])}; est. {est:.0f} s")
        return None

    def caps(self, inst: Instance, spec: dict) -> tuple[float, float]:
        """(estimate cap, watchdog cap) of a run."""
        if _tb_build_once(inst, spec) and not self.quick:
            return CAP_TB_BUILD, CAP_TB_BUILD
        if is_primary(spec):
            return self.cap, self.cap
        cap = min(self.cap, CAP_SECONDARY)
        return cap, cap

    def skip_reason(self, inst: Instance, nnz: int, spec: dict) -> str | None:
        lib, method = spec["lib"], spec["method"]
        cap = self.caps(inst, spec)[0]
        if not self.quick and inst.S >= 1_000_000 and (
                spec["variant"] != "tol" or (lib, method, spec["beta"]) not in _REDUCED_1E6):
            return ("S=1e6: reduced set of runs (time budget); this method's rows at S=1e5 "
                    "show its speed relative to the others")
        if self.quick and lib == "mdptoolbox" and method == "pi" and \
                inst.family in ("gridworld", "chain"):
            return "quick mode: cycles on exact ties up to max_iter = 1000 (see full run)"
        size = _bytes(inst, nnz)
        if lib == "mdptoolbox" and method == "pi" and inst.S > 5000:
            return (f"dense (S, S) P_pi ({8 * inst.S**2 / 1e9:.1f} GB) and a dense LU "
                    f"(S³/3 = {inst.S**3 / 3e9:.0f} GFlop) per iteration")
        dom = self._dominated(inst, spec)
        if dom:
            return dom
        if lib == "mdptoolbox" and method == "vi":
            if spec["variant"] == "defaults" and inst.S > 2000:
                return "same _boundIter set-up as the row above; defaults shown for S <= 2000"
            if self.tb_setup_rate and inst.S > 10_000:  # measured once at S = 1e4
                est = self.tb_setup_rate * inst.S * nnz
                if est > self.cap:
                    return (f"set-up (_boundIter, a Python loop over S states) est. "
                            f"{est:.0f} s > {self.cap:.0f} s")
        if _tb_build_once(inst, spec) and inst.gamma == 0.99:
            return None  # the expensive set-up is measured once, at S = 1e4 and gamma = 0.99
        for h in self.hist.get(_pkey(inst, spec), []):
            smaller = h["S"] < inst.S and h["gamma"] <= inst.gamma
            less_disc = h["S"] == inst.S and h["gamma"] < inst.gamma
            if (smaller or less_disc) and h["status"] in ("timeout", "skipped") \
                    and "budget" not in h["reason"] and "memory" not in h["reason"]:
                where = f"S={inst_mod._fmt_int(h['S'])}" if smaller else f"γ={h['gamma']}"
                why = "timed out" if h["status"] == "timeout" else "skipped"
                return f"{why} at {where} ({h['reason'] or 'cap'})"
            if less_disc and lib == "mdptoolbox" and h["setup"] > 30:
                return (f"set-up does not depend on γ: {h['setup']:.0f} s at γ={h['gamma']} "
                        "(answer off by tens there)")
        prev = [h for h in self.hist.get(_pkey(inst, spec), [])
                if h["status"] == "ok" and h["S"] < inst.S and h["gamma"] == inst.gamma]
        if prev:
            h = max(prev, key=lambda h: h["S"])
            p = _EXPONENT.get((lib, method), 1.0) if inst.family == "random-sparse" else 1.0
            base = h["time"] + h["setup"]
            est = base * (size / _bytes_of(h, inst)) ** p
            if est > cap:
                return (f"est. {est:.0f} s > {cap:.0f} s ({base:.2f} s at "
                        f"S={inst_mod._fmt_int(h['S'])}, time ∝ size(P)^{p:g})")
        return None


def _bytes(inst: Instance, nnz: int) -> float:
    from .bandwidth import kernel_bytes

    return kernel_bytes(inst.S, inst.A, nnz if inst.sparse else None, 8)


def _bytes_of(h: dict, inst: Instance) -> float:
    from .bandwidth import kernel_bytes

    return kernel_bytes(h["S"], inst.A, h["nnz"] if inst.sparse else None, 8)


# ============================================================================ worker side


def _status() -> dict:
    out = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(("VmRSS", "VmHWM")):
                    k, v = line.split(":")
                    out[k] = int(v.split()[0]) / 1024.0
    except OSError:
        pass
    return out


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _emit(out, obj) -> None:
    out.write(json.dumps(obj) + "\n")
    out.flush()


def _warm_mdplab(inst: Instance) -> float:
    import mdplab as ml

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for small in inst_mod.tiny(inst):
            for beta in (0.0, BETA_SOFT):
                for m in ("vi", "mpi", "pi"):
                    ml.solve(small, beta=beta, method=m, tol=1e-6, max_iter=3)
    return time.perf_counter() - t0


def _warm_quantecon(inst: Instance) -> float:
    from .peers import quantecon_model

    t0 = time.perf_counter()
    for small in inst_mod.tiny(inst)[:1]:
        ddp = quantecon_model(small)
        for m in ("value_iteration", "modified_policy_iteration", "policy_iteration"):
            ddp.solve(method=m, max_iter=5)
    return time.perf_counter() - t0


def _kernel_sweeps(mdp, repeats: int = 5) -> list[dict]:
    """Best time of one Bellman sweep (mdplab's operator and plain NumPy): at least
    ``repeats`` repetitions, more (up to 50) until 0.25 s have been spent on one kernel."""
    from mdplab.solvers._operator import StepOperator  # read-only use of the private operator

    from .peers import bellman_numpy

    def best_of(fn, *args, **kwargs):
        fn(*args, **kwargs)
        times = []
        while len(times) < repeats or (sum(times) < 0.25 and len(times) < 50):
            times.append(_timeit(fn, *args, **kwargs))
        return min(times)

    rows = []
    V = np.asarray(mdp.R).max(axis=1) / (1.0 - mdp.gamma)
    ref = np.full((mdp.S, mdp.A), 1.0 / mdp.A)
    P2 = mdp.transitions()
    for beta in (0.0, BETA_SOFT):
        op = StepOperator(P2, mdp.R, mdp.gamma, beta, ref)
        out = np.empty(mdp.S)
        rows.append({"lib": "mdplab", "method": "T sweep", "beta": beta,
                     "time_s": best_of(op.bellman, V, out=out)})
        rows.append({"lib": "numpy", "method": "T sweep", "beta": beta,
                     "time_s": best_of(bellman_numpy, P2, mdp.R, mdp.gamma, V, beta)})
    if not mdp.is_sparse:  # the BLAS gemv alone: the floor of any dense sweep
        P2 = np.ascontiguousarray(P2)
        q = np.empty(P2.shape[0])
        rows.append({"lib": "numpy", "method": "P@V (BLAS gemv)", "beta": 0.0,
                     "time_s": best_of(np.dot, P2, V, out=q)})
    return rows


def _timeit(fn, *args, **kwargs) -> float:
    t0 = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - t0


def _one_run(spec: dict, mdp, inst: Instance, ctx: dict) -> tuple[dict, np.ndarray | None]:
    """Execute one run; returns (row fields, V)."""
    from . import peers

    lib, method, beta, variant = spec["lib"], spec["method"], spec["beta"], spec["variant"]
    tol = TOL if variant == "tol" else None
    row = {"setup_s": 0.0, "note": ""}
    if lib == "mdplab":
        import mdplab as ml

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            t0 = time.perf_counter()
            sol = ml.solve(mdp, beta=beta, method=method, tol=TOL)
            row["time_s"] = time.perf_counter() - t0
        row.update(iterations=int(sol.iterations), converged=bool(sol.converged),
                   error_bound=float(sol.error_bound), resolved=sol.method)
        if caught:
            row["note"] = "; ".join(str(w.message) for w in caught)[:200]
        return row, sol.V
    if lib == "quantecon":
        if "ddp" not in ctx:
            t0 = time.perf_counter()
            ctx["ddp"] = peers.quantecon_model(mdp)
            ctx["qe_setup"] = time.perf_counter() - t0
        if method == "vi":
            n, t_sweep = peers.quantecon_vi_estimate(ctx["ddp"], tol if tol else 5e-4)
            if tol is None:
                n = min(n, ctx["ddp"].max_iter)
            if n * t_sweep > ctx["cap"]:
                return {"status": "skipped", "reason": (
                    f"needs ~{n} sweeps (sup-norm rule) x {t_sweep * 1e3:.1f} ms = "
                    f"{n * t_sweep:.0f} s > {ctx['cap']:.0f} s")}, None
        t0 = time.perf_counter()
        res = peers.quantecon_solve(mdp, method, tol, ddp=ctx["ddp"])
        row["time_s"] = time.perf_counter() - t0
        row.update(iterations=res.iterations, setup_s=ctx["qe_setup"], note=res.note)
        return row, res.V
    if lib == "mdptoolbox":
        t0 = time.perf_counter()
        res = peers.mdptoolbox_solve(mdp, method, tol)
        total = time.perf_counter() - t0
        row.update(time_s=total - res.setup, setup_s=res.setup, iterations=res.iterations,
                   note=res.note)
        return row, res.V
    if lib == "numpy":
        if "np_sweep" not in ctx:
            P2 = mdp.transitions()
            V = np.zeros(mdp.S)
            ctx["np_sweep"] = min(_timeit(peers.bellman_numpy, P2, mdp.R, mdp.gamma, V,
                                          BETA_SOFT) for _ in range(2))
        n_vi = ctx.get("sweeps", {}).get(f"{beta:g}")
        if n_vi and n_vi * ctx["np_sweep"] > ctx["cap"]:
            return {"status": "skipped", "reason": (
                f"needs ~{n_vi} sweeps (as mdplab VI) x {ctx['np_sweep'] * 1e3:.1f} ms = "
                f"{n_vi * ctx['np_sweep']:.0f} s > {ctx['cap']:.0f} s")}, None
        t0 = time.perf_counter()
        res = peers.numpy_vi(mdp, beta, TOL)
        row["time_s"] = time.perf_counter() - t0
        row.update(iterations=res.iterations, converged=res.converged)
        return row, res.V
    raise ValueError(lib)


def run_group(task: dict) -> None:
    """Run the planned runs of one instance; append JSON events/rows to ``task['out']``.

    Runs in a worker subprocess (``python -m benchmarks.run --worker task.json``), or in the
    calling process in quick mode. Order: JIT warm-up, one-sweep kernel timings, the runs
    (mdplab first, then the peers), and last the reference values. Each run's ``V`` is saved
    to ``task['vdir']`` (errors are computed by the parent against the reference).
    """
    import numba

    inst = Instance(**task["instance"])
    vdir = Path(task["vdir"])
    vdir.mkdir(parents=True, exist_ok=True)
    runs = task["runs"]
    prior = list(task.get("prior", []))  # rows of an earlier worker killed by the watchdog
    with open(task["out"], "a") as out:
        mdp, t_load = inst_mod.build(inst, task.get("cache"))
        _emit(out, {"event": "loaded", "seconds": t_load, "nnz": _nnz(mdp)})
        ctx = {"cap": task["cap"], "sweeps": {}}
        libs = {r["lib"] for r in runs}
        warm = {}
        if "mdplab" in libs or task.get("kernels"):
            warm["mdplab"] = _warm_mdplab(inst)
        if "quantecon" in libs:
            warm["quantecon"] = _warm_quantecon(inst)
        _emit(out, {"event": "warm", "seconds": warm, "threads": numba.get_num_threads()})
        if task.get("kernels"):
            for r in _kernel_sweeps(mdp):
                _emit(out, {"event": "kernel", **r})
        for spec in runs:
            for r in prior:
                if r.get("lib") == "mdplab" and r.get("method") == "vi" and \
                        r.get("status") == "ok":
                    ctx["sweeps"][f"{r['beta']:g}"] = r["iterations"]
            _emit(out, {"event": "start", "id": spec["id"], "t": time.time(),
                        "cap": spec.get("cap", task["cap"])})
            ctx["cap"] = spec.get("est_cap", task["cap"])
            _reset_peak()
            rss0 = _status().get("VmRSS", np.nan)
            try:
                row, V = _one_run(spec, mdp, inst, ctx)
                st = _status()
                # short runs: best of up to 5 (timer resolution, first-call and OS noise)
                n, spent = 1, row.get("time_s", np.inf)
                while task.get("repeat", True) and row.get("status", "ok") == "ok" \
                        and row["time_s"] < REPEAT_BELOW and n < 5 and spent < 1.0:
                    again, _ = _one_run(spec, mdp, inst, ctx)
                    n, spent = n + 1, spent + again["time_s"] + again.get("setup_s", 0.0)
                    row["time_s"] = min(row["time_s"], again["time_s"])
                row["repeats"] = n
            except Exception as exc:  # reported, never hidden
                row, V = {"status": "error", "reason": f"{type(exc).__name__}: {exc}"[:300]}, None
                st = _status()
            row.setdefault("status", "ok")
            if row["status"] == "ok":
                row["peak_mb"] = st.get("VmHWM", np.nan)
                row["extra_mb"] = st.get("VmHWM", np.nan) - rss0
                np.save(vdir / (spec["id"].replace(":", "_") + ".npy"), V)
            full = {"event": "row", "id": spec["id"], **spec, **row}
            prior.append(full)
            _emit(out, full)
        if task.get("reference", True):
            _emit(out, {"event": "start", "id": "reference", "t": time.time()})
            _emit(out, _reference(inst, mdp, prior, vdir))


def _nnz(mdp) -> int:
    return int(mdp.P.nnz) if mdp.is_sparse else mdp.S * mdp.A * mdp.S


def _ref_method(resolved: str) -> str:
    """The algorithm behind a Solution.method such as "auto (mpi, then pi)"."""
    if "pi" in resolved.replace("mpi", ""):
        return "pi"
    for m in ("mpi", "gs", "vi"):
        if m in resolved:
            return m
    return "mpi"


def _reference(inst: Instance, mdp, rows: list[dict], vdir: Path) -> dict:
    r"""Reference V* per beta, certified with plain NumPy.

    mdplab at ``REF_TOL`` (raised to 10x the float64 floor :math:`\epsilon(c+1)\|V\|`
    when that is larger, e.g. ~2e-9 at gamma = 0.999), warm-started from the fastest
    converged mdplab run with the algorithm that run used.
    """
    import mdplab as ml

    from .peers import certify

    out = {"event": "ref", "refs": {}}
    c = inst.gamma / (1.0 - inst.gamma)
    for beta in (0.0, BETA_SOFT):
        ok = [r for r in rows if r.get("lib") == "mdplab" and r["beta"] == beta
              and r.get("status") == "ok" and r.get("converged")]
        if not ok:
            continue
        best = min(ok, key=lambda r: r["time_s"])
        V0 = np.load(vdir / (best["id"].replace(":", "_") + ".npy"))
        method = _ref_method(best.get("resolved") or best["method"])
        # Near the rounding floor the bracket stagnates (soft VI at gamma = 0.999 then runs to
        # max_iter: 567 s at S = 1e6): ask for 10x the floor and at most 300 iterations.
        tol = max(REF_TOL, 10.0 * np.finfo(float).eps * (c + 1.0) * float(np.abs(V0).max()))
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sol = ml.solve(mdp, beta=beta, method=method, tol=tol, V0=V0,
                           max_iter=300 if method in ("vi", "gs", "mpi") else None)
        secs = time.perf_counter() - t0
        cert = certify(mdp, sol.V, beta)
        path = vdir / f"ref_b{beta:g}.npy"
        np.save(path, sol.V)
        out["refs"][f"{beta:g}"] = {"path": str(path), "cert": cert, "method": sol.method,
                                    "tol": tol, "bound": float(sol.error_bound),
                                    "seconds": secs, "from": best["id"]}
    return out


# ============================================================================ parent side


class Suite:
    def __init__(self, quick: bool, cap: float, budget: float, workdir: Path, log=print):
        self.quick, self.cap, self.budget = quick, cap, budget
        self.workdir = workdir
        self.planner = Planner(cap, quick)
        self.rows: list[dict] = []
        self.kernels: list[dict] = []
        self.refs: dict[str, dict] = {}
        self.t_start = time.perf_counter()
        self.log = log
        self.meta: dict = {"warm": {}, "build": {}, "load": {}}
        self.proc = None

    def elapsed(self) -> float:
        return time.perf_counter() - self.t_start

    # -- one worker per instance, with watchdog and restart after a timeout -------------
    def _work(self, inst: Instance, runs: list[dict]) -> list[dict]:
        events: list[dict] = []
        todo = list(runs)
        first = True
        while True:
            out = self.workdir / f"{inst.name}.{len(events)}.jsonl"
            prior = [e for e in events if e.get("event") == "row"]
            task = {"instance": inst.to_dict(), "runs": todo, "cap": self.cap, "out": str(out),
                    "vdir": str(self.workdir / inst.name), "cache": str(inst_mod.cache_dir()),
                    "kernels": first, "prior": prior, "repeat": not self.quick}
            if self.quick:
                run_group(task)
                return _read_jsonl(out)
            killed = self._spawn(task, out)
            new = _read_jsonl(out)
            events += new
            if killed is None:
                return events
            cap = next((r.get("cap", self.cap) for r in todo if r["id"] == killed), self.cap)
            events.append({"event": "row", "id": killed, "status": "timeout",
                           "reason": f"killed after {cap:.0f} s"})
            if killed == "reference":
                return events
            done = {e["id"] for e in new if e.get("event") == "row"}
            todo = [r for r in todo if r["id"] not in done and r["id"] != killed]
            first = False

    def _spawn(self, task: dict, out: Path) -> str | None:
        """Run a worker; returns the id of the run killed by the watchdog, or None."""
        tfile = out.with_suffix(".task.json")
        tfile.write_text(json.dumps(task))
        errfile = out.with_suffix(".stderr")
        with open(errfile, "w") as err:
            self.proc = proc = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.run", "--worker", str(tfile)], cwd=ROOT,
                stdout=err, stderr=err, start_new_session=True)
            t_group = time.time()
            try:
                while proc.poll() is None:
                    time.sleep(0.2)
                    ev = _read_jsonl(out)
                    finished = {e["id"] for e in ev if e.get("event") == "row"}
                    if any(e.get("event") == "ref" for e in ev):
                        finished.add("reference")
                    current = [e for e in ev if e.get("event") == "start"
                               and e["id"] not in finished]
                    stuck = None
                    if current and time.time() - current[-1]["t"] > current[-1].get("cap",
                                                                                     self.cap):
                        stuck = current[-1]["id"]
                    elif not any(e.get("event") == "start" for e in ev) and \
                            time.time() - t_group > 3 * self.cap:
                        stuck = "setup"
                    if stuck:
                        os.killpg(proc.pid, signal.SIGKILL)
                        proc.wait()
                        return stuck
            finally:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                self.proc = None
        if proc.returncode != 0:
            tail = errfile.read_text()[-400:].strip()
            ev = _read_jsonl(out)
            finished = {e["id"] for e in ev if e.get("event") == "row"}
            started = [e for e in ev if e.get("event") == "start" and e["id"] not in finished]
            if started and started[-1]["id"] != "reference":
                with open(out, "a") as f:
                    f.write(json.dumps({"event": "row", "id": started[-1]["id"],
                                        "status": "error",
                                        "reason": f"worker died ({proc.returncode}): "
                                                  f"{tail[-200:]}"}) + "\n")
            else:
                self.log(f"  worker failed: {tail}")
        return None

    # -- one instance ---------------------------------------------------------------
    def instance(self, inst: Instance) -> None:
        self.log(f"[{self.elapsed():6.0f} s] {inst.name}")
        nnz, t_build = inst_mod.ensure_cached(inst)
        if t_build:
            self.meta["build"][inst.key] = t_build
        base = {"instance": inst.name, "family": inst.family, "S": inst.S, "A": inst.A,
                "gamma": inst.gamma, "nnz": nnz}
        plan = []
        for runs in specs_for(inst).values():
            for spec in runs:
                spec["est_cap"], spec["cap"] = self.planner.caps(inst, spec)
                reason = self.planner.skip_reason(inst, nnz, spec)
                if reason is None and self.elapsed() > self.budget:
                    reason = f"time budget ({self.budget / 60:.0f} min) used up"
                plan.append((spec, reason))
        todo = [s for s, r in plan if r is None]
        events = self._work(inst, todo) if todo else []
        by_id = {e["id"]: e for e in events if e.get("event") == "row"}
        for e in events:
            if e.get("event") == "kernel":
                self.kernels.append({**base, **{k: v for k, v in e.items() if k != "event"}})
            elif e.get("event") == "warm":
                self.meta["warm"][inst.name] = e["seconds"]
                self.meta["threads"] = e.get("threads")
            elif e.get("event") == "loaded":
                self.meta["load"][inst.name] = e["seconds"]
            elif e.get("event") == "ref":
                for b, r in e["refs"].items():
                    self.refs[f"{inst.name}|{b}"] = r
                    self.log(f"    reference β={b}: {r['method']} tol {r['tol']:.1e} from "
                             f"{r['from']}, {r['seconds']:.2f} s, certified {r['cert']:.1e}")
        # sibling order: by library as planned, skipped rows after their library's runs
        for spec, reason in plan:
            row = {**base, "library": spec["lib"], "method": spec["method"],
                   "variant": spec["variant"], "beta": spec["beta"], "run_id": spec["id"]}
            if reason:
                row.update(status="skipped", reason=reason)
            else:
                e = by_id.get(spec["id"], {"status": "error", "reason": "no result"})
                row.update({k: v for k, v in e.items()
                            if k not in ("event", "id", "lib")})
            self.planner.record(inst, nnz, spec, row)
            self.rows.append(row)
            self.log(f"    {spec['id']:32s} {row.get('status'):8s} "
                     f"{_fmt(row.get('time_s'))} {row.get('reason', '')[:90]}")
        self._errors(inst)

    def _errors(self, inst: Instance) -> None:
        vdir = self.workdir / inst.name
        for row in self.rows:
            if row["instance"] != inst.name or row.get("status") != "ok":
                continue
            ref = self.refs.get(f"{inst.name}|{row['beta']:g}")
            vfile = vdir / (row["run_id"].replace(":", "_") + ".npy")
            if ref is None or not vfile.exists():
                continue
            V = np.load(vfile)
            Vr = np.load(ref["path"])
            row["error"] = float(np.max(np.abs(V - Vr))) if V.shape == Vr.shape else np.inf
            row["ref_cert"] = ref["cert"]
        shutil.rmtree(vdir, ignore_errors=True)


def _read_jsonl(path: Path) -> list[dict]:
    if not Path(path).exists():
        return []
    out = []
    for line in Path(path).read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return out


def _fmt(x, digits=3) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "—"
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 0.01:
        return f"{x:.{digits}g}"
    return f"{x:.2g}"


# ============================================================================ measurements


def _bandwidth(quick: bool) -> dict:
    code = ("import json, numba as nb; from benchmarks.bandwidth import measure_bandwidth as m; "
            f"n={256 << 20 if quick else 1 << 30}; r={2 if quick else 5}; "
            "print(json.dumps({'sum': m(n, r), 'bw': m(n, r, gemv=True), "
            "'bw1': m(n, r, threads=1), 'nbytes': n, 'repeats': r, "
            "'threads': nb.config.NUMBA_NUM_THREADS}))")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"bandwidth measurement failed: {res.stderr[-500:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def _compile_time() -> dict:
    """Numba compile time of mdplab's kernels from an empty cache, and cache-load time."""
    code = ("import time, warnings, json; t0=time.perf_counter(); import mdplab as ml; "
            "from benchmarks.instances import Instance, tiny; t1=time.perf_counter(); "
            "warnings.simplefilter('ignore');\n"
            "for inst in (Instance('random-sparse', 1000, 10, 0.99), "
            "Instance('random-dense', 500, 4, 0.99)):\n"
            "    for m in tiny(inst):\n"
            "        [ml.solve(m, beta=b, method=k, tol=1e-6) for b in (0.0, 0.1) "
            "for k in ('vi', 'mpi', 'pi')]\n"
            "print(json.dumps({'import': t1 - t0, 'first_solves': time.perf_counter() - t1}))")
    out = {}
    with tempfile.TemporaryDirectory() as d:
        for label, env in (("cold", {"NUMBA_CACHE_DIR": d}), ("cached", {"NUMBA_CACHE_DIR": d})):
            res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                                 text=True, env={**os.environ, **env})
            if res.returncode == 0:
                out[label] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


def _l3_bytes() -> int:
    """Size of the last-level cache (bytes), 0 if unknown."""
    try:
        txt = Path("/sys/devices/system/cpu/cpu0/cache/index3/size").read_text().strip()
        mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(txt[-1], 1)
        return int(txt.rstrip("KMG")) * mult
    except (OSError, ValueError):
        return 0


def _machine() -> dict:
    import numba
    import scipy

    info = {"python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "numba": numba.__version__, "pandas": pd.__version__,
            "cores": os.cpu_count(), "platform": platform.platform()}
    try:
        import quantecon

        info["quantecon"] = quantecon.__version__
    except ImportError:
        info["quantecon"] = "not installed"
    try:
        from importlib.metadata import version

        info["mdptoolbox-hiive"] = version("mdptoolbox-hiive")
        info["mdplab"] = version("mdplab-kl")
    except Exception:
        pass
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        info["l3_mib"] = _l3_bytes() / 2**20
        info["mem_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
                                / 2**30, 1)
    except (OSError, ValueError):
        pass
    return info


# ============================================================================ derived columns


def _derive(df: pd.DataFrame, kernels: pd.DataFrame,
            bw: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    from .bandwidth import kernel_bytes

    df = df.copy()
    dense = df["family"] == "random-dense"
    df["bound_s"] = [kernel_bytes(S, A, None if d else n, 8) / bw
                     for S, A, n, d in zip(df["S"], df["A"], df["nnz"], dense, strict=True)]
    is_sweep = df["method"].eq("vi") & df["status"].eq("ok")
    df["sweep_s"] = np.where(is_sweep, df["time_s"] / df["iterations"].clip(lower=1), np.nan)
    df["ratio_bw"] = df["sweep_s"] / df["bound_s"]
    accurate = df["status"].eq("ok") & (df["error"] <= TOL + df["ref_cert"].fillna(0) + 1e-12)
    df["accurate"] = accurate
    peer = ~df["library"].eq("mdplab")
    best = (df[peer & accurate].groupby(["instance", "beta"])["time_s"].min()
            .rename("best_peer_s"))
    df = df.join(best, on=["instance", "beta"])
    df["ratio_best_peer"] = df["time_s"] / df["best_peer_s"]
    if len(kernels):
        kernels = kernels.copy()
        kd = kernels["family"] == "random-dense"
        kernels["bound_s"] = [kernel_bytes(S, A, None if d else n, 8) / bw
                              for S, A, n, d in zip(kernels["S"], kernels["A"], kernels["nnz"], kd,
                                                    strict=True)]
        kernels["ratio_bw"] = kernels["time_s"] / kernels["bound_s"]
        kernels["gb_s"] = kernels["bound_s"] * bw / kernels["time_s"] / 1e9
    return df, kernels


def _slopes(df: pd.DataFrame) -> pd.DataFrame:
    rows = []
    sel = df[(df["family"] == "random-sparse") & (df["library"] == "mdplab")
             & df["status"].eq("ok")]
    for (g, b, m), grp in sel.groupby(["gamma", "beta", "method"]):
        grp = grp.sort_values("S")
        if grp["S"].nunique() >= 3:
            x, y = np.log10(grp["S"].to_numpy(float)), np.log10(grp["time_s"].to_numpy(float))
            big = grp["S"] >= 10_000
            slope = np.polyfit(x, y, 1)[0]
            slope_big = np.polyfit(x[big], y[big], 1)[0] if big.sum() >= 2 else np.nan
            rows.append({"gamma": g, "beta": b, "method": m, "sizes": ", ".join(
                inst_mod._fmt_int(s) for s in grp["S"]), "slope": slope,
                "slope_S>=1e4": slope_big})
    return pd.DataFrame(rows)


# ============================================================================ targets


def _targets(df: pd.DataFrame, kernels: pd.DataFrame) -> list[dict]:
    out = []
    ok = df["status"].eq("ok")

    def t_of(inst, lib, method, beta, variant="tol"):
        r = df[(df["instance"] == inst) & (df["library"] == lib) & (df["method"] == method)
               & (df["beta"] == beta) & (df["variant"] == variant)]
        return r.iloc[0] if len(r) else None

    # (1) 3x faster than QuantEcon's fastest accurate method, S >= 1e4, sparse/structured, beta 0
    lines, met1 = [], True
    insts = df[(df["family"] != "random-dense") & (df["S"] >= 10_000)]["instance"].unique()
    for name in insts:
        me = t_of(name, "mdplab", "auto", 0.0)
        qe = df[(df["instance"] == name) & (df["library"] == "quantecon") & ok
                & df["accurate"] & (df["variant"] == "tol")]
        mine = df[(df["instance"] == name) & (df["library"] == "mdplab") & ok & df["accurate"]
                  & (df["beta"] == 0.0)]
        if me is None or me["status"] != "ok" or not me["accurate"]:
            met1 = False
            lines.append(f"{name}: mdplab auto {me['status'] if me is not None else 'missing'}")
            continue
        if qe.empty:
            lines.append(f"{name}: auto {me['time_s']:.3g} s; no accurate QuantEcon run "
                         "(all skipped: est. > cap)")
            continue
        q = qe.loc[qe["time_s"].idxmin()]
        sp = q["time_s"] / me["time_s"]
        bestm = mine.loc[mine["time_s"].idxmin()]
        met1 &= sp >= 3
        lines.append(f"{name}: auto {me['time_s']:.3g} s vs QuantEcon {q['method']} "
                     f"{q['time_s']:.3g} s → {sp:.2f}x (best mdplab method: {bestm['method']} "
                     f"{bestm['time_s']:.3g} s, {q['time_s'] / bestm['time_s']:.2f}x)")
    out.append({"target": "(1) ≥ 3x faster than QuantEcon's fastest accurate method, sparse and "
                "structured instances with S ≥ 1e4, β = 0 (mdplab `auto`)",
                "met": met1, "details": lines})

    # (2) soft within 2x of hard (auto), every instance
    lines, met2 = [], True
    for name in df["instance"].unique():
        h, s = t_of(name, "mdplab", "auto", 0.0), t_of(name, "mdplab", "auto", BETA_SOFT)
        if h is None or s is None or h["status"] != "ok" or s["status"] != "ok":
            met2 = False
            lines.append(f"{name}: hard {h['status'] if h is not None else '-'}, soft "
                         f"{s['status'] if s is not None else '-'}")
            continue
        r = s["time_s"] / h["time_s"]
        met2 &= r <= 2
        lines.append(f"{name}: soft {s['time_s']:.3g} s / hard {h['time_s']:.3g} s = {r:.2f}")
    out.append({"target": "(2) soft solve (β = 0.1, uniform ref) within 2x of the hard solve "
                "(mdplab `auto`, same instance)", "met": met2, "details": lines})

    # (3) dense sweeps within 1.2x of the bandwidth bound, judged where P exceeds the L3
    # cache (smaller kernels are served from cache and beat the DRAM bound)
    lines, verdicts = [], []
    l3 = _l3_bytes()
    kd = kernels[(kernels["family"] == "random-dense") & (kernels["lib"] == "mdplab")] \
        if len(kernels) else kernels
    for _, k in kd.iterrows():
        in_cache = bool(l3) and 8 * k["S"] * k["A"] * k["S"] <= l3
        if not in_cache:
            verdicts.append(k["ratio_bw"] <= 1.2)
        lines.append(f"{k['instance']} β={k['beta']:g}: sweep {k['time_s'] * 1e3:.2f} ms, "
                     f"bound {k['bound_s'] * 1e3:.2f} ms → {k['ratio_bw']:.2f}x"
                     + (" (P fits in the L3 cache: not judged)" if in_cache else ""))
    met3 = bool(verdicts) and all(verdicts)
    out.append({"target": "(3) dense Bellman sweeps within 1.2x of the memory-bandwidth bound "
                "(instances whose P exceeds the L3 cache)",
                "met": met3, "details": lines})

    # (4) 1e6-state sparse soft solve to 1e-8 in < 60 s within 16 GiB
    lines, verdicts = [], []
    big = df[(df["family"] == "random-sparse") & (df["S"] >= 1_000_000)
             & (df["library"] == "mdplab") & (df["beta"] == BETA_SOFT)]
    for _, r in big.iterrows():
        if r["status"] == "ok":
            checked = np.isfinite(r["error"])
            good = bool(r["accurate"] and r["time_s"] < 60 and r["peak_mb"] < 16 * 1024)
            if r["method"] == "auto":
                verdicts.append(good)
            lines.append(f"{r['instance']} {r['method']}: {r['time_s']:.1f} s, error "
                         + (f"{r['error']:.1e}" if checked else "unverified (no reference)")
                         + f", peak RSS {r['peak_mb'] / 1024:.1f} GiB" + (" ✓" if good else ""))
        else:
            lines.append(f"{r['instance']} {r['method']}: {r['status']} ({r.get('reason', '')})")
            if r["method"] == "auto":
                verdicts.append(False)
    if big.empty:
        lines.append("no 1e6-state instance in this run")
    met4 = bool(verdicts) and all(verdicts)
    out.append({"target": "(4) 1e6-state sparse soft solve to 1e-8 in < 60 s within 16 GiB "
                "(mdplab `auto`)", "met": met4, "details": lines})
    return out


# ============================================================================ report


_FAMILY_TITLES = {"random-sparse": "Random sparse (10 successors per (s, a), A = 10)",
                  "random-dense": "Random dense (flat Dirichlet rows)",
                  "chain": "Chain (slip 0.1, A = 2, reward at the right end)",
                  "gridworld": "Gridworld (square, no walls, slip 0.1, A = 4, goal in a corner)"}


def _method_label(r) -> str:
    lab = f"{r['library']} {r['method']}"
    if r["variant"] == "defaults":
        lab += " (defaults)"
    if r["beta"] > 0:
        lab += f" soft β={r['beta']:g}"
    if r["library"] == "mdplab" and r["method"] == "auto" and isinstance(r.get("resolved"), str):
        inner = r["resolved"].removeprefix("auto").strip(" ()")
        lab += f" (→ {inner})"
    return lab


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _row_cells(r) -> list[str]:
    if r["status"] != "ok":
        what = "**timeout**" if r["status"] == "timeout" else r["status"]
        return [_method_label(r), what, "—", "—", "—", "—", "—", r.get("reason", "")]
    err = r.get("error", np.nan)
    err_s = "—" if not np.isfinite(err) else f"{err:.1e}"
    if np.isfinite(err) and err > TOL + (r.get("ref_cert") or 0):
        err_s = f"**{err_s}** ✗"
    notes = []
    if r.get("setup_s", 0) and r["setup_s"] > 0.05:
        notes.append(f"setup {r['setup_s']:.2g} s")
    if isinstance(r.get("note"), str) and r["note"]:
        notes.append(r["note"])
    if r["library"] == "mdplab" and not r.get("converged", True):
        notes.append("converged=False")
    if np.isfinite(r.get("peak_mb", np.nan)):
        notes.append(f"peak {r['peak_mb']:.0f} MB (+{r['extra_mb']:.0f})")
    return [_method_label(r), _fmt(r["time_s"]), err_s, str(int(r["iterations"])),
            _fmt(r.get("ratio_best_peer")), _fmt(r.get("ratio_bw")),
            "; ".join(notes)]


def _summary_table(df: pd.DataFrame) -> str:
    def pick(sub, lib, method, beta=0.0, variant="tol"):
        r = sub[(sub["library"] == lib) & (sub["method"] == method) & (sub["beta"] == beta)
                & (sub["variant"] == variant)]
        return r.iloc[0] if len(r) else None

    def t_err(r):
        if r is None:
            return "—"
        if r["status"] != "ok":
            return r["status"]
        err = r.get("error", np.nan)
        flag = " ✗" if np.isfinite(err) and err > TOL + (r.get("ref_cert") or 0) else ""
        return f"{_fmt(r['time_s'])} s ({err:.0e}{flag})" if np.isfinite(err) else \
            f"{_fmt(r['time_s'])} s"

    def err_only(r):
        if r is None or r["status"] != "ok" or not np.isfinite(r.get("error", np.nan)):
            return "—" if r is None or r["status"] == "ok" else r["status"]
        return f"{r['error']:.1e}"

    rows = []
    for name in df["instance"].unique():
        sub = df[df["instance"] == name]
        first = sub.iloc[0]
        inst = Instance(first["family"], int(first["S"]), int(first["A"]), float(first["gamma"]))
        hard, soft = pick(sub, "mdplab", "auto"), pick(sub, "mdplab", "auto", BETA_SOFT)
        qe = sub[(sub["library"] == "quantecon") & sub["accurate"] & (sub["variant"] == "tol")]
        peers = sub[(sub["library"] != "mdplab") & sub["accurate"] & (sub["beta"] == 0.0)]
        q = qe.loc[qe["time_s"].idxmin()] if len(qe) else None
        b = peers.loc[peers["time_s"].idxmin()] if len(peers) else None
        speed = (f"{q['time_s'] / hard['time_s']:.2f}x" if q is not None and hard is not None
                 and hard["status"] == "ok" else "—")
        rows.append([
            f"{first['family']} {inst.label}", t_err(hard), t_err(soft),
            f"{q['method']} {_fmt(q['time_s'])} s" if q is not None else "—", speed,
            f"{b['library']} {b['method']} {_fmt(b['time_s'])} s" if b is not None else "—",
            err_only(pick(sub, "quantecon", "vi", variant="defaults")),
            err_only(pick(sub, "mdptoolbox", "vi")),
        ])
    return _md_table(["instance", "mdplab auto (error)", "mdplab auto soft β=0.1 (error)",
                      "QuantEcon fastest (1e-8)", "QuantEcon time / auto",
                      "fastest accurate peer", "QuantEcon VI defaults: error",
                      "pymdptoolbox VI: error"], rows)


def write_report(df: pd.DataFrame, kernels: pd.DataFrame, slopes: pd.DataFrame,
                 targets: list[dict], meta: dict, path: Path,
                 sections: list[dict] | None = None) -> None:
    m = meta["machine"]
    bw = meta["bandwidth"]
    L = ["# mdplab benchmarks\n",
         f"Generated by `make bench` (`python -m benchmarks.run`) on {meta['date']}; "
         f"total wall time {meta['wall'] / 60:.1f} min. Protocol: `docs/benchmarks.md`.\n",
         "## Machine\n",
         f"- {m.get('cpu', '?')}, {m['cores']} cores, L3 {m.get('l3_mib', 0):.0f} MiB, "
         f"{m.get('mem_gib', '?')} GiB; "
         f"{m['platform']}",
         f"- Python {m['python']}, NumPy {m['numpy']}, SciPy {m['scipy']}, Numba {m['numba']} "
         f"({meta.get('threads', '?')} threads), QuantEcon {m.get('quantecon')}, "
         f"mdptoolbox-hiive {m.get('mdptoolbox-hiive', '?')}, mdplab {m.get('mdplab', '?')}",
         f"- Streaming-read bandwidth over {bw['nbytes'] / 2**30:g} GiB, best of "
         f"{bw['repeats']}: Numba `prange` sum {bw['sum'] / 1e9:.2f} GB/s with "
         f"{bw['threads']} threads ({bw['bw1'] / 1e9:.2f} GB/s with 1 thread); the bound uses "
         f"the larger of that and a BLAS gemv over the same bytes: **{bw['bw'] / 1e9:.2f} GB/s**",
         f"- Load average (1 min) at start / end: {meta['load'][0]:.2f} / {meta['load'][1]:.2f}"
         " (the machine is shared; timings on a loaded machine are noisy)",
         ]
    ct = meta.get("compile", {})
    if "cold" in ct:
        L.append(f"- Numba JIT: compiling mdplab's kernels from an empty cache takes "
                 f"{ct['cold']['first_solves']:.1f} s (first solves on small models, hard and "
                 f"soft, sparse and dense), loading them from the on-disk cache "
                 f"{ct.get('cached', {}).get('first_solves', float('nan')):.1f} s; "
                 "**both are excluded from every timing below** (each worker warms up first).")
    L += ["",
          "Columns: time = wall time of the solve call (peer model construction excluded, shown "
          "as setup); error = max |V − V_ref| (bold ✗: above 1e-8); iterations = sweeps (VI), "
          "policy evaluations (PI), improvement steps (MPI, each followed by 20 partial "
          "sweeps; QuantEcon's k = 20 too); ratio to best peer = time / fastest peer run with "
          "error ≤ 1e-8 (soft rows: the only soft peer is NumPy VI); ratio to bound = time per "
          "VI sweep / (bytes of P / bandwidth). Peak = peak RSS of the worker process during "
          "the run (model included), (+extra) = growth during the run.", ""]
    L += ["## Summary\n",
          "mdplab `auto` (hard and soft) against the fastest peer run that returned a value "
          "within 1e-8, and what the peers' defaults return. Detailed tables per instance "
          "follow.\n"]
    L.append(_summary_table(df))
    L.append("")
    L.append("## Detailed results\n")
    for fam in ("random-sparse", "random-dense", "chain", "gridworld"):
        sub = df[df["family"] == fam]
        if sub.empty:
            continue
        L.append(f"### {_FAMILY_TITLES[fam]}\n")
        for name in sub["instance"].unique():
            grp = sub[sub["instance"] == name]
            first = grp.iloc[0]
            inst = Instance(first["family"], int(first["S"]), int(first["A"]),
                            float(first["gamma"]))
            certs = []
            for b in (0.0, BETA_SOFT):
                ref = meta["refs"].get(f"{name}|{b:g}", {})
                certs.append(f"β={b:g}: {ref.get('cert', float('nan')):.1e}")
            L.append(f"#### {inst.label} (nnz = {int(first['nnz']):,})\n".replace(",", " "))
            L.append(f"Reference certified to {', '.join(certs)}.\n")
            rows = [_row_cells(r) for _, r in grp.iterrows()]
            L.append(_md_table(["method", "time (s)", "error vs ref", "sweeps/iterations",
                                "ratio to best peer", "ratio to bandwidth bound", "notes"],
                               rows))
            L.append("")
    if len(kernels):
        L += ["## One Bellman sweep vs the bandwidth bound\n",
              "Best of 5 of one application of the optimality operator (mdplab's "
              "`StepOperator.bellman`, and plain NumPy/SciPy), against bytes of P / bandwidth.\n"]
        rows = []
        for _, k in kernels.iterrows():
            rows.append([k["instance"], f"{k['lib']} {k['method']}" + (
                " soft" if k["beta"] > 0 else ""), f"{k['time_s'] * 1e3:.2f}",
                f"{k['bound_s'] * 1e3:.2f}", f"{k['ratio_bw']:.2f}", f"{k['gb_s']:.2f}"])
        L.append(_md_table(["instance", "kernel", "time (ms)", "bound (ms)", "ratio",
                            "effective GB/s"], rows))
        L.append("")
    if len(slopes):
        L += ["## Scaling of mdplab on the random sparse family\n",
              "Least-squares slope of log10(time) against log10(S) (A = 10, 10 successors, so "
              "nnz ∝ S; 1 = linear).\n"]
        L.append(_md_table(["γ", "β", "method", "sizes", "slope (all)", "slope (S ≥ 1e4)"],
                           [[f"{r['gamma']}", f"{r['beta']:g}", r["method"], r["sizes"],
                             f"{r['slope']:.2f}", _fmt(r["slope_S>=1e4"])]
                            for _, r in slopes.iterrows()]))
        L.append("")
    if sections:
        from .sections import sections_block

        L.append(sections_block(sections))
    L += ["## Targets\n"]
    for t in targets:
        L.append(f"- **{t['target']}: {'MET' if t['met'] else 'NOT MET'}**")
        for d in t["details"]:
            L.append(f"  - {d}")
    L.append("")
    path.write_text("\n".join(L) + "\n")


# ============================================================================ main


def main(quick: bool = False, out: Path | str | None = None, cap: float | None = None,
         families: list[str] | None = None, log=print,
         sections: bool | None = None) -> pd.DataFrame:
    """Run the suite; return the tidy table (one row per run). ``quick``: < 1 min smoke run,
    in-process, nothing written unless ``out`` is given. The full run writes
    ``benchmarks/results.md`` (or ``out``). ``sections`` (default: on in full mode) appends
    the best-of-n, learning and game benchmarks of :mod:`benchmarks.sections`."""
    cap = cap if cap is not None else (20.0 if quick else CAP)
    suite_insts = inst_mod.quick_suite() if quick else inst_mod.full_suite()
    if families:
        suite_insts = [i for i in suite_insts if i.family in families]
    workdir = Path(tempfile.mkdtemp(prefix="mdplab-bench-"))
    load0 = os.getloadavg()[0]
    suite = Suite(quick, cap, BUDGET, workdir, log=log)

    def _term(signum, frame):
        raise SystemExit(128 + signum)

    old = signal.signal(signal.SIGTERM, _term) if not quick else None
    try:
        bw = _bandwidth(quick)
        log(f"bandwidth: {bw['bw'] / 1e9:.2f} GB/s ({bw['threads']} threads)")
        suite.meta["compile"] = {} if quick else _compile_time()
        for inst in suite_insts:
            suite.instance(inst)
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)
        shutil.rmtree(workdir, ignore_errors=True)
    df = pd.DataFrame(suite.rows)
    for col in ("time_s", "setup_s", "iterations", "error", "ref_cert", "peak_mb", "extra_mb",
                "converged", "resolved", "note", "reason", "error_bound"):
        if col not in df:
            df[col] = np.nan
    kernels = pd.DataFrame(suite.kernels)
    df, kernels = _derive(df, kernels, bw["bw"])
    if quick and out is None:
        return df
    slopes = _slopes(df)
    targets = _targets(df, kernels)
    extra = []
    if sections if sections is not None else not quick:
        from . import sections as sections_mod

        extra = sections_mod.run_all(quick, log=log)
    meta = {**suite.meta, "machine": _machine(), "bandwidth": bw, "refs": suite.refs,
            "date": _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
            "wall": suite.elapsed(), "load": (load0, os.getloadavg()[0])}
    path = Path(out) if out is not None else RESULTS
    path.parent.mkdir(parents=True, exist_ok=True)
    write_report(df, kernels, slopes, targets, meta, path, extra)
    csv = path.with_suffix(".csv")
    df.to_csv(csv, index=False)
    log(f"wrote {path} and {csv.name} in {suite.elapsed() / 60:.1f} min")
    return df


def _cli(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small smoke version (< 1 min)")
    ap.add_argument("--out", type=Path, default=None, help="report path (default "
                    "benchmarks/results.md; quick mode writes nothing unless given)")
    ap.add_argument("--cap", type=float, default=None, help=f"seconds per run (default {CAP:g})")
    ap.add_argument("--family", action="append", help="only these instance families")
    ap.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        run_group(json.loads(args.worker.read_text()))
        return 0
    df = main(quick=args.quick, out=args.out, cap=args.cap, families=args.family)
    if args.quick:
        cols = ["instance", "library", "method", "variant", "beta", "status", "time_s",
                "iterations", "error"]
        with pd.option_context("display.width", 200, "display.max_rows", 500):
            print(df[cols].to_string(index=False))
    bad = df[(df["library"] == "mdplab") & df["status"].eq("ok") & ~df["accurate"]]
    return 1 if len(bad) else 0


if __name__ == "__main__":
    sys.exit(_cli())
