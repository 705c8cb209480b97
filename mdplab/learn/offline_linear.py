r"""Offline RL on linear MDPs: linear PEVI (pessimistic least-squares value iteration) and a
linear PRDC, from an :class:`~mdplab.learn.offline_data.OfflineDataset` and known features.

Setting: the data are :math:`N` trajectories of a finite-horizon MDP (steps
:math:`h = 0, \dots, H-1`, rewards in [0, 1]) and the learner knows a feature map
:math:`\phi_h(s,a) \in \mathbb R^d` -- the layout of :class:`mdplab.LinearMDP` (``phi``
``(S, A, d)``, the same at every step), or per step ``(H, S, A, d)``. On a linear MDP
(:mod:`mdplab.linear_mdp`) every Bellman backup :math:`r_h + P_h V` is linear in
:math:`\phi_h`, so ridge regression on the one-step targets estimates it.

Linear PEVI
-----------
Jin, Yang & Wang (2021), *Is pessimism provably efficient for offline RL?*, ICML,
arXiv:2012.15085, Algorithm 2 (PEVI for the linear MDP) and its suboptimality bound
(Sec. 4.2; theorem numbering unverified). With :math:`\hat V_H = 0`, for
:math:`h = H-1, \dots, 0`, writing :math:`\phi^\tau_h = \phi_h(s^\tau_h, a^\tau_h)`,

.. math::

    \Lambda_h = \sum_{\tau=1}^N \phi^\tau_h \phi^{\tau\top}_h + \lambda I, \qquad
    \hat w_h = \Lambda_h^{-1} \sum_{\tau=1}^N \phi^\tau_h \big(r^\tau_h
      + \hat V_{h+1}(s^\tau_{h+1})\big),

.. math::

    \Gamma_h(s,a) = \beta \sqrt{\phi_h(s,a)^\top \Lambda_h^{-1} \phi_h(s,a)}, \qquad
    \hat Q_h(s,a) = \mathrm{clip}_{[0,\,H-h]}\big(\phi_h(s,a)^\top \hat w_h - \Gamma_h(s,a)\big),

:math:`\hat\pi_h(s) = \arg\max_a \hat Q_h(s,a)` and :math:`\hat V_h(s) = \max_a \hat Q_h(s,a)`
(the paper is 1-indexed and clips at :math:`H - h + 1`; the same range). The paper's
coefficient is :math:`\beta = c\, d H \sqrt{\zeta}`, :math:`\zeta = \log(2dHN/\xi)`, with an
absolute constant :math:`c` it does not make explicit (``scale``, default 1) and failure
probability :math:`\xi` (``delta``); then :math:`\Gamma` is a :math:`\xi`-uncertainty quantifier
and, with probability :math:`1 - \xi`,
:math:`V^* - V^{\hat\pi} \le 2\sum_h \mathbb E_{\pi^*}[\Gamma_h(s_h,a_h)]`
(:func:`linear_pevi_bound`) and :math:`\hat V_h \le V^{\hat\pi}_h`.

Tabular sanity check: with one-hot features :math:`\phi(s,a) = e_{sA+a}`
(:func:`mdplab.envs.linear.tabular_as_linear`), :math:`\Lambda_h` is diagonal with entries
:math:`n_h(s,a) + \lambda`, so :math:`\phi^\top\hat w_h = \sum (r + \hat V_{h+1}(s'))/(n +
\lambda)` (the empirical backup as :math:`\lambda \to 0` on visited pairs, 0 on unvisited ones)
and :math:`\Gamma_h = \beta/\sqrt{n_h(s,a) + \lambda}`.

Linear PRDC
-----------
Ran, Li, Zhang, Zhang & Yu (2023), *Policy regularization with dataset constraint for offline
RL*, ICML, arXiv:2306.06569 (method and performance-gap analysis in Sec. 4; numbering
unverified). The critic is the same least-squares Q-iteration without penalty; the actor is
pulled toward the nearest data pair of the embedding :math:`x(s,a) = (\beta_{\rm prdc}\,e(s),
g(a))`, exactly as the tabular :func:`mdplab.learn.offline.prdc` (the nearest-neighbour search
and the constrained greedy step are the tabular module's helpers):

.. math::

    \hat Q_h(s,a) = \mathrm{clip}_{[0,\,H-h]}\big(\phi_h(s,a)^\top \hat w_h\big), \qquad
    \pi_h(s) = \arg\max_a \big[\hat Q_h(s,a) - \kappa_h\, c_h(s,a)^2\big], \qquad
    \hat V_h(s) = \hat Q_h(s, \pi_h(s)),

with :math:`\hat w_h` the ridge solution on the targets
:math:`r^\tau_h + \hat V_{h+1}(s^\tau_{h+1})`, :math:`c_h(s,a)` the distance to the nearest
pair seen at step :math:`h`, and
:math:`\kappa_h = \overline{|\hat Q_h|}/\alpha`. Unlike the tabular version, the critic
generalises through :math:`\phi`, so no Q-value is copied from a neighbour.

Performance-gap bound (our derivation for the linear case, :func:`linear_prdc_bound`). On a
linear MDP, :math:`B_h \hat V_{h+1} := r_h + P_h \hat V_{h+1} = \phi_h^\top w^\star_h` with
:math:`w^\star_h = \theta_h + \sum_{s'} \mu_h(s') \hat V_{h+1}(s')`. The Bellman residual
:math:`e_h = \hat Q_h - B_h\hat V_{h+1}` satisfies (clipping to :math:`[0, H-h] \ni B_h\hat
V_{h+1}` only shrinks it, and :math:`\phi^\top(\hat w_h - w^\star_h)` is linear)

.. math::

    |e_h(s,a)| \le \bar e_h(s,a) := |e^{\rm lin}_h(\nu)| + \|\hat w_h - w^\star_h\|_2\,
      \|\phi_h(s,a) - \phi_h(\nu)\|_2, \qquad \nu = \nu_h(s,a),

with :math:`e^{\rm lin}_h = \phi_h^\top(\hat w_h - w^\star_h)`: the error at the nearest data
pair plus a Lipschitz term linear in the distance to the data. Then, exactly as in the tabular
derivation (telescoping and the argmax property of :math:`\pi`), with
:math:`\Delta_H = 0`, :math:`\Delta_h(s) = \bar e_h(s,\pi_h(s)) + P_h(\cdot|s,\pi_h(s))^\top
\Delta_{h+1}`,

.. math::

    |\hat V_h - V^\pi_h| \le \Delta_h, \qquad
    V^{\pi'}_0 - V^\pi_0 \le \sum_h \mathbb E_{d^{\pi'}_h}\big[\kappa_h(c_h(s,\pi'(s))^2
      - c_h(s,\pi(s))^2) + \bar e_h(s,\pi'(s))\big] + \sum_h \mathbb E_{d^{\pi}_h}
      \big[\bar e_h(s,\pi(s))\big]

for every deterministic comparator :math:`\pi'` (default :math:`\pi^*`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..linear_mdp import LinearMDP
from ..mdp import TabularMDP
from .offline import (
    OfflineResult,
    _check_dataset_arg,
    _check_rewards01,
    _embedding_keys,
    _greedy_ties_to_data,
    _nearest,
    _positive,
    _prdc_beta,
    _prdc_select,
)
from .offline_data import OfflineDataset, _full_policy

__all__ = [
    "LinearPRDCBound",
    "linear_pevi",
    "linear_pevi_beta",
    "linear_pevi_bound",
    "linear_prdc",
    "linear_prdc_bound",
    "ridge_backup",
]


# --------------------------------------------------------------------------- checks
def _features(features, dataset: OfflineDataset) -> np.ndarray:
    r"""Validated features of shape ``(H, S, A, d)`` for ``dataset`` (a :class:`LinearMDP`
    gives its ``phi``; an ``(S, A, d)`` array is used at every step)."""
    if isinstance(features, LinearMDP):
        features = features.phi
    try:
        phi = np.array(features, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"features: expected a LinearMDP or a numeric array (S, A, d) or "
                        f"(H, S, A, d) ({exc})") from None
    H, S, A = dataset.H, dataset.S, dataset.A
    if phi.ndim in (3, 4) and not np.all(np.isfinite(phi)):  # index in the caller's array
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(phi))[0])
        raise ValueError(f"features[{', '.join(map(str, idx))}] is {phi[idx]}, expected a "
                         "finite number")
    if phi.ndim == 3:
        if phi.shape[:2] != (S, A) or phi.shape[2] < 1:
            raise ValueError(f"features have shape {phi.shape}, expected (S, A, d) with S = {S}, "
                             f"A = {A} (from the data set) and d >= 1")
        phi = np.broadcast_to(phi, (H,) + phi.shape)
    elif phi.ndim == 4:
        if phi.shape[:3] != (H, S, A) or phi.shape[3] < 1:
            raise ValueError(f"features have shape {phi.shape}, expected (H, S, A, d) with "
                             f"H = {H}, S = {S}, A = {A} (from the data set) and d >= 1")
    else:
        raise ValueError(f"features have shape {phi.shape}, expected (S, A, d) or (H, S, A, d)")
    return phi


def _lam(lam) -> float:
    lam = _positive("lam", lam)
    return lam


# --------------------------------------------------------------------------- regression
def ridge_backup(dataset: OfflineDataset, features, h: int, V_next, *, lam: float = 1.0):
    r"""Ridge regression of the one-step targets at step ``h`` (Jin, Yang & Wang 2021,
    arXiv:2012.15085, Algorithm 2, line "least squares"):

    .. math:: \Lambda_h = \sum_\tau \phi^\tau_h\phi^{\tau\top}_h + \lambda I, \qquad
              \hat w_h = \Lambda_h^{-1}\sum_\tau \phi^\tau_h\,(r^\tau_h + V_{h+1}(s^\tau_{h+1})).

    Parameters
    ----------
    dataset : OfflineDataset
    features : LinearMDP or array (S, A, d) or (H, S, A, d)
    h : int
        Step, ``0 <= h < H``.
    V_next : array (S,)
        :math:`V_{h+1}`.
    lam : float
        Ridge parameter :math:`\lambda > 0`.

    Returns
    -------
    w : (d,), Lambda : (d, d)
    """
    _check_dataset_arg(dataset)
    phi = _features(features, dataset)
    lam = _lam(lam)
    if isinstance(h, bool) or not isinstance(h, (int, np.integer)) or not 0 <= h < dataset.H:
        raise ValueError(f"h = {h!r}: expected an int in [0, {dataset.H})")
    V_next = np.asarray(V_next, dtype=np.float64)
    if V_next.shape != (dataset.S,) or not np.all(np.isfinite(V_next)):
        raise ValueError(f"V_next must be a finite array of shape ({dataset.S},), got shape "
                         f"{V_next.shape}")
    return _ridge(dataset, phi, int(h), V_next, lam)


def _ridge(dataset, phi, h, V_next, lam):
    X = phi[h][dataset.states[:, h], dataset.actions[:, h]]  # (N, d)
    y = dataset.rewards[:, h] + V_next[dataset.states[:, h + 1]]
    d = X.shape[1]
    Lam = X.T @ X + lam * np.eye(d)
    w = np.linalg.solve(Lam, X.T @ y)
    return w, Lam


def _elliptic(phi_h: np.ndarray, Lam: np.ndarray) -> np.ndarray:
    r""":math:`\sqrt{\phi(s,a)^\top\Lambda^{-1}\phi(s,a)}` for every pair, ``(S, A)``."""
    S, A, d = phi_h.shape
    F = phi_h.reshape(S * A, d)
    sol = np.linalg.solve(Lam, F.T)  # (d, SA)
    quad = np.einsum("xi,ix->x", F, sol)
    return np.sqrt(np.maximum(quad, 0.0)).reshape(S, A)


# --------------------------------------------------------------------------- linear PEVI
def linear_pevi_beta(d: int, H: int, N: int, *, delta: float = 0.05,
                     scale: float = 1.0) -> float:
    r"""Jin, Yang & Wang's (2021, arXiv:2012.15085, Sec. 4.2; numbering unverified) coefficient
    :math:`\beta = c\, dH\sqrt{\zeta}`, :math:`\zeta = \log(2dHN/\delta)`, :math:`c` = ``scale``."""
    for name, v in (("d", d), ("H", H), ("N", N)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} = {v!r}: expected an int >= 1")
    delta = _positive("delta", delta)
    if delta >= 1:
        raise ValueError(f"delta = {delta!r} must lie in (0, 1)")
    scale = _positive("scale", scale, allow_zero=True)
    return float(scale * d * H * np.sqrt(np.log(2.0 * d * H * N / delta)))


def linear_pevi(dataset: OfflineDataset, features, *, beta: float | None = None,
                scale: float = 1.0, lam: float = 1.0, delta: float = 0.05) -> OfflineResult:
    r"""Linear PEVI (Jin, Yang & Wang 2021, arXiv:2012.15085, Algorithm 2; module docstring).

    Parameters
    ----------
    dataset : OfflineDataset
        Rewards must lie in [0, 1].
    features : LinearMDP or array (S, A, d) or (H, S, A, d)
        :math:`\phi_h(s,a)`; finite.
    beta : float, optional
        The penalty coefficient :math:`\beta \ge 0` (``0``: no pessimism, the plain
        least-squares value iteration); default :func:`linear_pevi_beta`.
    scale : float
        :math:`c` of the default :math:`\beta` (ignored when ``beta`` is given).
    lam : float
        Ridge parameter :math:`\lambda > 0`.
    delta : float
        Failure probability :math:`\xi` in :math:`\zeta`.

    Returns
    -------
    OfflineResult
        ``method = "linear-pevi"``; ``penalty`` holds :math:`\Gamma_h(s,a)`; ``params`` holds
        ``beta``, ``lam``, ``delta``, ``scale`` and ``w`` (``(H, d)``, the ridge solutions).

    Examples
    --------
    >>> import mdplab as ml
    >>> from mdplab.envs.linear import random_linear_mdp
    >>> from mdplab.learn import offline
    >>> lin = random_linear_mdp(8, 3, 3, horizon=3, rng=0)
    >>> mdp = lin.to_tabular()
    >>> data = offline.sample_dataset(mdp, offline.behavior_policy(mdp), 500, rng=1)
    >>> res = linear_pevi(data, lin, scale=0.1)
    >>> bool(res.estimate(mdp.mu) <= ml.evaluate(mdp, res.policy).J)
    True
    """
    _check_dataset_arg(dataset)
    _check_rewards01(dataset, "linear PEVI")
    phi = _features(features, dataset)
    lam = _lam(lam)
    H, S, A, d = dataset.H, dataset.S, dataset.A, phi.shape[-1]
    if beta is None:
        beta = linear_pevi_beta(d, H, dataset.N, delta=delta, scale=scale)
    else:
        beta = _positive("beta", beta, allow_zero=True)
        delta = _positive("delta", delta)
        if delta >= 1:
            raise ValueError(f"delta = {delta!r} must lie in (0, 1)")
    counts = dataset.counts()
    V = np.zeros((H + 1, S))
    Q = np.empty((H, S, A))
    pol = np.empty((H, S, A))
    pen = np.empty((H, S, A))
    W = np.empty((H, d))
    for h in range(H - 1, -1, -1):
        w, Lam = _ridge(dataset, phi, h, V[h + 1], lam)
        pen[h] = beta * _elliptic(phi[h], Lam)
        Q[h] = np.clip(phi[h] @ w - pen[h], 0.0, float(H - h))
        pol[h] = _greedy_ties_to_data(Q[h], counts[h])
        V[h] = Q[h].max(axis=1)
        W[h] = w
    return OfflineResult(pol, Q, V, pen, counts, "linear-pevi",
                         {"beta": float(beta), "lam": lam, "delta": delta, "scale": scale,
                          "w": W})


def _tabular(mdp) -> TabularMDP:
    if isinstance(mdp, LinearMDP):
        return mdp.to_tabular()
    if not isinstance(mdp, TabularMDP):
        raise TypeError(f"mdp: expected a LinearMDP or a TabularMDP, got {type(mdp).__name__}")
    if mdp.discounted:
        raise ValueError(f"mdp is discounted (gamma={mdp.gamma}); need a finite horizon")
    return mdp


def linear_pevi_bound(mdp, result: OfflineResult, policy=None) -> float:
    r"""Data-dependent bound :math:`2\sum_h \mathbb E_{\pi}[\Gamma_h(s_h,a_h)]` on
    :math:`J(\pi) - J(\hat\pi)` (Jin, Yang & Wang 2021, arXiv:2012.15085, Sec. 4; numbering
    unverified), comparator ``policy`` (default :math:`\pi^*`), exact via
    :func:`mdplab.occupancy`; ``mdp`` is a :class:`LinearMDP` or its tabular form."""
    from ..solvers import occupancy, solve

    tab = _tabular(mdp)
    if not isinstance(result, OfflineResult) or result.method != "linear-pevi":
        raise TypeError("result: expected the OfflineResult of linear_pevi()")
    if result.penalty.shape != (tab.H, tab.S, tab.A):
        raise ValueError(f"result is for (H, S, A) = {result.penalty.shape}, the mdp has "
                         f"{(tab.H, tab.S, tab.A)}")
    pi = _full_policy(tab, solve(tab).policy if policy is None else policy, "policy")
    return float(2.0 * np.sum(occupancy(tab, pi) * result.penalty))


# --------------------------------------------------------------------------- linear PRDC
def linear_prdc(dataset: OfflineDataset, features, state_embedding, *, beta: float = 2.0,
                alpha: float = 2.5, lam: float = 1.0, action_embedding=None) -> OfflineResult:
    r"""Linear PRDC (module docstring; Ran et al. 2023, arXiv:2306.06569): ridge-regression
    critic, actor constrained toward the nearest data pair in :math:`(\beta e(s), g(a))`.

    Parameters
    ----------
    dataset : OfflineDataset
        Rewards must lie in [0, 1].
    features : LinearMDP or array (S, A, d) or (H, S, A, d)
    state_embedding : array (S, m)
        :math:`e(s)`.
    beta : float
        Weight of the state part of the embedding (``inf``: support constraint).
    alpha : float
        PRDC's :math:`\alpha` (larger: weaker constraint).
    lam : float
        Ridge parameter :math:`\lambda > 0`.
    action_embedding : array (A, p), optional
        :math:`g(a)`; one-hot by default.

    Returns
    -------
    OfflineResult
        ``method = "linear-prdc"``; ``penalty`` holds the constraint distances
        :math:`c_h(s,a)`; ``params`` holds ``beta``, ``alpha``, ``lam``, ``nearest``
        (``(H, S, A)`` flat index ``s*A + a`` of the nearest data pair), ``kappa`` (``(H,)``)
        and ``w`` (``(H, d)``).
    """
    _check_dataset_arg(dataset)
    _check_rewards01(dataset, "linear PRDC")
    phi = _features(features, dataset)
    beta = _prdc_beta(beta)
    alpha = _positive("alpha", alpha)
    lam = _lam(lam)
    H, S, A, d = dataset.H, dataset.S, dataset.A, phi.shape[-1]
    e, g = _embedding_keys(state_embedding, S, A, beta, action_embedding)
    counts = dataset.counts()
    V = np.zeros((H + 1, S))
    Q = np.empty((H, S, A))
    pol = np.empty((H, S, A))
    dist = np.empty((H, S, A))
    nearest = np.empty((H, S, A), dtype=np.int64)
    kappa = np.empty(H)
    W = np.empty((H, d))
    for h in range(H - 1, -1, -1):
        w, _ = _ridge(dataset, phi, h, V[h + 1], lam)
        q = np.clip(phi[h] @ w, 0.0, float(H - h))
        idx, dd = _nearest(e, g, beta, counts[h] > 0)
        dd = dd.reshape(S, A)
        a_star, kap = _prdc_select(q, dd, alpha)
        pol[h] = np.eye(A)[a_star]
        Q[h], dist[h], nearest[h], kappa[h], W[h] = q, dd, idx.reshape(S, A), kap, w
        V[h] = q[np.arange(S), a_star]
    return OfflineResult(pol, Q, V, dist, counts, "linear-prdc",
                         {"beta": beta, "alpha": alpha, "lam": lam, "nearest": nearest,
                          "kappa": kappa, "w": W})


@dataclass(frozen=True)
class LinearPRDCBound:
    r"""The linear PRDC bounds of :func:`linear_prdc_bound` (values :math:`\mu`-weighted).

    Attributes
    ----------
    estimation_gap : float
        :math:`|\mu^\top(\hat V_0 - V^\pi_0)|`.
    estimation_bound : float
        :math:`\mu^\top\Delta_0`.
    suboptimality : float
        :math:`J(\pi') - J(\pi)`.
    suboptimality_bound : float
    weight_error : (H,)
        :math:`\|\hat w_h - w^\star_h\|_2` (the Lipschitz constant of the residual in
        :math:`\phi`).
    constraint_distance : (H,)
        :math:`\max_s c_h(s, \pi_h(s))`.
    data_error : (H,)
        :math:`\max |e^{\rm lin}_h|` over the pairs seen at step :math:`h`.
    """

    estimation_gap: float
    estimation_bound: float
    suboptimality: float
    suboptimality_bound: float
    weight_error: np.ndarray
    constraint_distance: np.ndarray
    data_error: np.ndarray


def linear_prdc_bound(mdp: LinearMDP, dataset: OfflineDataset, result: OfflineResult,
                      features=None, *, comparator=None) -> LinearPRDCBound:
    r"""Evaluate the linear PRDC estimation-gap and performance-gap bounds (module docstring)
    exactly; needs the true linear model (:math:`\theta_h`, :math:`\mu_h`) for
    :math:`w^\star_h`. ``features`` defaults to ``mdp.phi`` (the features the learner used
    must be the model's for :math:`B_h\hat V_{h+1} = \phi_h^\top w^\star_h` to hold)."""
    from ..solvers import evaluate, occupancy, solve

    if not isinstance(mdp, LinearMDP):
        raise TypeError(f"mdp: expected a LinearMDP, got {type(mdp).__name__}")
    _check_dataset_arg(dataset)
    if not isinstance(result, OfflineResult) or result.method != "linear-prdc":
        raise TypeError("result: expected the OfflineResult of linear_prdc()")
    if (dataset.S, dataset.A, dataset.H) != (mdp.S, mdp.A, mdp.H):
        raise ValueError(f"dataset has S={dataset.S}, A={dataset.A}, H={dataset.H} but mdp has "
                         f"S={mdp.S}, A={mdp.A}, H={mdp.H}")
    phi = _features(mdp.phi if features is None else features, dataset)
    if not np.allclose(phi, np.broadcast_to(mdp.phi, phi.shape), rtol=0, atol=1e-12):
        raise ValueError("features differ from mdp.phi: the bound needs the model's features")
    tab = mdp.to_tabular()
    H, S, A = mdp.H, mdp.S, mdp.A
    theta = np.broadcast_to(np.atleast_2d(mdp.theta), (H, mdp.d))
    mu_feat = np.broadcast_to(mdp.mu_feat, (H, mdp.d, S))
    P = np.broadcast_to(mdp.P, (H, S, A, S))
    pi = result.policy
    a_pi = pi.argmax(-1)
    W = result.params["w"]
    nearest = result.params["nearest"]
    c = result.penalty
    kappa = result.params["kappa"]
    counts = dataset.counts()
    Delta = np.zeros((H + 1, S))
    ebar = np.empty((H, S, A))
    werr = np.empty(H)
    derr = np.zeros(H)
    eps = np.empty(H)
    for h in range(H - 1, -1, -1):
        w_star = theta[h] + mu_feat[h] @ result.V[h + 1]
        diff = W[h] - w_star
        werr[h] = float(np.linalg.norm(diff))
        F = phi[h].reshape(S * A, -1)
        e_lin = F @ diff  # (SA,)
        nu = nearest[h].ravel()
        dphi = np.linalg.norm(F - F[nu], axis=1)
        ebar[h] = (np.abs(e_lin[nu]) + werr[h] * dphi).reshape(S, A)
        seen = (counts[h] > 0).ravel()
        derr[h] = float(np.abs(e_lin[seen]).max()) if seen.any() else 0.0
        Delta[h] = ebar[h][np.arange(S), a_pi[h]] + (
            P[h][np.arange(S), a_pi[h]] @ Delta[h + 1])
        eps[h] = float(c[h][np.arange(S), a_pi[h]].max())
    comp = solve(tab).policy if comparator is None else comparator
    comp = _full_policy(tab, comp, "comparator")
    d_comp = occupancy(tab, comp)
    d_pi = occupancy(tab, pi)
    c_pi = np.take_along_axis(c, a_pi[..., None], axis=-1)
    with np.errstate(invalid="ignore"):
        # a state without data under beta = inf: pi is the unconstrained argmax there, so the
        # constraint term is 0 (it would be inf - inf)
        con = np.where(np.isinf(c_pi), 0.0, kappa[:, None, None] * (c**2 - c_pi**2))
        terms = con + ebar
        sub_bound = float(np.sum(np.where(d_comp > 0, d_comp * terms, 0.0))
                          + np.sum(np.where(d_pi > 0, d_pi * ebar, 0.0)))
    Vpi = evaluate(tab, pi)
    mu = np.asarray(tab.mu)
    return LinearPRDCBound(
        estimation_gap=float(abs(mu @ (result.V[0] - Vpi.V[0]))),
        estimation_bound=float(mu @ Delta[0]),
        suboptimality=float(evaluate(tab, comp).J) - float(Vpi.J),
        suboptimality_bound=sub_bound,
        weight_error=werr,
        constraint_distance=eps,
        data_error=derr,
    )
