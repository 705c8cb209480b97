r"""Prototypes of solver ideas, measured against mdplab on the benchmark instances.

Nothing here is used by mdplab; each prototype exists to put a number on a proposal in
``benchmarks/results.md`` ("Proposals"). Every prototype returns a value certified by the same
McQueen-Porteus bracket mdplab uses (one Jacobi sweep of the optimality operator,
:math:`|V - V^*| \le c\,\mathrm{span}(TV - V)/2` for the midpoint), and the driver checks it
against the independent NumPy certificate of :func:`benchmarks.peers.certify`.

Prototypes (hard problems, ``beta = 0``, unless stated):

* :func:`adaptive_mpi` -- modified policy iteration whose partial evaluation stops as soon as
  the span of the evaluation increment is below a fraction of the current bracket width
  (instead of a fixed 20 sweeps), sweeping a compact ``P_pi`` (S rows) built by a Numba gather.
* :func:`ordered_gauss_seidel` -- Gauss-Seidel value iteration that visits states in order of
  decreasing current value (re-sorted every few sweeps): on goal-directed problems (chains,
  gridworlds) values flow downhill, so one sweep in that order carries them across the whole
  state space.
* :func:`pi_direct` -- policy iteration with exact evaluation by a chosen sparse direct solver
  (SuperLU with a chosen ordering, or a banded LAPACK solve after reverse Cuthill-McKee).
* CSR kernels (:func:`csr_gather_sum`, :func:`csr_stream_sum`, :func:`bellman_csr_2acc`) to
  split one Bellman sweep into streaming and gather costs.

Run ``python -m benchmarks.prototypes`` to print the measurements (a few minutes).
"""

from __future__ import annotations

import time
import warnings

import numba as nb
import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.csgraph as csgraph
import scipy.sparse.linalg as spla

_JIT = dict(cache=True, nogil=True)


# ============================================================================ kernels


@nb.njit(parallel=True, **_JIT)
def bellman_hard(indptr, indices, data, R, V, gamma, out, act):
    """out[s] = max_a R[s,a] + gamma P[s*A+a].V (one accumulator, fixed order, as mdplab)."""
    S, A = R.shape
    for s in nb.prange(S):
        best = -np.inf
        arg = 0
        for a in range(A):
            row = s * A + a
            acc = 0.0
            for k in range(indptr[row], indptr[row + 1]):
                acc += data[k] * V[indices[k]]
            q = R[s, a] + gamma * acc
            if q > best:
                best = q
                arg = a
        out[s] = best
        act[s] = arg


@nb.njit(parallel=True, **_JIT)
def bellman_csr_2acc(indptr, indices, data, R, V, gamma, out):
    """As :func:`bellman_hard` with two interleaved accumulators (still a fixed order)."""
    S, A = R.shape
    for s in nb.prange(S):
        best = -np.inf
        for a in range(A):
            row = s * A + a
            acc0 = 0.0
            acc1 = 0.0
            k = indptr[row]
            end = indptr[row + 1]
            while k + 1 < end:
                acc0 += data[k] * V[indices[k]]
                acc1 += data[k + 1] * V[indices[k + 1]]
                k += 2
            if k < end:
                acc0 += data[k] * V[indices[k]]
            q = R[s, a] + gamma * (acc0 + acc1)
            if q > best:
                best = q
        out[s] = best


@nb.njit(parallel=True, **_JIT)
def csr_stream_sum(indptr, indices, data, out):
    """Reads data and indices like a sweep, without the gather: the streaming cost."""
    n = indptr.shape[0] - 1
    for r in nb.prange(n):
        acc = 0.0
        for k in range(indptr[r], indptr[r + 1]):
            acc += data[k] * indices[k]
        out[r] = acc


@nb.njit(parallel=True, **_JIT)
def csr_gather_sum(indptr, indices, data, V, out):
    """Plain CSR mat-vec over all S*A rows (no max): the gather cost on top of streaming."""
    n = indptr.shape[0] - 1
    for r in nb.prange(n):
        acc = 0.0
        for k in range(indptr[r], indptr[r + 1]):
            acc += data[k] * V[indices[k]]
        out[r] = acc


@nb.njit(**_JIT)
def _policy_rows(indptr, A, act):
    S = act.shape[0]
    counts = np.empty(S + 1, dtype=np.int64)
    counts[0] = 0
    for s in range(S):
        row = s * A + act[s]
        counts[s + 1] = indptr[row + 1] - indptr[row]
    return np.cumsum(counts)


