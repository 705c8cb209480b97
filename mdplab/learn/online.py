r"""Online exploration in tabular finite-horizon MDPs: UCBVI, optimistic Q-learning, PSRL and
greedy baselines, as small hyper-parameter objects driven by :func:`mdplab.learn.run`.

Setting
-------
An unknown finite-horizon MDP with steps :math:`h = 0, \dots, H-1`, time-inhomogeneous kernels
:math:`P_h` and rewards :math:`r_h(s,a) \in [0, 1]`. In episode :math:`k = 1, \dots, K` the
learner commits to a policy :math:`\pi_k`, observes one trajectory
:math:`(s_0, a_0, r_0, \dots, s_{H-1}, a_{H-1}, r_{H-1}, s_H)` with :math:`s_0 \sim \mu`, and
updates. The (pseudo-)regret is

.. math::

    \mathrm{Regret}(K) = \sum_{k=1}^K \big(V^*_0(\mu) - V^{\pi_k}_0(\mu)\big),

computed exactly by the runner (:mod:`mdplab.learn.runner`). A learner sees only ``S``, ``A``,
``H``, ``K`` and the trajectories (states, actions, observed rewards); all learners estimate the
rewards from observations (empirical means) and treat every step separately (counts
:math:`n_h(s,a)`, :math:`n_h(s,a,s')`, empirical kernel
:math:`\hat P_h(s'|s,a) = n_h(s,a,s')/n_h(s,a)`). Hoeffding and Bernstein constants below assume
rewards in :math:`[0, 1]`.

Learners
--------
:class:`UCBVI` -- Azar, Osband & Munos (2017), *Minimax regret bounds for reinforcement
learning*, ICML, arXiv:1703.05449, Algorithms 1-3 (UCBVI, bonus_1 = Chernoff-Hoeffding
"UCBVI-CH", bonus_2 = Bernstein-Freedman "UCBVI-BF"). Optimistic backward induction

.. math::

    Q_{k,h}(s,a) = \min\Big\{Q_{k-1,h}(s,a),\; H - h,\;
        \hat r_h(s,a) + \hat P_h V_{k,h+1}(s,a) + b_{k,h}(s,a)\Big\}, \qquad
    V_{k,h}(s) = \max_a Q_{k,h}(s,a),

:math:`V_{k,H} = 0`, :math:`Q = H - h` on unvisited pairs, and :math:`\pi_k` greedy in
:math:`Q_k`; ties (frequent while values sit at the clipping level) go to the least
visited action, then to the lowest index. The paper clips at :math:`H`; we clip at the
tighter :math:`H - h`, which is still an upper bound on :math:`Q^*_h`. With
:math:`n = n_h(s,a)`, :math:`L = \ln(5 S_H A T / \delta)`, :math:`T = KH`, and
:math:`S_H = HS` (the layered state space :math:`(h, s)` on which time-inhomogeneous
transitions become homogeneous, the reduction we use to transfer the paper's homogeneous
analysis):

* Hoeffding: :math:`b = 7 H L \sqrt{1/n}`;
* Bernstein-Freedman:
  :math:`b = \sqrt{8 L\, \mathrm{Var}_{\hat P_h}(V_{k,h+1}) / n} + 14 H L / (3n)
  + \sqrt{8 \sum_y \hat P_h(y|s,a) \min\{10^4 H^3 S^2 A L^2 / n'_{h+1}(y),\, H^2\} / n}`,
  :math:`n'_{h+1}(y)` the number of visits of state :math:`y` at step :math:`h+1` (the last
  term is 0 at the last step :math:`h = H-1`, where :math:`V_{k,H} = V^*_H = 0` exactly).

``scale`` multiplies the bonus (``scale=1``: the constants above). The constants are those
of the paper's Algorithm 3 as we transcribed them; they, and the theorem numbers (Thm. 1:
UCBVI-CH regret :math:`\le 20 H L \sqrt{SAT} + 250 H^2 S^2 A L^2`; Thm. 2: UCBVI-BF
:math:`\tilde O(\sqrt{HSAT} + H^2 S^2 A + H \sqrt T)`, both w.p. :math:`\ge 1 - \delta`,
homogeneous transitions) are **unverified** against the paper's text here. With
``scale = 1`` the bonuses are large (:math:`7HL/\sqrt n \ge H - h` until
:math:`n \ge 49 L^2`), so UCBVI-CH explores almost uniformly for a long burn-in.

:class:`OptimisticQLearning` -- Jin, Allen-Zhu, Bubeck & Jordan (2018), *Is Q-learning provably
efficient?*, NeurIPS, arXiv:1807.03765, Algorithm 1 (Q-learning with UCB-Hoeffding):
:math:`Q \equiv H` initially; on visiting :math:`(s_h, a_h)` for the :math:`t`-th time,

.. math::

    Q_h(s_h,a_h) \leftarrow (1-\alpha_t) Q_h(s_h,a_h)
        + \alpha_t\big[r_h + V_{h+1}(s_{h+1}) + b_t\big], \qquad
    \alpha_t = \frac{H+1}{H+t}, \quad b_t = c\sqrt{H^3 \iota / t},

:math:`V_h(s) = \min\{H, \max_a Q_h(s,a)\}`, :math:`\iota = \ln(SAT/\delta)`. The paper's
Theorem 1 (regret :math:`O(\sqrt{H^4 SAT\iota})` w.p. :math:`1-\delta`) holds for *some*
absolute constant :math:`c` that the paper does not make explicit; ``c`` defaults to 1
(numbering as in the NeurIPS version, unverified here).

:class:`PSRL` -- posterior sampling (Osband, Russo & Van Roy 2013, *(More) efficient
reinforcement learning via posterior sampling*, NeurIPS, arXiv:1306.0940): each episode samples
:math:`\tilde P_h(\cdot|s,a) \sim \mathrm{Dirichlet}(\alpha_0 \mathbf 1 + n_h(s,a,\cdot))` and
:math:`\tilde r_h(s,a) \sim \mathrm{Beta}(1 + \Sigma r, 1 + n - \Sigma r)` (the Bernoulli
likelihood applied to rewards in [0, 1]) and plays the optimal policy of the sample.

:class:`EpsilonGreedy` / :class:`Greedy` -- certainty equivalence: plan on
:math:`(\hat P, \hat r)` (``q_init`` on unvisited pairs, 0 by default) and play
:math:`(1-\varepsilon_k)\,\mathrm{greedy} + \varepsilon_k\,\mathrm{uniform}`,
:math:`\varepsilon_k = \varepsilon\, k^{-\text{decay}}`. ``Greedy`` is
:math:`\varepsilon = 0`: it can lock onto a suboptimal policy forever (linear regret), the
baseline that optimism fixes.

Writing a learner
-----------------
A learner is a frozen dataclass deriving from :class:`Learner` whose ``start(S, A, H, K, rng)``
returns an *agent* with ``policy() -> (H, S, A)`` array (rows are distributions; the agent may
return the same buffer every episode, the runner copies nothing) and
``update(states, actions, rewards)`` (arrays of lengths ``H + 1``, ``H``, ``H``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import _kernels as _k

__all__ = ["Learner", "UCBVI", "OptimisticQLearning", "PSRL", "EpsilonGreedy", "Greedy"]


def _check_positive(name: str, value, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    value = float(value)
    ok = value >= 0 if allow_zero else value > 0
    if not (ok and math.isfinite(value)):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} = {value!r} must be finite and {bound}")
    return value


def _check_delta(delta) -> float:
    delta = _check_positive("delta", delta)
    if not delta < 1:
        raise ValueError(f"delta = {delta!r} must lie in (0, 1)")
    return delta


class Learner:
    """Base class of the hyper-parameter objects (see the module docstring)."""

    name: str = "learner"

    def start(self, S: int, A: int, H: int, K: int, rng: np.random.Generator):
        """A fresh agent for ``K`` episodes of an MDP with ``S`` states, ``A`` actions and
        horizon ``H``; ``rng`` is the agent's own random stream."""
        raise NotImplementedError


