r"""Peer solvers, called the way their documentation says, plus a plain NumPy/SciPy baseline.

Every adapter takes an :class:`mdplab.TabularMDP` and returns a :class:`PeerRun`: the value
vector the peer returned (its own answer, untouched), its iteration count, the set-up time
(building the peer's model object, *not* part of the solve time) and a note.

Accuracy settings: the benchmark asks every method for a value within ``tol = 1e-8`` of
:math:`V^*` in the sup norm.

* **QuantEcon** ``DiscreteDP`` (``quantecon.markov.ddp``). ``"vi"`` stops when
  :math:`\|Tv - v\|_\infty < \varepsilon (1-\beta)/(2\beta)` and returns :math:`Tv`, which is then
  within :math:`\varepsilon/2` of :math:`v^*`; ``"mpi"`` stops when
  :math:`\mathrm{span}(Tv - v) < \varepsilon(1-\beta)/\beta` and returns the McQueen-Porteus
  midpoint, also within :math:`\varepsilon/2`. So ``epsilon = 2 tol`` is the setting whose
  guarantee is ``tol``; ``max_iter`` is raised from its default 250 to 10**7 (the defaults,
  ``epsilon = 1e-3, max_iter = 250``, are run as separate rows). ``"pi"`` is exact (``spsolve``
  on the state-action-pair sparse form, ``numpy.linalg.solve`` on the dense product form).
  Sparse instances use the state-action-pair form with a CSR ``Q`` of shape ``(S*A, S)``,
  dense instances the product form ``R (S, A)``, ``Q (S, A, S)``.
* **pymdptoolbox** (``mdptoolbox-hiive``, imported as ``hiive.mdptoolbox``): ``P`` as a list
  of ``A`` CSR ``(S, S)`` matrices (dense ``(A, S, S)`` for dense instances), ``R (S, A)``.
  ``ValueIteration(epsilon=tol)`` stops on :math:`\mathrm{span}(V_{n+1}-V_n) <
  \varepsilon(1-\gamma)/\gamma` (an :math:`\varepsilon`-optimal *policy*) and returns
  :math:`V_{n+1}` without the McQueen-Porteus correction, so its value can be far from
  :math:`V^*`; its constructor computes an iteration bound with a Python loop over states
  (``_boundIter``) that overrides ``max_iter``. ``PolicyIteration`` (matrix evaluation) builds a
  dense ``(S, S)`` ``P_pi`` and calls ``numpy.linalg.solve``.
* **NumPy/SciPy VI**: ``Q = R + gamma * (P @ V)`` with SciPy's CSR mat-vec (or a BLAS gemv for
  dense kernels), ``V = Q.max(1)`` (``beta * logsumexp`` for the soft operator), stopped with
  the same McQueen-Porteus bracket as mdplab (the strongest cheap stopping rule, so the row
  measures the cost of a sweep, not a weaker stopping rule).

:func:`bellman_numpy` and :func:`certify` are an independent (plain NumPy) Bellman operator
and the McQueen-Porteus certificate used to check the reference values.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.special import logsumexp

__all__ = ["PeerRun", "bellman_numpy", "certify", "numpy_vi", "quantecon_model",
           "quantecon_solve", "quantecon_vi_estimate", "mdptoolbox_solve"]


@dataclass
class PeerRun:
    V: np.ndarray
    iterations: int
    setup: float = 0.0
    converged: bool | None = None
    note: str = ""


# ---------------------------------------------------------------------- plain NumPy

def _p2(mdp):
    P = mdp.transitions()
    return P if sp.issparse(P) else np.ascontiguousarray(P)


def bellman_numpy(P2, R, gamma: float, V: np.ndarray, beta: float = 0.0) -> np.ndarray:
    """``T V`` in plain NumPy/SciPy: hard max, or ``beta log mean_a exp(Q/beta)`` (uniform ref)."""
    S, A = R.shape
    Q = R + gamma * np.asarray(P2 @ V).reshape(S, A)
    if beta == 0.0:
        return Q.max(axis=1)
    return beta * (logsumexp(Q / beta, axis=1) - np.log(A))


def certify(mdp, V: np.ndarray, beta: float = 0.0) -> float:
    r"""A guaranteed bound on :math:`\|V - V^*\|_\infty`, computed with plain NumPy.

    With :math:`d = TV - V` and :math:`c = \gamma/(1-\gamma)`, monotonicity and the constant
    shift property give :math:`TV + c \min d \le V^* \le TV + c \max d`, hence
    :math:`|V - V^*| \le \max(|d + c\min d|, |d + c \max d|)` elementwise (McQueen 1966;
    Porteus 1971; Puterman 1994, Prop. 6.6.1). Independent of mdplab's kernels.
    """
    g = mdp.gamma
    TV = bellman_numpy(_p2(mdp), np.asarray(mdp.R), g, V, beta)
    d = TV - V
    c = g / (1.0 - g)
    lo, hi = d.min(), d.max()
    return float(max(np.abs(d + c * lo).max(), np.abs(d + c * hi).max()))


def numpy_vi(mdp, beta: float = 0.0, tol: float = 1e-8, max_iter: int = 10**7) -> PeerRun:
    """Vectorized value iteration (SciPy CSR mat-vec or BLAS gemv) with McQueen-Porteus stopping."""
    P2, R, g = _p2(mdp), np.asarray(mdp.R), mdp.gamma
    c = g / (1.0 - g)
    V = np.zeros(mdp.S)
    for k in range(1, max_iter + 1):
        TV = bellman_numpy(P2, R, g, V, beta)
        d = TV - V
        lo, hi = d.min(), d.max()
        if c * 0.5 * (hi - lo) <= tol:
            return PeerRun(TV + c * 0.5 * (hi + lo), k, converged=True)
        V = TV
    return PeerRun(V, max_iter, converged=False, note="max_iter reached")


# ---------------------------------------------------------------------- QuantEcon

def quantecon_model(mdp):
    """``DiscreteDP`` of ``mdp``: state-action-pair sparse form, or dense product form."""
    from quantecon.markov import DiscreteDP

    S, A = mdp.S, mdp.A
    if mdp.is_sparse:
        s_idx = np.repeat(np.arange(S), A)
        a_idx = np.tile(np.arange(A), S)
        Q = sp.csr_matrix(mdp.P)  # QuantEcon documents scipy.sparse matrices
        return DiscreteDP(np.asarray(mdp.R).ravel(), Q, mdp.gamma, s_idx, a_idx)
    return DiscreteDP(np.asarray(mdp.R), np.asarray(mdp.P), mdp.gamma)


_QE_METHODS = {"vi": "value_iteration", "pi": "policy_iteration",
               "mpi": "modified_policy_iteration"}


def quantecon_solve(mdp, method: str, tol: float | None = 1e-8, ddp=None) -> PeerRun:
    """QuantEcon ``DiscreteDP.solve``; ``tol=None`` runs the library defaults."""
    setup = 0.0
    if ddp is None:
        t0 = time.perf_counter()
        ddp = quantecon_model(mdp)
        setup = time.perf_counter() - t0
    kwargs = {}
    if tol is not None and method != "pi":
        kwargs = {"epsilon": 2.0 * tol, "max_iter": 10**7}
    res = ddp.solve(method=_QE_METHODS[method], **kwargs)
    max_iter = kwargs.get("max_iter", ddp.max_iter)
    hit = res.num_iter >= max_iter
    note = f"stopped at max_iter={max_iter} (no flag, no warning)" if hit else ""
    if hit and method == "pi":
        note += "; the greedy policy never repeated (ties broken by rounding)"
    return PeerRun(np.asarray(res.v, dtype=float), int(res.num_iter), setup,
                   converged=None, note=note)


def quantecon_vi_estimate(ddp, tol: float, repeats: int = 2) -> tuple[int, float]:
    """(sweeps, seconds per sweep) QuantEcon VI will need at ``epsilon = 2 tol``.

    One pilot sweep from QuantEcon's start ``v0 = max_a R`` gives ``r0 = |T v0 - v0|``; the
    sup-norm rule stops once ``gamma**(n-1) r0 < tol (1 - gamma) / gamma``, which is what the
    differences of VI do on all our instances (they shrink like ``gamma**n``).
    """
    g = ddp.beta
    v0 = ddp.s_wise_max(ddp.R)
    Tv = np.empty_like(v0)
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        ddp.bellman_operator(v0, Tv=Tv)
        best = min(best, time.perf_counter() - t0)
    r0 = float(np.abs(Tv - v0).max())
    target = 2.0 * tol * (1 - g) / (2 * g)
    n = 1 if r0 < target else int(np.ceil(np.log(target / r0) / np.log(g))) + 1
    return n, best


# ---------------------------------------------------------------------- pymdptoolbox

def _toolbox_P(mdp):
    A = mdp.A
    if mdp.is_sparse:
        P = sp.csr_matrix(mdp.P)
        return [P[a::A] for a in range(A)]
    return np.ascontiguousarray(np.asarray(mdp.P).transpose(1, 0, 2))


def mdptoolbox_solve(mdp, method: str, tol: float | None = 1e-8) -> PeerRun:
    """pymdptoolbox ``ValueIteration`` / ``PolicyIteration``; ``tol=None``: default epsilon."""
    import hiive.mdptoolbox.mdp as tb

    P = _toolbox_P(mdp)
    R = np.array(mdp.R)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        if method == "vi":
            kw = {} if tol is None else {"epsilon": tol, "max_iter": 10**7}
            solver = tb.ValueIteration(P, R, mdp.gamma, skip_check=True, **kw)
        elif method == "pi":
            solver = tb.PolicyIteration(P, R, mdp.gamma, skip_check=True)
        else:
            raise ValueError(method)
        setup = time.perf_counter() - t0
        solver.run()
    note = ""
    if method == "pi" and solver.iter >= solver.max_iter:
        note = (f"stopped at max_iter={solver.max_iter}: the greedy policy never repeated "
                "(ties broken by rounding)")
    if method == "vi":
        note = f"max_iter overridden by _boundIter: {solver.max_iter}"
        if solver.iter >= solver.max_iter:
            note = f"stopped at its computed max_iter={solver.max_iter}"
    return PeerRun(np.asarray(solver.V, dtype=float).ravel(), int(solver.iter), setup,
                   note=note)