@nb.njit(parallel=True, **_JIT)
def _gather_policy(indptr, indices, data, A, act, pptr, pind, pdat):
    S = act.shape[0]
    for s in nb.prange(S):
        row = s * A + act[s]
        o = pptr[s]
        for k in range(indptr[row], indptr[row + 1]):
            pind[o] = indices[k]
            pdat[o] = data[k]
            o += 1


def compact_policy_matrix(P, A, act):
    """CSR arrays of ``P_pi`` (rows ``s*A + act[s]``), built by a Numba gather."""
    pptr = _policy_rows(P.indptr, A, act)
    nnz = int(pptr[-1])
    pind = np.empty(nnz, dtype=P.indices.dtype)
    pdat = np.empty(nnz)
    _gather_policy(P.indptr, P.indices, P.data, A, act, pptr, pind, pdat)
    return pptr, pind, pdat


@nb.njit(parallel=True, **_JIT)
def _policy_sweep(pptr, pind, pdat, r, V, gamma, out):
    S = r.shape[0]
    lo = np.inf
    hi = -np.inf
    for s in nb.prange(S):
        acc = 0.0
        for k in range(pptr[s], pptr[s + 1]):
            acc += pdat[k] * V[pind[k]]
        out[s] = r[s] + gamma * acc
    for s in range(S):
        d = out[s] - V[s]
        lo = min(lo, d)
        hi = max(hi, d)
    return hi - lo


@nb.njit(**_JIT)
def _gs_ordered(indptr, indices, data, R, V, gamma, order):
    """In-place Gauss-Seidel sweep visiting states in ``order``; returns max |change|."""
    A = R.shape[1]
    change = 0.0
    for i in range(order.shape[0]):
        s = order[i]
        best = -np.inf
        for a in range(A):
            row = s * A + a
            acc = 0.0
            for k in range(indptr[row], indptr[row + 1]):
                acc += data[k] * V[indices[k]]
            q = R[s, a] + gamma * acc
            if q > best:
                best = q
        d = abs(best - V[s])
        if d > change:
            change = d
        V[s] = best
    return change


# ============================================================================ solvers


class Result:
    def __init__(self, V, sweeps, seconds, bound, note=""):
        self.V, self.sweeps, self.seconds, self.bound, self.note = V, sweeps, seconds, bound, note


def _bracket(V, TV, gamma):
    d = TV - V
    lo, hi = float(d.min()), float(d.max())
    c = gamma / (1.0 - gamma)
    return TV + c * 0.5 * (hi + lo), c * 0.5 * (hi - lo), hi - lo


def _start(R, gamma):
    return np.full(R.shape[0], float(R.max(axis=1).min()) / (1.0 - gamma))


def adaptive_mpi(mdp, tol=1e-8, frac=0.1, max_eval=20, max_iter=10_000) -> Result:
    """MPI: improvement, then partial evaluation sweeps on the compact P_pi until the span of
    the increment is below ``frac`` times the span of the last improvement's increment."""
    P, R, g = mdp.P, np.ascontiguousarray(mdp.R), mdp.gamma
    S, A = R.shape
    t0 = time.perf_counter()
    V = _start(R, g)
    TV = np.empty(S)
    act = np.empty(S, dtype=np.int64)
    W = np.empty(S)
    full = part = 0
    for _ in range(max_iter):
        bellman_hard(P.indptr, P.indices, P.data, R, V, g, TV, act)
        full += 1
        est, bound, span = _bracket(V, TV, g)
        if bound <= tol:
            return Result(est, (full, part), time.perf_counter() - t0, bound)
        pptr, pind, pdat = compact_policy_matrix(P, A, act)
        r = R[np.arange(S), act]
        V[:] = TV
        for _ in range(max_eval):
            sp_ = _policy_sweep(pptr, pind, pdat, r, V, g, W)
            V, W = W, V
            part += 1
            if sp_ <= frac * span:
                break
    return Result(V, (full, part), time.perf_counter() - t0, bound, "max_iter")


def ordered_gauss_seidel(mdp, tol=1e-8, resort=4, max_sweeps=100_000) -> Result:
    """GS-VI in order of decreasing V (re-sorted every ``resort`` sweeps), certified by a
    Jacobi sweep's McQueen-Porteus bracket whenever the in-place change is small."""
    P, R, g = mdp.P, np.ascontiguousarray(mdp.R), mdp.gamma
    S = R.shape[0]
    t0 = time.perf_counter()
    V = _start(R, g)
    TV = np.empty(S)
    act = np.empty(S, dtype=np.int64)
    c = g / (1.0 - g)
    order = np.arange(S)
    sweeps = 0
    bound = np.inf
    while sweeps < max_sweeps:
        if sweeps % resort == 0:
            order = np.argsort(-V, kind="stable")
        change = _gs_ordered(P.indptr, P.indices, P.data, R, V, g, order)
        sweeps += 1
        if c * change > 0.1 * tol and sweeps % 8:
            continue
        bellman_hard(P.indptr, P.indices, P.data, R, V, g, TV, act)
        est, bound, _ = _bracket(V, TV, g)
        if bound <= tol:
            return Result(est, sweeps, time.perf_counter() - t0, bound)
        V[:] = TV
    return Result(V, sweeps, time.perf_counter() - t0, bound, "max_sweeps")