# ---------------------------------------------------------------------------------- agents


class _CountingAgent:
    """Counts, empirical kernel and reward sums shared by the model-based agents."""

    def __init__(self, S, A, H):
        self.S, self.A, self.H = S, A, H
        self.N = np.zeros((H, S, A))
        self.Nsas = np.zeros((H, S, A, S))
        self.rsum = np.zeros((H, S, A))
        self.Ns = np.zeros((H, S))
        self.pi = np.zeros((H, S, A))
        self.Q = np.zeros((H, S, A))
        self.V = np.zeros((H + 1, S))
        self.episode = 0

    def update(self, states, actions, rewards):
        _k.update_counts(self.N, self.Nsas, self.rsum, self.Ns, states, actions, rewards)


class _UCBVIAgent(_CountingAgent):
    def __init__(self, S, A, H, K, kind, scale, delta):
        super().__init__(S, A, H)
        T = K * H
        self.L = math.log(5.0 * H * S * A * T / delta)
        self.kind = kind
        self.scale = scale
        self.unvisited = H - np.arange(H, dtype=float)
        self.Q[:] = self.unvisited[:, None, None]
        self._Qprev = self.Q.copy()

    def policy(self):
        self._Qprev, self.Q = self.Q, self._Qprev
        _k.optimistic_plan(self.N, self.Nsas, self.rsum, self.Ns, self.kind, self.scale,
                           self.L, self.unvisited, self._Qprev, True, self.Q, self.V)
        _k.greedy_onehot(self.Q, self.N, self.pi)
        self.episode += 1
        return self.pi


