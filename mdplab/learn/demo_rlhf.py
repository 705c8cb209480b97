r"""Demonstration-regularized RLHF (tabular, finite horizon).

Tiapkin, Belomestny, Calandriello, Moulines, Munos, Naumov, Perrault, Valko & Ménard (2023),
*Demonstration-regularized RL*, ICLR 2024, arXiv:2310.17303 (abstract: "demonstration-regularized
methods are provably efficient for reinforcement learning from human feedback ... we avoid
pessimism injection by employing computationally feasible regularization to handle reward
estimation uncertainty"; the section on RLHF, numbering unverified here). The pipeline:

1. **Behavior cloning** on :math:`N^E` expert trajectories: :math:`\pi^{\rm BC}`
   (:func:`mdplab.learn.demo.behavior_cloning`).
2. **Preferences**: pairs of trajectories :math:`(\tau^1, \tau^2)` with a label :math:`y = 1`
   when :math:`\tau^1` is preferred, drawn from the Bradley-Terry model on trajectory returns,

   .. math:: \Pr(y = 1) = \sigma\big(r(\tau^1) - r(\tau^2)\big), \qquad
             r(\tau) = \sum_{h=1}^H r_h(s_h, a_h).

3. **Reward MLE**: :math:`r(\tau) = \langle \theta, \phi(\tau)\rangle` with
   :math:`\phi(\tau) \in \mathbb N^{H \times S \times A}` the visit counts, so the model is
   a logistic regression on :math:`\phi(\tau^1) - \phi(\tau^2)`; :math:`\hat\theta` maximizes the
   log-likelihood minus :math:`\frac{\kappa}{2}\|\theta\|^2` (``ridge`` :math:`\kappa > 0`
   pins the directions the data do not identify -- unvisited triples, the additive shift -- at 0;
   a strictly concave problem, solved by Newton's method to machine precision).
4. **KL-regularized planning toward the BC policy** with the estimated reward:

   .. math:: \hat\pi = \arg\max_\pi\; \mathbb E_\pi\Big[\sum_h \hat r_h(s_h,a_h)
             - \lambda\, \mathrm{KL}\big(\pi_h(\cdot|s_h)\,\|\,\pi^{\rm BC}_h(\cdot|s_h)\big)\Big],

   solved exactly by soft backward induction (:func:`mdplab.solve` with ``ref`` =
   :math:`\pi^{\rm BC}`, ``beta`` = :math:`\lambda`); transitions are known here (the
   reward-estimation error is what the regularization is meant to absorb).

Why it helps (the argument of the paper, in the form we check): with
:math:`\lambda = 0` the planner maximizes :math:`\hat r` wherever it is large, including
triples the preference data barely cover, where :math:`\hat r` is mostly noise
(over-optimization); with :math:`\lambda \to \infty` it returns :math:`\pi^{\rm BC}`. The
regularized policy stays close to the demonstrations, where the preference data (drawn from
:math:`\pi^{\rm BC}`) make :math:`\hat r` accurate, and the comparison of
:math:`\hat\pi` with :math:`\pi^E` inside the regularized objective gives
:math:`V^* - V^{\hat\pi} \le \varepsilon_E + \lambda\,\mathrm{KL}_{\rm traj}(\pi^E\|\pi^{\rm BC})
+ (\text{reward error on } d^{\pi^E} \text{ and } d^{\hat\pi})`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._utils import as_rng
from ..mdp import TabularMDP
from .demo import _check_demos, _policy_array, behavior_cloning, sample_trajectories

__all__ = [
    "TrajectoryPreferences",
    "sample_trajectory_preferences",
    "trajectory_features",
    "fit_trajectory_reward",
    "RLHFResult",
    "demo_regularized_rlhf",
]


@dataclass(frozen=True)
class TrajectoryPreferences:
    """Pairs of trajectories with Bradley-Terry labels.

    Attributes
    ----------
    states1, actions1, states2, actions2 : numpy.ndarray
        ``(n, H+1)`` states and ``(n, H)`` actions of the first and second trajectory of each pair.
    y : numpy.ndarray
        ``(n,)`` booleans: ``True`` when the first trajectory is preferred.
    """

    states1: np.ndarray
    actions1: np.ndarray
    states2: np.ndarray
    actions2: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return int(self.y.shape[0])


def _rewards(mdp: TabularMDP) -> np.ndarray:
    """``(H, S, A)`` rewards of a finite-horizon model."""
    from .runner import _dense_model

    _, R = _dense_model(mdp)
    return np.ascontiguousarray(np.broadcast_to(R, (mdp.H, mdp.S, mdp.A)))


def trajectory_features(states, actions, S: int, A: int) -> np.ndarray:
    r"""Visit counts :math:`\phi(\tau) \in \mathbb N^{H S A}` of each trajectory, ``(n, H*S*A)``
    (index ``(h * S + s) * A + a``)."""
    states, actions = _check_demos(states, actions, S, A, None)
    n, H = actions.shape
    idx = (np.arange(H) * S + states) * A + actions
    phi = np.zeros((n, H * S * A))
    np.add.at(phi, (np.repeat(np.arange(n), H), idx.ravel()), 1.0)
    return phi


def sample_trajectory_preferences(mdp: TabularMDP, policy, n_pairs: int, *, reward=None,
                                  rng=None) -> TrajectoryPreferences:
    r"""``n_pairs`` independent pairs of trajectories of ``policy``, labelled by the
    Bradley-Terry model on their returns: :math:`\Pr(y=1) = \sigma(r(\tau^1) - r(\tau^2))`.

    ``reward`` (``(H, S, A)``) defaults to the model's own rewards.
    """
    from .runner import _check_int

    n_pairs = _check_int("n_pairs", n_pairs, 1)
    gen = as_rng(rng)
    R = _rewards(mdp) if reward is None else np.asarray(reward, dtype=np.float64)
    if R.shape != (mdp.H, mdp.S, mdp.A):
        raise ValueError(f"reward has shape {R.shape}, expected {(mdp.H, mdp.S, mdp.A)}")
    if not np.all(np.isfinite(R)):
        raise ValueError("reward: entries must be finite")
    s1, a1 = sample_trajectories(mdp, policy, n_pairs, rng=gen)
    s2, a2 = sample_trajectories(mdp, policy, n_pairs, rng=gen)
    hh = np.arange(mdp.H)
    diff = R[hh, s1[:, :-1], a1].sum(axis=1) - R[hh, s2[:, :-1], a2].sum(axis=1)
    y = gen.random(n_pairs) < 1.0 / (1.0 + np.exp(-diff))
    return TrajectoryPreferences(s1, a1, s2, a2, y)


def fit_trajectory_reward(prefs: TrajectoryPreferences, S: int, A: int, *, ridge: float = 1e-2,
                          tol: float = 1e-10, max_iter: int = 100) -> np.ndarray:
    r"""Ridge-regularized Bradley-Terry MLE of a per-step reward ``(H, S, A)`` from trajectory
    preferences: maximize :math:`\sum_i \log\sigma(\pm\langle\theta, \phi(\tau^1_i) -
    \phi(\tau^2_i)\rangle) - \frac{\kappa}{2}\|\theta\|^2` (``ridge`` :math:`\kappa > 0`) by
    Newton's method with backtracking; stops when the Newton decrement is below ``tol``."""
    from .online import _check_positive

    kappa = _check_positive("ridge", ridge)
    if not isinstance(prefs, TrajectoryPreferences):
        raise TypeError(f"prefs: expected TrajectoryPreferences, got {type(prefs).__name__}")
    if len(prefs) < 1:
        raise ValueError("prefs: at least one preference pair is needed")
    H = prefs.actions1.shape[1]
    X = (trajectory_features(prefs.states1, prefs.actions1, S, A)
         - trajectory_features(prefs.states2, prefs.actions2, S, A))
    sign = np.where(np.asarray(prefs.y, dtype=bool), 1.0, -1.0)
    Z = X * sign[:, None]  # maximize sum log sigma(Z theta) - kappa/2 |theta|^2

    def objective(theta):
        m = Z @ theta
        return float(-np.logaddexp(0.0, -m).sum() - 0.5 * kappa * theta @ theta)

    theta = np.zeros(X.shape[1])
    f = objective(theta)
    for _ in range(max_iter):
        m = Z @ theta
        p = 0.5 * (1.0 - np.tanh(0.5 * m))  # sigma(-m), stable
        grad = Z.T @ p - kappa * theta
        w = p * (1.0 - p)
        hess = (Z * w[:, None]).T @ Z + kappa * np.eye(Z.shape[1])
        step = np.linalg.solve(hess, grad)
        decrement = float(grad @ step)
        if decrement <= tol:
            break
        t = 1.0
        while t > 1e-12:
            f_new = objective(theta + t * step)
            if f_new >= f + 0.25 * t * decrement:
                break
            t *= 0.5
        theta, f = theta + t * step, f_new
    return theta.reshape(H, S, A)


