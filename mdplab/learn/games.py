r"""Preference games: the beta-regularized Nash equilibrium, exploitability, the minimax winner,
and the tabular game solvers of Nash learning from human feedback (NLHF), iterates recorded.

Model
-----
A finite response set :math:`\mathcal Y = \{0, \dots, n-1\}` (one prompt, or a batch of ``X``
prompts handled at once: arrays with a leading prompt axis) and a **preference matrix**

.. math::

    P[y, y'] = \Pr(y \succ y') \in [0, 1], \qquad P + P^\top = \mathbf 1 \mathbf 1^\top
    \quad (\text{so } P[y, y] = 1/2),

general (intransitive allowed). :math:`P(\pi \succ \pi') = \pi^\top P \pi'` and
:math:`P(y \succ \pi) = (P\pi)[y]`. Bradley-Terry: :math:`P[y, y'] = \sigma(r(y) - r(y'))`.
The skew-symmetric form is :math:`S = P - P^\top = 2P - 1`.

The beta-regularized preference game (Munos et al. 2024, arXiv:2312.00886, Sec. 3-4) is the
symmetric constant-sum game with payoff

.. math::

    P_\beta(\pi \succ \pi') = \pi^\top P \pi' - \beta\,\mathrm{KL}(\pi\|\pi_{\rm ref})
        + \beta\,\mathrm{KL}(\pi'\|\pi_{\rm ref}), \qquad \beta > 0 .

It has a unique Nash equilibrium :math:`\pi^*_\beta`, symmetric, the fixed point

.. math::

    \pi^*_\beta(y) \propto \pi_{\rm ref}(y) \exp\big(P(y \succ \pi^*_\beta) / \beta\big)

(the logit quantal response equilibrium of the zero-sum game with payoff :math:`P`,
temperature :math:`\beta` and magnet :math:`\pi_{\rm ref}`; Sokota et al. 2023,
arXiv:2206.05825). **Exploitability** (closed form, a best response is a KL tilt):

.. math::

    \mathrm{Exp}_\beta(\pi) = \max_q P_\beta(q \succ \pi) - \tfrac12
      = \beta \log \sum_y \pi_{\rm ref}(y) e^{(P\pi)[y]/\beta}
        + \beta\,\mathrm{KL}(\pi\|\pi_{\rm ref}) - \tfrac12
      \;\ge\; \tfrac{\beta}{2}\,\|\pi - \pi^*_\beta\|_1^2,

and :math:`\mathrm{Exp}_0(\pi) = \max_y (P\pi)[y] - 1/2`. The duality gap of the symmetric
profile :math:`(\pi, \pi)` is :math:`2\,\mathrm{Exp}_\beta(\pi)`. The **minimax winner**
(Kreweras 1965, Fishburn 1984; SPO, Swamy et al. 2024, arXiv:2401.04056) is a maximin strategy of
the skew-symmetric game, :math:`p^* \in \arg\max_p \min_q p^\top S q` (value 0), found by
linear programming.

Solver for :math:`\pi^*_\beta` and its certified accuracy
-------------------------------------------------------------
Write :math:`g(\pi) = \log(\pi/\pi_{\rm ref}) - P\pi/\beta`; the equilibrium is the point where
:math:`g` is constant. The operator :math:`V(\pi) = \beta g(\pi)` is :math:`\beta`-strongly
monotone in :math:`\|\cdot\|_1` on the simplex (for :math:`d = \pi - \pi'`,
:math:`d^\top P d = 0` because :math:`P + P^\top = \mathbf 1\mathbf 1^\top` and
:math:`\mathbf 1^\top d = 0`, and negative entropy is 1-strongly convex in
:math:`\|\cdot\|_1`), hence, for every interior :math:`\pi`,

.. math::

    \|\pi - \pi^*_\beta\|_1 \le \tfrac12\,\mathrm{span}\big(g(\pi)\big)
    = \tfrac12 \big(\max_y g(\pi)_y - \min_y g(\pi)_y\big),

which :func:`regularized_equilibrium` reports as ``error_bound`` and drives below ``tol``
(default :math:`10^{-12}`). It runs Nash mirror-prox steps (below; a contraction) from
:math:`\pi_{\rm ref}` and finishes with damped Newton steps on :math:`g(\pi) = c\mathbf 1`,
:math:`\mathbf 1^\top \pi = 1` in log-space (the bordered Jacobian is non-singular by the same
monotonicity argument), with continuation in :math:`\beta` for small temperatures.

Algorithms (tabular, exact preference vectors :math:`P\pi`; log-space, up to normalisation)
------------------------------------------------------------------------------------------
* Nash-MD (Munos et al., arXiv:2312.00886, Sec. 5, numbering unverified):
  :math:`\pi^\mu_t \propto \pi_t^{1-\eta_t\beta}\pi_{\rm ref}^{\eta_t\beta}`,
  :math:`\pi_{t+1} \propto \pi^\mu_t\, e^{\eta_t P\pi^\mu_t}`. With :math:`\eta_t = 2/(\beta(t+2))`
  the paper states the last-iterate bound :math:`\mathrm{KL}(\pi^*_\beta\|\pi_T) \le
  8/(\beta^2 (T+1))` (as quoted by secondary sources; theorem number unverified). With a constant
  :math:`\eta`, the mixture :math:`\pi^\mu` converges to :math:`\pi^*_{\beta/(1-\eta\beta)}`.
* Nash-MP (Tiapkin et al., arXiv:2505.19731 **v1**, "Accelerating Nash learning from human
  feedback via mirror prox", numbering unverified): two proximal steps anchored at :math:`\pi_k`,
  :math:`\log\pi_{k+1/2} = [\log\pi_k + \eta\beta\log\pi_{\rm ref} + \eta P\pi_k]/(1+\eta\beta)`,
  :math:`\log\pi_{k+1} = [\log\pi_k + \eta\beta\log\pi_{\rm ref}
  + \eta P\pi_{k+1/2}]/(1+\eta\beta)`;
  two preference queries per iteration (:math:`N = 2k`). Abstract: KL to :math:`\pi^*_\beta`
  decreases at rate :math:`(1+2\beta)^{-N/2}`; the standard strongly-monotone mirror-prox
  argument gives :math:`\mathrm{KL}(\pi^*\|\pi_k) \le (1+\eta\beta)^{-k}\mathrm{KL}(\pi^*\|\pi_0)`
  for :math:`\eta \le 2` (:math:`P - 1/2` is :math:`1/2`-Lipschitz from :math:`\ell_1` to
  :math:`\ell_\infty`).
* Magnetic mirror descent (Sokota et al., arXiv:2206.05825, Sec. 3-4, numbering unverified;
  the update of ``ssokota/mmd``'s ``mmd/nfg/learners.py``):
  :math:`\pi_{t+1} \propto (\pi_t e^{\eta P\pi_t} \pi_{\rm mag}^{\eta\alpha})^{1/(1+\eta\alpha)}`
  (= one Nash-MP half-step); linear convergence to the QRE for small enough :math:`\eta`.
* INPO / online mirror descent on the regularized game (Zhang et al., arXiv:2407.00617):
  :math:`\log\pi_{t+1} = (1-\eta\beta)\log\pi_t + \eta\beta\log\pi_{\rm ref} + \eta P\pi_t`.
* SPO self-play (Swamy et al., arXiv:2401.04056): Hedge on the win-rate reward
  :math:`P\pi_t`, :math:`\pi_{t+1} \propto \pi_t e^{\eta P\pi_t}`; the uniform average
  :math:`\bar\pi_T` has :math:`\mathrm{Exp}_0(\bar\pi_T) \le \mathrm{Reg}(T)/T`
  (since :math:`\bar\pi^\top S\bar\pi = 0`), and with the tuned step
  :math:`\eta = \sqrt{8\log n / T}` Hedge's regret on payoffs in :math:`[0, 1]` is at most
  :math:`\sqrt{T\log(n)/2}` (Cesa-Bianchi & Lugosi 2006, Thm. 2.2).
* SPPO / DNO-style soft policy iteration (Wu et al. arXiv:2405.00675; Rosset et al.
  arXiv:2404.03715): the same multiplicative update with a centred reward,
  :math:`\pi_{t+1} \propto \pi_t e^{\eta (P\pi_t - 1/2)}` (the minimiser of the SPPO squared
  loss :math:`\mathbb E_{y\sim\pi_t}[(\log\pi(y)/\pi_t(y) - \eta(P(y\succ\pi_t) - 1/2))^2]` over
  the simplex, which the normalisation makes identical to Hedge).

Every algorithm returns a :class:`GameTrajectory` holding the iterates (all, or every
``record_every``-th); :meth:`GameTrajectory.to_frame` gives the tidy per-iteration table
(KL to the equilibrium, exploitability).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, fields

import numpy as np

from .._utils import as_rng, kl_divergence, user_stacklevel

__all__ = [
    "Equilibrium",
    "GameTrajectory",
    "bradley_terry",
    "check_preference_matrix",
    "condorcet_cycle",
    "duality_gap",
    "exploitability",
    "geometric_mixture",
    "kl_best_response",
    "minimax_winner",
    "mmd",
    "nash_md",
    "nash_mp",
    "omd",
    "perturbed_rps",
    "random_preference",
    "random_tournament",
    "regularized_equilibrium",
    "regularized_payoff",
    "self_play",
    "sppo",
]

#: Tolerance on ``P + P^T = 1`` and on policies summing to one.
SYM_TOL = 1e-9


# ------------------------------------------------------------------------- result types


def _short(value) -> str:
    if isinstance(value, np.ndarray):
        if value.size <= 6:
            return np.array2string(value, precision=6)
        return f"array{value.shape}"
    if isinstance(value, float):
        return f"{value:.3g}"
    return repr(value)


class _Repr:
    def __repr__(self) -> str:  # pragma: no cover - cosmetic
        body = ", ".join(
            f"{f.name}={_short(getattr(self, f.name))}" for f in fields(self) if f.repr
        )
        return f"{type(self).__name__}({body})"


@dataclass(frozen=True, repr=False)
class Equilibrium(_Repr):
    r"""A (regularized) equilibrium of a preference game.

    ``np.asarray(eq)`` is ``eq.policy``, so the result can be used where a policy is expected.

    Attributes
    ----------
    policy : ndarray
        The symmetric equilibrium strategy, ``(n,)`` or ``(X, n)`` for a batch of prompts.
    beta : float
        Temperature (0 for the minimax winner).
    exploitability : ndarray or float
        :func:`exploitability` of ``policy`` (per prompt).
    error_bound : ndarray or float
        Certified bound on :math:`\|\pi - \pi^*_\beta\|_1` (per prompt):
        :math:`\mathrm{span}(\log(\pi/\pi_{\rm ref}) - P\pi/\beta)/2` for ``beta > 0``;
        :math:`2\,\mathrm{Exp}_0` (the LP's duality gap) for the minimax winner, which need not
        be unique.
    iterations : int
        Solver iterations (mirror-prox + Newton steps, or LP iterations).
    converged : bool
        ``error_bound <= tol`` for every prompt.
    method : str
        ``"newton"`` (mirror prox + Newton) or ``"lp"``.
    message : str
        How the solver stopped.
    """

    policy: np.ndarray
    beta: float
    exploitability: np.ndarray | float
    error_bound: np.ndarray | float
    iterations: int
    converged: bool
    method: str
    message: str = ""

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.policy, dtype=dtype)


@dataclass(frozen=True, repr=False)
class GameTrajectory(_Repr):
    r"""Iterates of a game solver.

    Attributes
    ----------
    algorithm : str
        ``"nash-md"``, ``"nash-mp"``, ``"mmd"``, ``"omd"``, ``"self-play"`` or ``"sppo"``.
    policies : ndarray
        Recorded iterates ``(R, n)`` (or ``(R, X, n)`` for a batch of prompts):
        :math:`\pi_t` for ``t`` in ``steps``.
    steps : ndarray
        Iteration index of each recorded iterate (``0`` is the initial policy).
    queries : ndarray
        Preference-vector evaluations :math:`P\pi` used to reach each recorded iterate
        (Nash-MP uses two per iteration).
    average : ndarray
        Uniform average of :math:`\pi_1, \dots, \pi_T` (all iterates, not only recorded ones).
    last : ndarray
        The final iterate :math:`\pi_T`.
    beta : float
        Regularization of the game the iterates are measured against (0 for self-play).
    ref : ndarray
        Reference policy (``beta > 0``) or uniform.
    params : dict
        Step sizes and other hyper-parameters used.
    mixtures : ndarray or None
        Nash-MD only: the geometric mixtures :math:`\pi^\mu_t` at the recorded steps.
    """

    algorithm: str
    policies: np.ndarray
    steps: np.ndarray
    queries: np.ndarray
    average: np.ndarray
    last: np.ndarray
    beta: float
    ref: np.ndarray
    params: dict = field(default_factory=dict)
    mixtures: np.ndarray | None = None

    def to_frame(self, P, *, target=None, beta: float | None = None, ref=None):
        """Tidy table, one row per recorded iterate (and per prompt for a batch).

        Columns: ``step``, ``queries``, ``kl`` (:math:`\\mathrm{KL}(\\pi^*\\|\\pi_t)` to
        ``target``, by default the regularized equilibrium at ``beta`` when ``beta > 0``),
        ``exploitability`` (at ``beta``, default the trajectory's), ``exploitability_avg``
        (of the running average is not recorded; use :meth:`average`).
        """
        import pandas as pd

        beta = self.beta if beta is None else float(beta)
        ref = self.ref if ref is None else ref
        pols = self.policies
        if target is None and beta > 0:
            target = regularized_equilibrium(P, beta, ref).policy
        expl = exploitability(P, pols, beta=beta, ref=ref)
        data = {
            "algorithm": self.algorithm,
            "step": np.broadcast_to(
                self.steps.reshape((-1,) + (1,) * (pols.ndim - 2)), expl.shape
            ).ravel(),
            "queries": np.broadcast_to(
                self.queries.reshape((-1,) + (1,) * (pols.ndim - 2)), expl.shape
            ).ravel(),
            "exploitability": expl.ravel(),
        }
        if pols.ndim == 3:
            data["prompt"] = np.broadcast_to(np.arange(pols.shape[1]), expl.shape).ravel()
        if target is not None:
            tgt = np.asarray(target, dtype=float)
            data["kl"] = np.asarray(kl_divergence(tgt, pols)).ravel()
        return pd.DataFrame(data)


# ------------------------------------------------------------------------- validation


def _number(name: str, value, *, positive: bool = False, allow_zero: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} = {v!r} must be finite")
    if positive and not v > 0:
        raise ValueError(f"{name} = {v!r} must be > 0")
    if not allow_zero and v == 0:
        raise ValueError(f"{name} must be non-zero")
    if v < 0:
        raise ValueError(f"{name} = {v!r} must be >= 0")
    return v


def _real_array(name: str, x) -> np.ndarray:
    """``x`` as a C-contiguous float array (the memory layout must not change the rounding of
    the products); complex numbers and non-numbers raise ``TypeError`` naming it."""
    if np.iscomplexobj(x):
        raise TypeError(f"{name}: expected real numbers, got complex values")
    try:
        return np.ascontiguousarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected an array of numbers ({exc})") from None


def _distributions(name: str, x, *, normalized: bool) -> np.ndarray:
    """Finite non-negative weights along the last axis, each row with positive mass (and
    summing to one within ``SYM_TOL`` when ``normalized``)."""
    arr = _real_array(name, x)
    if arr.ndim == 0 or arr.shape[-1] == 0:
        raise ValueError(f"{name} has shape {arr.shape}, expected (..., n) with n >= 1")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be finite and non-negative")
    s = arr.sum(-1)
    if np.any(s <= 0):
        raise ValueError(f"{name} has a row with no mass (all zeros)")
    if normalized and np.any(np.abs(s - 1) > SYM_TOL):
        worst = float(s.ravel()[np.argmax(np.abs(s - 1).ravel())])
        raise ValueError(f"{name} sums to {worst:.12g}, expected 1 within {SYM_TOL:g}")
    return arr


def _broadcast(names: tuple, *arrays) -> None:
    """The arrays share their last axis (the responses) and broadcast on the leading ones."""
    try:
        if len({a.shape[-1:] for a in arrays}) > 1:
            raise ValueError
        np.broadcast_shapes(*(a.shape for a in arrays))
    except ValueError:
        shapes = ", ".join(f"{n} {a.shape}" for n, a in zip(names, arrays, strict=True))
        raise ValueError(f"shapes do not match: {shapes}") from None


def check_preference_matrix(P, *, name: str = "P", atol: float = SYM_TOL) -> np.ndarray:
    r"""Validate a preference matrix and return it as a float array.

    ``P`` is ``(n, n)`` or ``(X, n, n)`` (one matrix per prompt), finite, with entries in
    :math:`[0, 1]` and :math:`|P + P^\top - 1| \le` ``atol`` entrywise (so the diagonal is 1/2).

    Raises
    ------
    TypeError
        Not numeric.
    ValueError
        Wrong shape, non-finite entries, entries outside [0, 1], or ``P + P^T != 1``; the message
        names the first offending entry.
    """
    arr = _real_array(name, P)
    if arr.ndim not in (2, 3) or arr.shape[-1] != arr.shape[-2] or arr.shape[-1] == 0:
        raise ValueError(
            f"{name} has shape {arr.shape}, expected a square (n, n) matrix or a batch (X, n, n)"
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name}{list(idx)} = {arr[idx]!r}: entries must be finite")
    out = (arr < 0) | (arr > 1)
    if out.any():
        idx = tuple(int(i) for i in np.argwhere(out)[0])
        raise ValueError(
            f"{name}{list(idx)} = {arr[idx]:.6g}: preference probabilities must lie in [0, 1]"
        )
    dev = np.abs(arr + np.swapaxes(arr, -1, -2) - 1.0)
    if dev.max() > atol:
        idx = tuple(int(i) for i in np.unravel_index(np.argmax(dev), dev.shape))
        i, j = idx[-2], idx[-1]
        pre = list(idx[:-2])
        raise ValueError(
            f"{name}{pre + [i, j]} + {name}{pre + [j, i]} = "
            f"{arr[idx] + arr[tuple(pre + [j, i])]:.12g}, expected P + P^T = 1 within {atol:g} "
            "(P[y, y'] = Pr(y beats y'))"
        )
    return arr


def _policy(pi, n: int, name: str, batch: int | None = None, allow_zero=True) -> np.ndarray:
    arr = _real_array(name, pi)
    if arr.shape[-1:] != (n,) or arr.ndim == 0:
        raise ValueError(f"{name} has shape {arr.shape}, expected (..., {n}) to match P")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be finite and non-negative")
    s = arr.sum(-1)
    if np.any(np.abs(s - 1) > SYM_TOL):
        worst = float(s.ravel()[np.argmax(np.abs(s - 1).ravel())])
        raise ValueError(f"{name} sums to {worst:.12g}, expected 1 within {SYM_TOL:g}")
    if not allow_zero and np.any(arr == 0):
        raise ValueError(f"{name} must be strictly positive")
    return arr


def _reference(ref, n: int, batch_shape=(), name: str = "ref") -> np.ndarray:
    if ref is None:
        return np.full(batch_shape + (n,), 1.0 / n)
    arr = _policy(ref, n, name)
    if arr.ndim > 1 and arr.shape[:-1] != batch_shape:
        raise ValueError(f"{name} has shape {arr.shape}, expected ({n},) or {batch_shape + (n,)}")
    return np.broadcast_to(arr, batch_shape + (n,)).copy()


def _pv(P: np.ndarray, pi: np.ndarray) -> np.ndarray:
    """Preference vector ``P pi`` (``P`` ``(n,n)`` or ``(X,n,n)``; ``pi`` with leading axes)."""
    if P.ndim == 2:
        return pi @ P.T
    return np.einsum("xij,...xj->...xi", P, pi)


def _logsumexp(z: np.ndarray) -> np.ndarray:
    m = np.max(z, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return (m + np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True)))


def _softmax(z: np.ndarray) -> np.ndarray:
    m = np.max(z, axis=-1, keepdims=True)
    e = np.exp(z - m)
    return e / e.sum(-1, keepdims=True)


def _log(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(p)


# ------------------------------------------------------------------------- instances


def perturbed_rps() -> np.ndarray:
    r"""The perturbed rock-paper-scissors preference matrix (instance I1 of the catalogue).

    Payoffs :math:`A = [[0,-3,3],[3,0,-1],[-3,1,0]]` normalised to :math:`[0, 1]`,
    :math:`P = (A + 3)/6`, as in ``ssokota/mmd`` ``examples/nfg/perturbed_rps.py`` (Sokota et al.,
    arXiv:2206.05825). Minimax winner :math:`(1/7, 3/7, 3/7)`.
    """
    A = np.array([[0.0, -3.0, 3.0], [3.0, 0.0, -1.0], [-3.0, 1.0, 0.0]])
    return (A + 3.0) / 6.0


def condorcet_cycle() -> np.ndarray:
    """Three voters a>b>c, b>c>a, c>a>b: majority preferences 2/3 around a cycle (instance I2)."""
    t = 2.0 / 3.0
    return np.array([[0.5, t, 1 - t], [1 - t, 0.5, t], [t, 1 - t, 0.5]])


def bradley_terry(r) -> np.ndarray:
    r"""Bradley-Terry preference matrix :math:`P[y, y'] = \sigma(r(y) - r(y'))`.

    ``r`` is ``(n,)`` or ``(X, n)`` (one reward vector per prompt). Exactly
    :math:`P + P^\top = 1` up to rounding (computed as :math:`\tfrac12(1 + \tanh(\Delta/2))`).
    """
    arr = _real_array("r", r)
    if arr.ndim not in (1, 2) or arr.shape[-1] == 0:
        raise ValueError(f"r has shape {arr.shape}, expected (n,) or (X, n)")
    if not np.all(np.isfinite(arr)):
        raise ValueError("r must be finite")
    d = arr[..., :, None] - arr[..., None, :]
    return 0.5 * (1.0 + np.tanh(0.5 * d))


def random_tournament(n: int, rng=None) -> np.ndarray:
    """Random tournament (instance I3): ``P[i, j]`` in {0, 1} off the diagonal, diagonal 1/2."""
    rng = as_rng(rng)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n = {n!r} must be a positive integer")
    up = rng.integers(0, 2, size=(n, n)).astype(float)
    P = np.triu(up, 1)
    P = P + np.tril(1.0 - P.T, -1)
    np.fill_diagonal(P, 0.5)
    return P


def random_preference(n: int, rng=None, *, batch: int | None = None) -> np.ndarray:
    r"""Random "soft" preference matrix (instance I4): :math:`P = \tfrac12 + (U - U^\top)/2`,
    :math:`U_{ij} \sim \mathcal U(-\tfrac12, \tfrac12)`; ``batch`` gives ``(batch, n, n)``."""
    rng = as_rng(rng)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n = {n!r} must be a positive integer")
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, (int, np.integer))
                              or batch < 1):
        raise ValueError(f"batch = {batch!r} must be None or a positive integer")
    shape = (n, n) if batch is None else (int(batch), n, n)
    U = rng.uniform(-0.5, 0.5, size=shape)
    return 0.5 + (U - np.swapaxes(U, -1, -2)) / 2.0


# ------------------------------------------------------------------------- payoffs


def regularized_payoff(P, pi, pi2, beta: float = 0.0, ref=None) -> np.ndarray:
    r""":math:`P_\beta(\pi \succ \pi') = \pi^\top P\pi' - \beta\mathrm{KL}(\pi\|\pi_{\rm ref})
    + \beta\mathrm{KL}(\pi'\|\pi_{\rm ref})`."""
    P = check_preference_matrix(P)
    n = P.shape[-1]
    beta = _number("beta", beta)
    a = _policy(pi, n, "pi")
    b = _policy(pi2, n, "pi2")
    val = np.sum(a * _pv(P, b), axis=-1)
    if beta > 0:
        r = _reference(ref, n, P.shape[:-2])
        val = val - beta * kl_divergence(a, r) + beta * kl_divergence(b, r)
    return val


def exploitability(P, pi, beta: float = 0.0, ref=None) -> np.ndarray | float:
    r"""Exploitability :math:`\max_q P_\beta(q \succ \pi) - 1/2 \ge 0` (closed form).

    :math:`\beta > 0`: :math:`\beta\log\sum_y \pi_{\rm ref}(y)e^{(P\pi)[y]/\beta}
    + \beta\mathrm{KL}(\pi\|\pi_{\rm ref}) - 1/2`, zero only at :math:`\pi^*_\beta`;
    :math:`\beta = 0`: :math:`\max_y (P\pi)[y] - 1/2`, zero exactly at the minimax winners.
    The duality gap of :math:`(\pi, \pi)` is twice this number.

    ``pi`` may carry leading axes (e.g. iterates ``(T, n)``, or ``(T, X, n)`` for a batch of
    prompts); the result has those axes. Negative values of order ``1e-16 max(1, beta)`` are
    rounding (the terms of order one are multiplied by ``beta`` and cancel against 1/2).
    """
    P = check_preference_matrix(P)
    n = P.shape[-1]
    beta = _number("beta", beta)
    pi = _policy(pi, n, "pi")
    v = _pv(P, pi)
    if beta == 0:
        out = v.max(-1) - 0.5
    else:
        r = np.broadcast_to(_reference(ref, n, P.shape[:-2]), pi.shape)
        out = (
            beta * _logsumexp(_log(r) + v / beta)[..., 0] + beta * kl_divergence(pi, r) - 0.5
        )
    return float(out) if np.ndim(out) == 0 else out


def duality_gap(P, pi, beta: float = 0.0, ref=None) -> np.ndarray | float:
    r"""Duality gap of the symmetric profile :math:`(\pi, \pi)`:
    :math:`\max_q P_\beta(q\succ\pi) - \min_q P_\beta(\pi\succ q) = 2\,\mathrm{Exp}_\beta(\pi)`."""
    return 2.0 * np.asarray(exploitability(P, pi, beta, ref))[()]


def kl_best_response(g, anchor, c: float) -> np.ndarray:
    r""":math:`\arg\max_\pi \langle\pi, g\rangle - c\,\mathrm{KL}(\pi\|\mu)
    = \mathrm{softmax}(\log\mu + g/c)` (``c > 0``; last axis)."""
    c = _number("c", c, positive=True)
    g = _real_array("g", g)
    if not np.all(np.isfinite(g)):
        raise ValueError("g must be finite")
    anchor = _distributions("anchor", anchor, normalized=False)
    _broadcast(("g", "anchor"), g, anchor)
    return _softmax(_log(anchor) + g / c)


def geometric_mixture(pi, mu, w: float) -> np.ndarray:
    r"""Normalised geometric mixture :math:`\pi^{1-w}\mu^{w}` (last axis), ``0 <= w <= 1``."""
    w = _number("w", w)
    if w > 1:
        raise ValueError(f"w = {w!r} must lie in [0, 1]")
    pi = _distributions("pi", pi, normalized=False)
    mu = _distributions("mu", mu, normalized=False)
    _broadcast(("pi", "mu"), pi, mu)
    lp = (1 - w) * _log(pi) if w < 1 else 0.0
    lm = w * _log(mu) if w > 0 else 0.0
    z = lp + lm
    if not np.all(np.isfinite(np.max(z, axis=-1))):
        raise ValueError("pi and mu have disjoint supports: their geometric mixture is undefined")
    return _softmax(z)


# ------------------------------------------------------------------------- equilibrium


def _span_residual(P, logref, beta, z):
    """g = z - log ref - P e^z / beta on the support; its span per prompt."""
    pi = np.exp(z)
    g = z - logref - _pv(P, pi) / beta
    return g, g.max(-1) - g.min(-1)


def _mp_steps(P, logref, beta, z, eta, k):
    """k Nash mirror-prox steps in log space (z normalised)."""
    a = 1.0 / (1.0 + eta * beta)
    for _ in range(k):
        pi = np.exp(z)
        h = a * (z + eta * beta * logref + eta * _pv(P, pi))
        h -= _logsumexp(h)
        zn = a * (z + eta * beta * logref + eta * _pv(P, np.exp(h)))
        z = zn - _logsumexp(zn)
    return z


def _newton(P, logref, beta, z, tol, max_iter):
    """Damped Newton on z - log ref - P e^z/beta = c 1, sum e^z = 1 (batched, full support)."""
    X, n = z.shape
    eye = np.eye(n)
    it = 0
    g, span = _span_residual(P, logref, beta, z)
    for it in range(1, max_iter + 1):
        active = span > tol
        if not active.any():
            return z, span, it - 1
        pi = np.exp(z)
        c = np.sum(pi * g, -1, keepdims=True)
        J = np.zeros((X, n + 1, n + 1))
        J[:, :n, :n] = eye - P * pi[:, None, :] / beta
        J[:, :n, n] = -1.0
        J[:, n, :n] = pi
        rhs = np.concatenate([-(g - c), np.zeros((X, 1))], axis=-1)
        try:
            step = np.linalg.solve(J, rhs[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(J[0], rhs[0], rcond=None)[0][None]  # pragma: no cover
        dz = step[:, :n]
        alpha = np.ones(X)
        best_z, best_span = z.copy(), span.copy()
        for _ in range(30):
            zc = z + alpha[:, None] * dz
            zc = zc - _logsumexp(zc)
            _, sc = _span_residual(P, logref, beta, zc)
            ok = (sc < best_span) | ~active
            upd = ok & active & np.isfinite(sc)
            best_z[upd] = zc[upd]
            best_span[upd] = sc[upd]
            pending = active & ~ok
            if not pending.any():
                break
            alpha = np.where(pending, alpha / 2, alpha)
            active = pending
        if np.array_equal(best_span, span) and np.all(best_span > tol):
            return best_z, best_span, it  # no progress: stalled
        z, span = best_z, best_span
        g, span = _span_residual(P, logref, beta, z)
    return z, span, max_iter


def _solve_full_support(P, ref, beta, tol, max_iter):
    """pi*_beta for a batch with ref > 0 everywhere: (X, n, n), (X, n)."""
    logref = np.log(ref)
    iters = 0
    # continuation in beta: from a temperature where mirror prox is fast down to beta
    b0 = max(beta, 1.0)
    schedule = [b0]
    while schedule[-1] > beta:
        schedule.append(max(schedule[-1] / 4.0, beta))
    z = logref - _logsumexp(logref)
    for b in schedule:
        z = _mp_steps(P, logref, b, z, 2.0, 20)
        iters += 20
        z, span, k = _newton(P, logref, b, z, tol if b == beta else 1e-4, max_iter)
        iters += k
    span = _span_residual(P, logref, beta, z)[1]
    if np.any(span > tol):  # fall back to more mirror prox (guaranteed contraction), then Newton
        k_mp = int(min(max_iter * 50, 20_000))
        z = _mp_steps(P, logref, beta, z, 2.0, k_mp)
        iters += k_mp
        z, span, k = _newton(P, logref, beta, z, tol, max_iter)
        iters += k
    return np.exp(z), span / 2.0, iters


def regularized_equilibrium(
    P, beta: float, ref=None, *, tol: float = 1e-12, max_iter: int = 100
) -> Equilibrium:
    r"""The Nash equilibrium :math:`\pi^*_\beta` of the beta-regularized preference game.

    :math:`\pi^*_\beta(y) \propto \pi_{\rm ref}(y)\exp((P\pi^*_\beta)[y]/\beta)`, computed by
    mirror-prox steps and damped Newton steps (with continuation in ``beta``) until the
    certified bound :math:`\|\pi - \pi^*_\beta\|_1 \le \mathrm{span}(\log(\pi/\pi_{\rm ref})
    - P\pi/\beta)/2` is at most ``tol`` (see the module docstring).

    Parameters
    ----------
    P : array_like
        Preference matrix ``(n, n)``, or ``(X, n, n)`` for ``X`` prompts (solved together).
    beta : float
        Temperature, ``> 0`` (for ``beta = 0`` use :func:`minimax_winner`).
    ref : array_like, optional
        Reference policy ``(n,)`` or ``(X, n)``; ``None`` is uniform. Zeros are allowed: the
        equilibrium lives on the support of ``ref``.
    tol : float
        Target for the certified :math:`\ell_1` error (per prompt). Below the rounding floor
        :math:`16\,\epsilon\max(1, 1/\beta)` (``eps`` = machine epsilon; the equilibrium
        itself moves by :math:`\sim\epsilon/\beta` when ``P`` is rounded) the floor is used.
    max_iter : int
        Newton iterations per continuation stage.

    Returns
    -------
    Equilibrium
        ``policy``, ``error_bound``, ``exploitability``, ... ``np.asarray(result)`` is the policy.
        ``converged=False`` (with a warning) if ``tol`` was not reached.

    Examples
    --------
    >>> import numpy as np
    >>> from mdplab.learn import games
    >>> eq = games.regularized_equilibrium(games.perturbed_rps(), beta=0.1)
    >>> np.round(eq.policy, 6)
    array([0.173478, 0.486303, 0.340219])
    """
    P = check_preference_matrix(P)
    if isinstance(beta, bool) or not isinstance(beta, (int, float, np.integer, np.floating)):
        raise TypeError(f"beta: expected a real number, got {type(beta).__name__}")
    beta = float(beta)
    if not (math.isfinite(beta) and beta > 0):
        raise ValueError(
            f"beta = {beta!r} must be > 0 and finite for the regularized equilibrium "
            "(beta = 0 is the unregularized game: use minimax_winner)"
        )
    tol = _number("tol", tol, positive=True)
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter = {max_iter!r} must be a positive integer")
    single = P.ndim == 2
    Pb = P[None] if single else P
    X, n = Pb.shape[0], Pb.shape[-1]
    ref_b = _reference(ref, n, (X,))
    policy = np.zeros((X, n))
    bound = np.zeros(X)
    iters = 0
    support = ref_b > 0
    full = support.all(-1)
    if full.any():
        idx = np.flatnonzero(full)
        pol, bd, it = _solve_full_support(Pb[idx], ref_b[idx], beta, tol, max_iter)
        policy[idx], bound[idx] = pol, bd
        iters += it
    for x in np.flatnonzero(~full):  # restricted supports, one prompt at a time
        s = np.flatnonzero(support[x])
        sub = Pb[x][np.ix_(s, s)][None]
        pol, bd, it = _solve_full_support(sub, ref_b[x, s][None], beta, tol, max_iter)
        policy[x, s] = pol[0]
        bound[x] = bd[0]
        iters += it
    policy /= policy.sum(-1, keepdims=True)
    # rounding floor: P pi / beta carries an absolute error ~ eps / beta, so the certified bound
    # cannot go below that (pi* itself moves by ~ eps / beta when P moves by eps)
    floor = 16 * np.finfo(float).eps * max(1.0, 1.0 / beta)
    converged = bool(np.all(bound <= max(tol, floor)))
    expl = exploitability(Pb, policy, beta, ref_b)
    msg = (
        f"certified ||pi - pi*||_1 <= {bound.max():.3g} (tol {tol:g}, rounding floor "
        f"{floor:.2g})"
        if converged
        else f"tolerance not reached: certified l1 error {bound.max():.3g} > tol {tol:g}"
    )
    if not converged:
        warnings.warn(f"regularized_equilibrium: {msg}", RuntimeWarning,
                      stacklevel=user_stacklevel())
    if single:
        return Equilibrium(policy[0], beta, float(expl[0]), float(bound[0]), iters, converged,
                           "newton", msg)
    return Equilibrium(policy, beta, expl, bound, iters, converged, "newton", msg)


def minimax_winner(P, *, method: str = "highs") -> Equilibrium:
    r"""A minimax winner :math:`p^* \in \arg\max_p \min_q p^\top (P - P^\top) q` by LP.

    Solves :math:`\max v` s.t. :math:`(P - P^\top)^\top p \ge v\mathbf 1`, :math:`p \in \Delta`
    with :func:`scipy.optimize.linprog` (HiGHS), then polishes the vertex on its support
    (the equalising equations :math:`(Sp)_y = 0` on the support, :math:`\sum p = 1`), keeping the
    polished point only if it is feasible with a smaller exploitability. The game value is 0;
    the returned ``error_bound`` is the duality gap :math:`2\max_y (Pp)_y - 1`. The minimax
    winner need not be unique (then one optimal vertex is returned). ``P`` may be a batch
    ``(X, n, n)`` (one LP per prompt).
    """
    from scipy.optimize import linprog

    P = check_preference_matrix(P)
    if method not in ("highs", "highs-ds", "highs-ipm"):
        raise ValueError(f"method = {method!r}: expected 'highs', 'highs-ds' or 'highs-ipm'")
    if P.ndim == 3:
        res = [minimax_winner(p, method=method) for p in P]
        pol = np.stack([r.policy for r in res])
        ex = np.array([r.exploitability for r in res])
        return Equilibrium(pol, 0.0, ex, 2 * ex, sum(r.iterations for r in res),
                           all(r.converged for r in res), "lp",
                           f"{len(res)} LPs; largest duality gap {2 * ex.max():.3g}")
    n = P.shape[0]
    S = P - P.T
    # variables (p_0..p_{n-1}, v); minimise -v; constraints v - (S^T p)_j <= 0
    c = np.zeros(n + 1)
    c[-1] = -1.0
    A_ub = np.hstack([-S.T, np.ones((n, 1))])
    A_eq = np.hstack([np.ones((1, n)), np.zeros((1, 1))])
    bounds = [(0, None)] * n + [(None, None)]
    res = linprog(c, A_ub=A_ub, b_ub=np.zeros(n), A_eq=A_eq, b_eq=[1.0], bounds=bounds,
                  method=method)
    if res.status != 0:  # pragma: no cover - a bounded feasible LP always solves
        raise RuntimeError(f"minimax_winner: linprog failed ({res.message})")
    p = np.clip(res.x[:n], 0, None)
    p /= p.sum()
    expl = float(np.max(P @ p) - 0.5)
    # polish on the support
    supp = np.flatnonzero(p > 1e-9)
    M = np.vstack([S[np.ix_(supp, supp)], np.ones((1, supp.size))])
    rhs = np.zeros(supp.size + 1)
    rhs[-1] = 1.0
    q_s = np.linalg.lstsq(M, rhs, rcond=None)[0]
    if np.all(q_s >= 0):
        q = np.zeros(n)
        q[supp] = q_s
        q /= q.sum()
        e_q = float(np.max(P @ q) - 0.5)
        if e_q <= expl:
            p, expl = q, e_q
    gap = max(2 * expl, 0.0)
    return Equilibrium(p, 0.0, expl, gap, int(res.nit), True, "lp",
                       f"HiGHS LP ({res.nit} iterations), duality gap {gap:.3g}")


# ------------------------------------------------------------------------- algorithms


def _setup(P, beta, ref, pi0, iterations, record_every, beta_positive=True, names=("beta", "ref")):
    P = check_preference_matrix(P)
    n = P.shape[-1]
    batch = P.shape[:-2]
    if beta_positive:
        beta = _number(names[0], beta, positive=True)
    else:
        beta = _number(names[0], beta)
    r = _reference(ref, n, batch, names[1])
    if np.any(r == 0):
        raise ValueError(f"{names[1]} must be strictly positive for the iterative solvers")
    if pi0 is None:
        p0 = r.copy() if beta > 0 else np.full(batch + (n,), 1.0 / n)
    else:
        p0 = np.broadcast_to(_policy(pi0, n, "pi0", allow_zero=False), batch + (n,)).copy()
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)):
        raise TypeError(f"iterations: expected an int, got {type(iterations).__name__}")
    if iterations < 0:
        raise ValueError(f"iterations = {iterations} must be >= 0")
    if isinstance(record_every, bool) or not isinstance(record_every, (int, np.integer)) or (
        record_every < 1
    ):
        raise ValueError(f"record_every = {record_every!r} must be a positive integer")
    return P, beta, r, p0, int(iterations), int(record_every)


def _step_schedule(name, eta, iterations) -> Callable[[int], float]:
    if callable(eta):
        return eta
    e = _number(name, eta, positive=True)
    return lambda t: e


class _Recorder:
    def __init__(self, p0, iterations, every, queries_per_step):
        self.every = every
        self.qps = queries_per_step
        m = iterations // every + 1 + (iterations % every != 0)
        self.pols = np.empty((m,) + p0.shape)
        self.steps = np.empty(m, dtype=np.int64)
        self.k = 0
        self.total = np.zeros_like(p0)
        self.iterations = iterations
        self.add(0, p0)

    def add(self, t, pi):
        self.pols[self.k] = pi
        self.steps[self.k] = t
        self.k += 1

    def step(self, t, pi):
        self.total += pi
        if t % self.every == 0 or t == self.iterations:
            self.add(t, pi)

    def result(self, algorithm, last, beta, ref, params, mixtures=None):
        T = self.iterations
        avg = self.total / T if T > 0 else self.pols[0].copy()
        steps = self.steps[: self.k]
        return GameTrajectory(algorithm, self.pols[: self.k].copy(), steps.copy(),
                              steps * self.qps, avg, last.copy(), beta, ref, params, mixtures)


def nash_md(
    P, beta: float, ref=None, *, eta="theory", iterations: int = 1000, pi0=None,
    record_every: int = 1,
) -> GameTrajectory:
    r"""Nash mirror descent (Munos et al., arXiv:2312.00886), exact tabular version.

    :math:`\pi^\mu_t \propto \pi_t^{1-\eta_t\beta}\pi_{\rm ref}^{\eta_t\beta}`,
    :math:`\pi_{t+1} \propto \pi^\mu_t e^{\eta_t P\pi^\mu_t}`. ``eta="theory"`` is
    :math:`\eta_t = 2/(\beta(t+2))` (``t = 0, 1, ...``), for which
    :math:`\mathrm{KL}(\pi^*_\beta\|\pi_T) \le 8/(\beta^2(T+1))`; a number is a constant step
    (``eta * beta <= 1`` required), a callable ``t -> eta_t`` any schedule. ``pi0`` defaults to
    ``ref``. The mixtures :math:`\pi^\mu_t` are recorded in ``mixtures``.
    """
    P, beta, r, p0, T, every = _setup(P, beta, ref, pi0, iterations, record_every)
    eta_fn = (lambda t: 2.0 / (beta * (t + 2))) if eta == "theory" else _step_schedule(
        "eta", eta, T)
    logr = np.log(r)
    z = np.log(p0)
    rec = _Recorder(p0, T, every, 1)
    mix_rec = np.empty_like(rec.pols)
    mix_rec[0] = p0
    mix_k = 1
    pi = p0
    for t in range(T):
        e = float(eta_fn(t))
        w = e * beta
        if not 0 < w <= 1 + 1e-12:
            raise ValueError(f"eta_{t} * beta = {w:.6g}: Nash-MD needs 0 < eta * beta <= 1")
        zm = (1 - w) * z + w * logr
        zm -= _logsumexp(zm)
        mu = np.exp(zm)
        z = zm + e * _pv(P, mu)
        z -= _logsumexp(z)
        pi = np.exp(z)
        before = rec.k
        rec.step(t + 1, pi)
        if rec.k > before:
            mix_rec[mix_k] = mu
            mix_k += 1
    return rec.result("nash-md", pi, beta, r, {"eta": eta if not callable(eta) else "callable"},
                      mix_rec[:mix_k].copy())


def nash_mp(
    P, beta: float, ref=None, *, eta: float = 2.0, iterations: int = 1000, pi0=None,
    record_every: int = 1,
) -> GameTrajectory:
    r"""Nash mirror prox (Tiapkin et al., arXiv:2505.19731 v1), exact tabular version.

    Two proximal steps anchored at :math:`\pi_k` per iteration (two preference queries):
    :math:`\log\pi_{k+1/2} = [\log\pi_k + \eta\beta\log\pi_{\rm ref} + \eta P\pi_k]/(1+\eta\beta)`,
    :math:`\log\pi_{k+1} = [\log\pi_k + \eta\beta\log\pi_{\rm ref} + \eta P\pi_{k+1/2}]
    /(1+\eta\beta)`. With :math:`\eta = 2` the KL to :math:`\pi^*_\beta` contracts by
    :math:`(1+2\beta)^{-1}` per iteration, i.e. :math:`(1+2\beta)^{-N/2}` in the number of
    queries ``N``. ``pi0`` defaults to ``ref``.
    """
    P, beta, r, p0, T, every = _setup(P, beta, ref, pi0, iterations, record_every)
    eta = _number("eta", eta, positive=True)
    logr = np.log(r)
    a = 1.0 / (1.0 + eta * beta)
    z = np.log(p0)
    rec = _Recorder(p0, T, every, 2)
    pi = p0
    for t in range(T):
        base = z + eta * beta * logr
        h = a * (base + eta * _pv(P, pi))
        h -= _logsumexp(h)
        z = a * (base + eta * _pv(P, np.exp(h)))
        z -= _logsumexp(z)
        pi = np.exp(z)
        rec.step(t + 1, pi)
    return rec.result("nash-mp", pi, beta, r, {"eta": eta})


def mmd(
    P, alpha: float, magnet=None, *, eta: float | None = None, iterations: int = 1000, pi0=None,
    record_every: int = 1,
) -> GameTrajectory:
    r"""Magnetic mirror descent (Sokota et al., arXiv:2206.05825) in symmetric self-play.

    :math:`\pi_{t+1} \propto (\pi_t\,e^{\eta P\pi_t}\,\mathrm{mag}^{\eta\alpha})^{1/(1+\eta\alpha)}`
    -- the update of ``ssokota/mmd`` (``mmd/nfg/learners.py``) with a fixed magnet; its fixed
    point is the QRE = :math:`\pi^*_\alpha` with :math:`\pi_{\rm ref}` = ``magnet``. ``eta``
    defaults to ``alpha`` (the repository's perturbed-RPS setting). ``pi0`` defaults to uniform.
    """
    P, alpha, r, _, T, every = _setup(P, alpha, magnet, None, iterations, record_every,
                                      names=("alpha", "magnet"))
    n = P.shape[-1]
    p0 = (np.full(P.shape[:-2] + (n,), 1.0 / n) if pi0 is None
          else np.broadcast_to(_policy(pi0, n, "pi0", allow_zero=False),
                               P.shape[:-2] + (n,)).copy())
    eta = alpha if eta is None else _number("eta", eta, positive=True)
    logr = np.log(r)
    a = 1.0 / (1.0 + eta * alpha)
    z = np.log(p0)
    rec = _Recorder(p0, T, every, 1)
    pi = p0
    for t in range(T):
        z = a * (z + eta * _pv(P, pi) + eta * alpha * logr)
        z -= _logsumexp(z)
        pi = np.exp(z)
        rec.step(t + 1, pi)
    return rec.result("mmd", pi, alpha, r, {"eta": eta, "alpha": alpha})


def omd(
    P, beta: float, ref=None, *, eta: float, iterations: int = 1000, pi0=None,
    record_every: int = 1,
) -> GameTrajectory:
    r"""Online mirror descent on the regularized game -- the INPO iteration (Zhang et al.,
    arXiv:2407.00617): :math:`\log\pi_{t+1} = (1-\eta\beta)\log\pi_t + \eta\beta\log\pi_{\rm ref}
    + \eta P\pi_t` (``eta * beta < 1``). Identical to :func:`mmd` with step
    :math:`\eta/(1-\eta\beta)`."""
    P, beta, r, p0, T, every = _setup(P, beta, ref, pi0, iterations, record_every)
    eta = _number("eta", eta, positive=True)
    if not eta * beta < 1:
        raise ValueError(f"eta * beta = {eta * beta:.6g} must be < 1 for OMD/INPO")
    logr = np.log(r)
    z = np.log(p0)
    rec = _Recorder(p0, T, every, 1)
    pi = p0
    for t in range(T):
        z = (1 - eta * beta) * z + eta * beta * logr + eta * _pv(P, pi)
        z -= _logsumexp(z)
        pi = np.exp(z)
        rec.step(t + 1, pi)
    return rec.result("omd", pi, beta, r, {"eta": eta})


def self_play(
    P, *, eta: float | str = "tuned", iterations: int = 1000, pi0=None, record_every: int = 1,
    name: str = "self-play",
) -> GameTrajectory:
    r"""SPO self-play (Swamy et al., arXiv:2401.04056) with Hedge on the win-rate reward.

    :math:`\pi_{t+1} \propto \pi_t e^{\eta P\pi_t}`; ``eta="tuned"`` is
    :math:`\sqrt{8\log n / T}` (regret :math:`\le \sqrt{T\log(n)/2}` for payoffs in [0, 1]).
    The average iterate approaches a minimax winner: :math:`\mathrm{Exp}_0(\bar\pi_T) \le
    \mathrm{Reg}(T)/T`. ``pi0`` defaults to uniform.
    """
    P, _, r, p0, T, every = _setup(P, 0.0, None, pi0, iterations, record_every,
                                   beta_positive=False)
    n = P.shape[-1]
    if eta == "tuned":
        eta = math.sqrt(8 * math.log(max(n, 2)) / max(T, 1))
    eta = _number("eta", eta, positive=True)
    z = np.log(p0)
    rec = _Recorder(p0, T, every, 1)
    pi = p0
    for t in range(T):
        z = z + eta * _pv(P, pi)
        z -= _logsumexp(z)
        pi = np.exp(z)
        rec.step(t + 1, pi)
    return rec.result(name, pi, 0.0, r, {"eta": eta})


def sppo(P, *, eta: float, iterations: int = 1000, pi0=None,
         record_every: int = 1) -> GameTrajectory:
    r"""SPPO / DNO-style iteration: the exact minimiser of the SPPO squared loss,
    :math:`\pi_{t+1} \propto \pi_t e^{\eta (P\pi_t - 1/2)}` (same iterates as :func:`self_play`
    with the same step; the centring only matters for the sampled loss)."""
    return self_play(P, eta=eta, iterations=iterations, pi0=pi0, record_every=record_every,
                     name="sppo")