class _GreedyAgent(_CountingAgent):
    def __init__(self, S, A, H, epsilon, decay, q_init):
        super().__init__(S, A, H)
        self.epsilon, self.decay = epsilon, decay
        self.unvisited = np.full(H, q_init)
        self._dummy = np.zeros((1, 1, 1))

    def policy(self):
        self.episode += 1
        _k.optimistic_plan(self.N, self.Nsas, self.rsum, self.Ns, 0, 0.0, 1.0, self.unvisited,
                           self.Q, False, self.Q, self.V)
        _k.greedy_onehot(self.Q, self.N, self.pi)
        eps = self.epsilon * self.episode ** (-self.decay) if self.epsilon > 0 else 0.0
        if eps > 0:
            eps = min(eps, 1.0)
            self.pi *= 1.0 - eps
            self.pi += eps / self.A
        return self.pi


class _PSRLAgent(_CountingAgent):
    def __init__(self, S, A, H, prior, rng):
        super().__init__(S, A, H)
        self.prior = prior
        self.rng = rng

    def policy(self):
        self.episode += 1
        g = self.rng.standard_gamma(self.Nsas + self.prior)
        tot = g.sum(axis=-1, keepdims=True)
        # a Dirichlet draw can underflow to all zeros for tiny concentrations: fall back to
        # the posterior mean in those rows
        mean = (self.Nsas + self.prior) / (self.N[..., None] + self.prior * self.S)
        P = np.where(tot > 0, g / np.where(tot > 0, tot, 1.0), mean)
        R = self.rng.beta(1.0 + self.rsum, 1.0 + self.N - self.rsum)
        _k.backward_induction(P, R, self.Q, self.V)
        _k.greedy_onehot(self.Q, self.N, self.pi)
        return self.pi


class _QLearningAgent:
    def __init__(self, S, A, H, K, c, delta):
        self.S, self.A, self.H = S, A, H
        self.iota = math.log(S * A * K * H / delta)
        self.c = c
        self.Q = np.full((H, S, A), float(H))
        self.V = np.full((H + 1, S), float(H))
        self.V[H] = 0.0
        self.N = np.zeros((H, S, A))
        self.pi = np.zeros((H, S, A))
        self.episode = 0

    def policy(self):
        self.episode += 1
        _k.greedy_onehot(self.Q, self.N, self.pi)
        return self.pi

    def update(self, states, actions, rewards):
        _k.qlearning_update(self.Q, self.V, self.N, states, actions, rewards, self.c, self.iota)


# ---------------------------------------------------------------------------------- learners

_BONUS = {"hoeffding": 1, "bernstein": 2}