def _solve_direct(M, r, how):
    if how == "banded":
        perm = csgraph.reverse_cuthill_mckee(sp.csr_matrix(M), symmetric_mode=False)
        Mp = sp.csr_matrix(M)[perm][:, perm].tocoo()
        lower = int(max(0, (Mp.row - Mp.col).max()))
        upper = int(max(0, (Mp.col - Mp.row).max()))
        n = M.shape[0]
        ab = np.zeros((lower + upper + 1, n))
        ab[upper + Mp.row - Mp.col, Mp.col] = Mp.data
        x = sla.solve_banded((lower, upper), ab, r[perm], check_finite=False)
        out = np.empty(n)
        out[perm] = x
        return out
    return spla.splu(sp.csc_matrix(M), permc_spec=how).solve(r)


def pi_direct(mdp, tol=1e-8, how="MMD_AT_PLUS_A", V0=None, max_iter=1000) -> Result:
    """Howard PI, exact evaluation by a direct solver; stops on a repeated greedy policy or
    the McQueen-Porteus bound."""
    P, R, g = mdp.P, np.ascontiguousarray(mdp.R), mdp.gamma
    S, A = R.shape
    t0 = time.perf_counter()
    V = _start(R, g) if V0 is None else np.array(V0)
    TV = np.empty(S)
    act = np.empty(S, dtype=np.int64)
    prev = None
    eye = sp.identity(S, format="csr")
    for k in range(max_iter):
        bellman_hard(P.indptr, P.indices, P.data, R, V, g, TV, act)
        est, bound, _ = _bracket(V, TV, g)
        if bound <= tol or (prev is not None and np.array_equal(prev, act)):
            return Result(est, k, time.perf_counter() - t0, bound)
        prev = act.copy()
        pptr, pind, pdat = compact_policy_matrix(P, A, act)
        P_pi = sp.csr_matrix((pdat, pind, pptr), shape=(S, S))
        V = _solve_direct(eye - g * P_pi, R[np.arange(S), act], how)
    return Result(V, max_iter, time.perf_counter() - t0, bound, "max_iter")


# ============================================================================ driver


def _timeit(fn, repeats=5):
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def kernel_split(mdp, bw):
    """One sweep split into streaming and gather costs (ms) and effective GB/s."""
    from mdplab.solvers._operator import StepOperator

    P, R, g = mdp.P, np.ascontiguousarray(mdp.R), mdp.gamma
    S, A = R.shape
    V = np.random.default_rng(0).random(S)
    out_rows = np.empty(S * A)
    out = np.empty(S)
    act = np.empty(S, dtype=np.int64)
    nbytes = 12 * P.nnz + 8 * (S * A + 1)
    op = StepOperator(P, R, g, 0.0, np.full((S, A), 1.0 / A))
    rows = {}
    fns = {
        "mdplab bellman (hard)": lambda: op.bellman(V, out=out),
        "prototype bellman, 1 acc": lambda: bellman_hard(P.indptr, P.indices, P.data, R, V, g,
                                                         out, act),
        "prototype bellman, 2 acc": lambda: bellman_csr_2acc(P.indptr, P.indices, P.data, R, V,
                                                             g, out),
        "CSR mat-vec (gather, no max)": lambda: csr_gather_sum(P.indptr, P.indices, P.data, V,
                                                               out_rows),
        "stream only (no gather)": lambda: csr_stream_sum(P.indptr, P.indices, P.data, out_rows),
        "SciPy P @ V (1 thread)": lambda: P @ V,
    }
    for name, fn in fns.items():
        fn()
        t = _timeit(fn)
        rows[name] = (t * 1e3, nbytes / t / 1e9, t / (nbytes / bw))
    return rows


def _verify(mdp, res, ref=None):
    from .peers import certify

    cert = certify(mdp, res.V)
    err = float(np.abs(res.V - ref).max()) if ref is not None else float("nan")
    return cert, err


