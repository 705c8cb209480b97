r"""KL-regularized exploration: optimism on the soft Bellman equation and regularized
best-policy identification (BPI) with a certified stopping rule.

Problem
-------
Finite horizon :math:`H`, unknown time-inhomogeneous kernels :math:`P_h`, rewards in
:math:`[0, 1]`, a known reference policy :math:`\pi^{\rm ref}` and temperature
:math:`\beta = \lambda \ge 0`. The regularized value of a policy is

.. math::

    J_\beta(\pi) = \mathbb E_\pi\Big[\sum_{h=0}^{H-1} r_h(s_h, a_h)
        - \beta\,\mathrm{KL}\big(\pi_h(\cdot|s_h)\,\|\,\pi^{\rm ref}_h(\cdot|s_h)\big)\Big],

with optimum :math:`Q^*_h = r_h + P_h V^*_{h+1}`, :math:`V^*_h = f_h(Q^*_h)`,
:math:`f(q) = \beta \log \sum_a \pi^{\rm ref}(a) e^{q_a/\beta}` (``max`` at :math:`\beta = 0`) and
:math:`\pi^*_h \propto \pi^{\rm ref}_h e^{Q^*_h/\beta}`. BPI: output :math:`\hat\pi` with
:math:`J_\beta^* - J_\beta(\hat\pi) \le \varepsilon` with probability :math:`\ge 1 - \delta`,
using as few episodes as possible.

Algorithm (:class:`RegularizedUCBVI`, "UCBVI-Ent" style)
--------------------------------------------------------
Tiapkin, Belomestny, Calandriello, Moulines, Munos, Naumov, Perrault, Tang, Valko & Ménard
(2023), *Fast rates for maximum entropy exploration*, ICML, arXiv:2303.08059 (regularized MDPs
are statistically easier: :math:`\tilde O(1/\varepsilon)` instead of
:math:`\tilde O(1/\varepsilon^2)`), and its use as the regularized-BPI subroutine of
Tiapkin et al. (2023), *Demonstration-regularized RL*, ICLR 2024, arXiv:2310.17303 (Sec. on
regularized BPI, "UCBVI-Ent+"; numbering unverified). Our version follows the structure of
these algorithms (optimistic soft value iteration, play the soft-greedy policy of the upper
bound, stop on an upper bound of the regularized gap) with **our own, explicit and fully
certified confidence bounds** derived below; its constants are not the papers'.

With counts :math:`n = n_h(s,a)`, empirical :math:`\hat r, \hat P` and range :math:`H - h`:

.. math::

    \bar Q_h = \min\{H - h,\ \hat r_h + \hat P_h \bar V_{h+1} + b\}, \quad
    \underline Q_h = \max\{0,\ \hat r_h + \hat P_h \underline V_{h+1} - b\}, \quad
    \bar V_h = f(\bar Q_h),\ \underline V_h = f(\underline Q_h),

:math:`b = (H - h)\sqrt{L(n)/(2n)}`, :math:`L(n) = \log(4SAH\,n(n+1)/\delta)` (Hoeffding on
:math:`r + V^*_{h+1}(s') \in [0, H-h]`, union over :math:`(h,s,a)` and all counts), unvisited
pairs :math:`\bar Q = H - h`, :math:`\underline Q = 0`. Monotonicity of :math:`f` gives
:math:`\underline Q \le Q^* \le \bar Q` on the event. The learner plays
:math:`\pi_t = \pi^{\rm ref} e^{(\bar Q - \bar V)/\beta}` (greedy in :math:`\bar Q` at
:math:`\beta = 0`, i.e. UCBVI with these bonuses).

**Certified gap.** With :math:`D = \bar Q - \underline Q`, the regularized performance difference
:math:`J^*_\beta - J_\beta(\pi) = \beta\sum_h \mathbb E_{d^\pi_h}\mathrm{KL}(\pi_h\|\pi^*_h)` and
:math:`\beta\mathrm{KL}(\pi_t\|\pi^*) = f(Q^*) - f(\bar Q) - \langle \pi_t, Q^* - \bar Q\rangle`
(a Bregman divergence of :math:`f`, whose Hessian is :math:`\mathrm{Cov}_{\pi_q}/\beta`) give, at
each :math:`(h, s)`, with :math:`M = \max_a D(s,a)` and :math:`g(x) = (e^x - 1 - x)/x^2`,

.. math::

    c_h(s) = \min\Big\{\langle \pi_t, D\rangle,\ \frac{M^2}{8\beta},\
        \frac{g(M/\beta)}{\beta}\langle \pi_t, D^2\rangle\Big\}
    \ \ge\ \beta\,\mathrm{KL}(\pi_{t,h}(\cdot|s)\,\|\,\pi^*_h(\cdot|s))

(first term: :math:`f(Q^*) \le f(\bar Q)`; second: :math:`\mathrm{Var} \le \mathrm{osc}^2/4`;
third: along the segment :math:`\pi_q(a) \le \pi_t(a) e^{M/\beta}`). At :math:`\beta = 0` only
the first term is used: :math:`V^*_h(s) - Q^*_h(s, \pi_t(s)) \le D(s, \pi_t(s))`. The two last
terms are *second order* in the confidence widths (:math:`\propto D^2/\beta`): this is the
mechanism of the :math:`1/(\beta\varepsilon)` rate. The expected cost along :math:`\pi_t` under
the unknown :math:`P` is bounded by optimistic evaluation,

.. math::

    W_h(s) = c_h(s) + \sum_a \pi_t(a|s)\min\Big\{\max W_{h+1},\
        \hat P_h W_{h+1} + \ell(n)\,\tfrac12\mathrm{osc}(W_{h+1})\Big\},

:math:`\ell(n) = \sqrt{2(S\log 2 + \log(2(SAH+1)\,n(n+1)/\delta))/n}` (Weissman et al.'s
:math:`L^1` inequality: valid for the data-dependent :math:`W`), and the gap is
:math:`G_t = \hat\mu^\top W_0 + \ell(t)\,\mathrm{osc}(W_0)/2` with :math:`\hat\mu` the empirical
initial distribution. On an event of probability :math:`\ge 1 - \delta` (all counts, all
episodes), :math:`J^*_\beta - J_\beta(\pi_t) \le G_t` for every :math:`t`; BPI stops at the first
:math:`t` with :math:`G_t \le \varepsilon` and returns :math:`\pi_t` (:func:`identify`).
Rates: :math:`D \asymp \sqrt{1/n}` so :math:`G_t = \tilde O(1/\sqrt t)` at :math:`\beta = 0`
(:math:`\tau(\varepsilon) \propto 1/\varepsilon^2`) and :math:`\tilde O(1/(\beta t))` for
:math:`\beta > 0` (:math:`\tau \propto 1/(\beta\varepsilon)`). ``scale`` multiplies every
bonus (``1``: the certified constants above).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._utils import as_rng, spawn
from ..mdp import TabularMDP, _as_float_array
from . import _kernels as _k
from .online import Learner, _check_delta, _check_positive

__all__ = ["RegularizedUCBVI", "identify"]


def _check_ref_array(ref, S: int, A: int, H: int, name: str = "ref") -> np.ndarray:
    """``ref`` as ``(Hf, S, A)`` floats (``Hf in {1, H}``); ``None`` is uniform."""
    if ref is None:
        return np.full((1, S, A), 1.0 / A)
    arr = _as_float_array(name, ref)  # TypeError naming it for complex / non-numeric input
    if arr.shape == (S, A):
        arr = arr[None]
    if arr.shape not in ((1, S, A), (H, S, A)):
        raise ValueError(
            f"{name} has shape {np.shape(ref)}, expected ({S}, {A}) or ({H}, {S}, {A})")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be finite and non-negative")
    sums = arr.sum(axis=-1)
    if np.any(np.abs(sums - 1.0) > 1e-9):
        bad = np.unravel_index(np.argmax(np.abs(sums - 1.0)), sums.shape)
        raise ValueError(f"{name}: rows must sum to 1, row {bad} sums to {sums[bad]!r}")
    return np.ascontiguousarray(arr / sums[..., None])


class _RegUCBVIAgent:
    def __init__(self, S, A, H, beta, ref, scale, delta):
        self.S, self.A, self.H = S, A, H
        self.beta, self.scale = beta, scale
        self.ref = ref
        with np.errstate(divide="ignore"):
            self.logref = np.log(ref)
        self.c_hoef = math.log(4.0 * S * A * H / delta)
        self.c_l1 = math.log(2.0 * (S * A * H + 1) / delta)
        self.N = np.zeros((H, S, A))
        self.Nsas = np.zeros((H, S, A, S))
        self.rsum = np.zeros((H, S, A))
        self.Ns = np.zeros((H, S))
        self.Qup = np.zeros((H, S, A))
        self.Qlo = np.zeros((H, S, A))
        self.Vup = np.zeros((H + 1, S))
        self.Vlo = np.zeros((H + 1, S))
        self.W = np.zeros((H + 1, S))
        self.cost = np.zeros((H, S))
        self.pi = np.zeros((H, S, A))
        self.gap = math.inf
        self.episode = 0

    def policy(self):
        self.gap = _k.soft_optimistic_plan(
            self.N, self.Nsas, self.rsum, self.Ns, self.beta, self.ref, self.logref,
            self.scale, self.c_hoef, self.c_l1, self.Qup, self.Qlo, self.Vup, self.Vlo,
            self.pi, self.W, self.cost)
        self.episode += 1
        return self.pi

    def update(self, states, actions, rewards):
        _k.update_counts(self.N, self.Nsas, self.rsum, self.Ns, states, actions, rewards)


@dataclass(frozen=True, eq=False)
class RegularizedUCBVI(Learner):
    r"""Optimistic soft value iteration for the KL-regularized objective ("UCBVI-Ent" style,
    Tiapkin et al. 2023, arXiv:2303.08059; certified bounds of our own, see the module
    docstring). ``beta = 0`` is unregularized UCBVI with the same bonuses and stopping rule.

    Parameters
    ----------
    beta : float
        KL temperature :math:`\lambda \ge 0` of the objective the learner optimises.
    ref : array_like, optional
        Reference policy ``(S, A)`` or ``(H, S, A)``; ``None`` is uniform.
    delta : float
        Failure probability of the certified gap, in (0, 1).
    scale : float
        Multiplies every bonus (``1``: certified constants).

    Notes
    -----
    After ``agent.policy()`` the agent exposes ``gap`` (the certified bound on
    :math:`J^*_\beta - J_\beta(\pi_t)`), ``Qup``, ``Qlo``, ``Vup``, ``Vlo``, ``W``.

    Examples
    --------
    >>> import mdplab as ml
    >>> mdp = ml.envs.random_mdp(4, 2, horizon=3, rng=0)
    >>> log = ml.learn.run(ml.learn.RegularizedUCBVI(beta=0.5), mdp, 200, rng=0, beta=0.5)
    >>> bool(log["regret"].iloc[-1] < log["regret"].iloc[0])
    True
    """

    beta: float = 1.0
    ref: object = field(default=None, repr=False)
    delta: float = 0.05
    scale: float = 1.0

    def __post_init__(self):
        _check_positive("beta", self.beta, allow_zero=True)
        _check_delta(self.delta)
        _check_positive("scale", self.scale, allow_zero=True)
        if self.ref is not None:
            arr = _as_float_array("ref", self.ref)
            arr.setflags(write=False)
            object.__setattr__(self, "ref", arr)

    @property
    def name(self) -> str:
        return "UCBVI-Ent" if self.beta > 0 else "UCBVI-BPI"

    def __repr__(self) -> str:
        ref = "uniform" if self.ref is None else f"array{tuple(self.ref.shape)}"
        return (f"RegularizedUCBVI(beta={self.beta!r}, ref={ref}, delta={self.delta!r}, "
                f"scale={self.scale!r})")

    def start(self, S, A, H, K, rng):
        ref = _check_ref_array(self.ref, S, A, H)
        return _RegUCBVIAgent(S, A, H, float(self.beta), ref, float(self.scale),
                              float(self.delta))


def identify(
    learner: RegularizedUCBVI,
    mdp: TabularMDP,
    epsilon,
    *,
    rng=None,
    max_episodes: int = 1_000_000,
    rewards: str = "expected",
) -> pd.DataFrame:
    r"""Best-policy identification with the certified stopping rule, for several accuracies
    from one run.

    The learner's play does not depend on :math:`\varepsilon`, so one sequence of episodes
    gives the stopping time of every target: :math:`\tau(\varepsilon)` = number of episodes
    collected when the certified gap first drops to :math:`\le \varepsilon`; the output
    policy is the one proposed at that moment, evaluated **exactly**
    (:math:`J^*_\beta - J_\beta(\hat\pi)` with the learner's ``beta`` and ``ref``).

    Parameters
    ----------
    learner : RegularizedUCBVI
    mdp : TabularMDP
        Finite horizon, rewards in [0, 1].
    epsilon : float or sequence of floats
        Target accuracies (> 0).
    rng : int or Generator
        Seed (environment and learner streams as in :func:`mdplab.learn.run`).
    max_episodes : int
        Give up after this many episodes (``stopped = False`` for the targets not reached).
    rewards : {"expected", "bernoulli"}

    Returns
    -------
    pandas.DataFrame
        One row per ``epsilon``: ``epsilon, episodes, gap, suboptimality, stopped``.
        ``attrs``: ``optimal_value``, ``beta``, ``learner`` and ``policies`` (the output
        policy of every row, ``(H, S, A)`` arrays in row order).
    """
    from ..solvers import solve
    from .runner import _check_int, _check_mdp_for_learning, _dense_model

    if not isinstance(learner, RegularizedUCBVI):
        raise TypeError(
            f"learner: expected a RegularizedUCBVI (it exposes a certified gap), got "
            f"{type(learner).__name__}")
    _check_mdp_for_learning(mdp)
    eps = np.atleast_1d(_as_float_array("epsilon", epsilon))
    if np.asarray(epsilon).dtype.kind in "USb":
        raise TypeError(f"epsilon: expected positive numbers, got {epsilon!r}")
    if eps.ndim != 1 or eps.size == 0 or not np.all(np.isfinite(eps) & (eps > 0)):
        raise ValueError(f"epsilon = {epsilon!r}: expected positive finite accuracies")
    K = _check_int("max_episodes", max_episodes, 1)
    if rewards not in ("expected", "bernoulli"):
        raise ValueError(f"rewards = {rewards!r}: expected 'expected' or 'bernoulli'")
    H, S, A = mdp.H, mdp.S, mdp.A
    ref = _check_ref_array(learner.ref, S, A, H)
    beta = float(learner.beta)
    J_star = float(mdp.mu @ solve(mdp, beta=beta, ref=ref if ref.shape[0] > 1 else ref[0]).V[0])
    with np.errstate(divide="ignore"):
        logref = np.log(ref)
    P, R = _dense_model(mdp)
    Pcdf = np.cumsum(P, axis=-1)
    mu = np.ascontiguousarray(mdp.mu, dtype=np.float64)
    mu_cdf = np.cumsum(mu)
    env_rng, agent_rng = spawn(as_rng(rng), 2)
    agent = learner.start(S, A, H, K, agent_rng)
    order = np.argsort(-eps)  # largest target first: it is reached first
    result = {i: None for i in range(eps.size)}
    states = np.empty(H + 1, dtype=np.int64)
    actions = np.empty(H, dtype=np.int64)
    obs = np.empty(H)
    block = 512
    nxt = 0
    bern = rewards == "bernoulli"
    for t in range(K + 1):
        pi = agent.policy()
        while nxt < eps.size and agent.gap <= eps[order[nxt]]:
            J, kl = _k.policy_value(P, R, mu, pi, logref)
            val = J - beta * kl if beta > 0 else J
            result[order[nxt]] = (t, agent.gap, J_star - val, True, pi.copy())
            nxt += 1
        if nxt == eps.size or t == K:
            break
        if t % block == 0:
            u = env_rng.random((min(block, K - t), 3 * H + 1))
        _k.sample_episode(Pcdf, R, mu_cdf, pi, u[t % block], bern, states, actions, obs)
        agent.update(states, actions, obs)
    rows, policies = [], []
    for i, e in enumerate(eps):
        r = result[i]
        if r is None:
            J, kl = _k.policy_value(P, R, mu, agent.pi, logref)
            val = J - beta * kl if beta > 0 else J
            r = (K, agent.gap, J_star - val, False, agent.pi.copy())
        rows.append({"epsilon": float(e), "episodes": int(r[0]), "gap": float(r[1]),
                     "suboptimality": float(r[2]), "stopped": bool(r[3])})
        policies.append(r[4])
    out = pd.DataFrame(rows)
    out.attrs.update(optimal_value=J_star, beta=beta, learner=repr(learner), policies=policies)
    return out