@dataclass(frozen=True)
class UCBVI(Learner):
    """UCBVI (Azar, Osband & Munos 2017, arXiv:1703.05449) with a Hoeffding ("UCBVI-CH") or
    Bernstein-Freedman ("UCBVI-BF") bonus; see the module docstring for the formulas.

    Parameters
    ----------
    bonus : {"hoeffding", "bernstein"}
    delta : float
        Confidence level of the bonuses, in (0, 1).
    scale : float
        Multiplies the bonus; 1 is the paper's constants (the guarantees need ``scale >= 1``).

    Examples
    --------
    >>> import mdplab as ml
    >>> mdp = ml.envs.riverswim(6, horizon=10, variant="osband")
    >>> log = ml.learn.run(ml.learn.UCBVI(bonus="bernstein"), mdp, episodes=50, rng=0)
    >>> list(log.columns)
    ['episode', 'value', 'regret', 'cum_regret', 'kl', 'seconds']
    """

    bonus: str = "bernstein"
    delta: float = 0.05
    scale: float = 1.0

    def __post_init__(self):
        if self.bonus not in _BONUS:
            raise ValueError(f"bonus = {self.bonus!r}: expected one of {tuple(_BONUS)}")
        _check_delta(self.delta)
        _check_positive("scale", self.scale, allow_zero=True)

    @property
    def name(self) -> str:
        return "UCBVI-CH" if self.bonus == "hoeffding" else "UCBVI-BF"

    def start(self, S, A, H, K, rng):
        return _UCBVIAgent(S, A, H, K, _BONUS[self.bonus], float(self.scale), float(self.delta))


@dataclass(frozen=True)
class OptimisticQLearning(Learner):
    """Q-learning with UCB-Hoeffding exploration (Jin et al. 2018, arXiv:1807.03765, Alg. 1).

    Parameters
    ----------
    c : float
        Bonus constant in ``b_t = c sqrt(H^3 iota / t)`` (the paper's absolute constant is not
        explicit).
    delta : float
        Failure probability in ``iota = log(S A T / delta)``.
    """

    c: float = 1.0
    delta: float = 0.05
    name = "Q-learning-UCB-H"

    def __post_init__(self):
        _check_positive("c", self.c, allow_zero=True)
        _check_delta(self.delta)

    def start(self, S, A, H, K, rng):
        return _QLearningAgent(S, A, H, K, float(self.c), float(self.delta))


@dataclass(frozen=True)
class PSRL(Learner):
    """Posterior sampling for RL (Osband, Russo & Van Roy 2013, arXiv:1306.0940).

    Parameters
    ----------
    prior : float
        Dirichlet concentration of the prior on every ``P_h(.|s, a)`` (``> 0``).
    """

    prior: float = 1.0
    name = "PSRL"

    def __post_init__(self):
        _check_positive("prior", self.prior)

    def start(self, S, A, H, K, rng):
        return _PSRLAgent(S, A, H, float(self.prior), rng)


@dataclass(frozen=True)
class EpsilonGreedy(Learner):
    """Certainty-equivalent planning on the empirical model, epsilon-uniform exploration.

    Parameters
    ----------
    epsilon : float
        Exploration probability in episode 1, in [0, 1].
    decay : float
        ``epsilon_k = epsilon * k ** (-decay)`` (0: constant).
    q_init : float
        Value of unvisited state-action pairs in the planning step.
    """

    epsilon: float = 0.1
    decay: float = 0.0
    q_init: float = 0.0
    name = "epsilon-greedy"

    def __post_init__(self):
        eps = _check_positive("epsilon", self.epsilon, allow_zero=True)
        if eps > 1:
            raise ValueError(f"epsilon = {eps!r} must lie in [0, 1]")
        _check_positive("decay", self.decay, allow_zero=True)
        if isinstance(self.q_init, bool) or not isinstance(
            self.q_init, (int, float, np.integer, np.floating)
        ) or not math.isfinite(self.q_init):
            raise TypeError(f"q_init: expected a finite number, got {self.q_init!r}")

    def start(self, S, A, H, K, rng):
        return _GreedyAgent(S, A, H, float(self.epsilon), float(self.decay),
                            float(self.q_init))


@dataclass(frozen=True)
class Greedy(EpsilonGreedy):
    """Pure certainty equivalence (``EpsilonGreedy`` with ``epsilon = 0``)."""

    epsilon: float = 0.0
    name = "greedy"