def main():  # pragma: no cover - measurement script
    import mdplab as ml

    from . import instances as I
    from .bandwidth import measure_bandwidth
    from .peers import quantecon_model

    warnings.simplefilter("ignore")
    bw = measure_bandwidth(gemv=True)
    print(f"bandwidth {bw / 1e9:.1f} GB/s")
    # warm-up compile
    small = I.tiny(I.Instance("random-sparse", 1000, 10, 0.99))[1]
    for f in (adaptive_mpi, ordered_gauss_seidel, pi_direct):
        f(small)
    kernel_split(small, bw)

    for inst in (I.Instance("random-sparse", 100_000, 10, 0.99),
                 I.Instance("random-sparse", 1_000_000, 10, 0.99)):
        mdp, _ = I.build(inst)
        print(f"\n== {inst.name}: one sweep")
        for k, (ms, gbs, ratio) in kernel_split(mdp, bw).items():
            print(f"  {k:32s} {ms:8.2f} ms {gbs:6.2f} GB/s  {ratio:5.2f}x bound")

    for inst in (I.Instance("random-sparse", 10_000, 10, 0.99),
                 I.Instance("random-sparse", 100_000, 10, 0.99),
                 I.Instance("random-sparse", 1_000_000, 10, 0.99)):
        mdp, _ = I.build(inst)
        ref = ml.solve(mdp, method="mpi", tol=1e-11).V
        print(f"\n== {inst.name}")
        t = _timeit(lambda m=mdp: ml.solve(m, method="auto", tol=1e-8), 3)
        print(f"  mdplab auto                 {t:8.3f} s")
        ddp = quantecon_model(mdp)
        t = _timeit(lambda d=ddp: d.solve("modified_policy_iteration", epsilon=2e-8,
                                          max_iter=10**6), 3)
        print(f"  QuantEcon mpi               {t:8.3f} s")
        for frac, m in ((0.1, 20), (0.05, 20), (0.2, 20), (1e-9, 20)):
            res = adaptive_mpi(mdp, frac=frac, max_eval=m)
            res.seconds = min(res.seconds, adaptive_mpi(mdp, frac=frac, max_eval=m).seconds)
            cert, err = _verify(mdp, res, ref)
            label = "fixed 20" if frac < 1e-6 else f"frac={frac:g}"
            print(f"  proto MPI ({label:9s})     {res.seconds:8.3f} s  sweeps full/partial "
                  f"{res.sweeps}  err {err:.1e}  cert {cert:.1e}")

    for inst in (I.Instance("chain", 10_000, 2, 0.99), I.Instance("chain", 10_000, 2, 0.999),
                 I.Instance("gridworld", 90_000, 4, 0.99),
                 I.Instance("gridworld", 90_000, 4, 0.999)):
        mdp, _ = I.build(inst)
        ref = ml.solve(mdp, method="pi", tol=1e-11).V
        print(f"\n== {inst.name}")
        for m in ("auto", "pi", "gs", "mpi"):
            t0 = time.perf_counter()
            sol = ml.solve(mdp, method=m, tol=1e-8)
            print(f"  mdplab {m:20s} {time.perf_counter() - t0:8.3f} s  it {sol.iterations}")
        ddp = quantecon_model(mdp)
        t = _timeit(lambda d=ddp: d.solve("modified_policy_iteration", epsilon=2e-8,
                                          max_iter=10**6), 2)
        print(f"  QuantEcon mpi               {t:8.3f} s")
        res = ordered_gauss_seidel(mdp)
        cert, err = _verify(mdp, res, ref)
        print(f"  proto value-ordered GS      {res.seconds:8.3f} s  sweeps {res.sweeps}  "
              f"err {err:.1e}  cert {cert:.1e}")
        hows = ["MMD_AT_PLUS_A", "COLAMD", "NATURAL"] + (["banded"] if inst.family == "chain"
                                                          else [])
        for how in hows:
            res = pi_direct(mdp, how=how)
            cert, err = _verify(mdp, res, ref)
            print(f"  proto PI ({how:13s})     {res.seconds:8.3f} s  it {res.sweeps}  "
                  f"err {err:.1e}  cert {cert:.1e}")
        gs = ordered_gauss_seidel(mdp, tol=1e-4)
        res = pi_direct(mdp, how="MMD_AT_PLUS_A" if inst.family != "chain" else "banded",
                        V0=gs.V)
        cert, err = _verify(mdp, res, ref)
        print(f"  proto ordered GS(1e-4)+PI   {gs.seconds + res.seconds:8.3f} s  it {res.sweeps}"
              f"  err {err:.1e}  cert {cert:.1e}")


if __name__ == "__main__":  # pragma: no cover
    main()