@dataclass(frozen=True)
class RLHFResult:
    """Output of :func:`demo_regularized_rlhf`.

    Attributes
    ----------
    policy : numpy.ndarray
        :math:`\\hat\\pi`, ``(H, S, A)``.
    bc_policy : numpy.ndarray
        :math:`\\pi^{\\rm BC}`.
    reward : numpy.ndarray
        The estimated reward :math:`\\hat r`, ``(H, S, A)``.
    lam : float
        The temperature :math:`\\lambda`.
    suboptimality : float
        Exact :math:`V^* - V^{\\hat\\pi}` under the true reward.
    bc_suboptimality : float
        Exact :math:`V^* - V^{\\pi^{\\rm BC}}`.
    """

    policy: np.ndarray
    bc_policy: np.ndarray
    reward: np.ndarray
    lam: float
    suboptimality: float
    bc_suboptimality: float


def demo_regularized_rlhf(mdp: TabularMDP, states, actions, prefs: TrajectoryPreferences,
                          lam: float, *, ridge: float = 1e-2, bc_policy=None) -> RLHFResult:
    r"""Demonstration-regularized RLHF: BC on the demonstrations, Bradley-Terry reward MLE on the
    preferences, then the exact KL-regularized optimum toward :math:`\pi^{\rm BC}` at
    temperature ``lam`` (``0``: the greedy plug-in policy of :math:`\hat r` on BC's support,
    which is every action with Laplace smoothing). ``bc_policy`` skips step 1.
    Suboptimalities are exact, under the model's true rewards."""
    from ..solvers import evaluate, solve
    from .runner import _check_mdp_for_learning, _dense_model

    _check_mdp_for_learning(mdp)
    lam = float(lam)
    if not (lam >= 0.0) or not np.isfinite(lam):
        raise ValueError(f"lam = {lam!r} must be a finite number >= 0")
    S, A, H = mdp.S, mdp.A, mdp.H
    if bc_policy is None:
        bc = behavior_cloning(states, actions, S, A)
    else:
        bc = _policy_array(mdp, bc_policy, "bc_policy")
    r_hat = fit_trajectory_reward(prefs, S, A, ridge=ridge)
    if r_hat.shape[0] != H:
        raise ValueError(f"prefs: trajectories have {r_hat.shape[0]} steps, expected H = {H}")
    P, _ = _dense_model(mdp)
    learned = TabularMDP(P if P.shape[0] == H else P[0], r_hat, horizon=H, mu=mdp.mu)
    pi = solve(learned, beta=lam, ref=bc).policy
    v_star = float(mdp.mu @ solve(mdp).V[0])
    return RLHFResult(
        policy=pi,
        bc_policy=bc,
        reward=r_hat,
        lam=lam,
        suboptimality=v_star - float(evaluate(mdp, pi).J),
        bc_suboptimality=v_star - float(evaluate(mdp, bc).J),
    )
