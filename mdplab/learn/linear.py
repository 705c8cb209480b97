r"""LSVI-UCB: optimistic least-squares value iteration on a linear MDP, driven by
:func:`mdplab.learn.run`.

Jin, Yang, Wang & Jordan (2020), *Provably efficient reinforcement learning with linear function
approximation*, COLT, arXiv:1907.05388, Algorithm 1 (LSVI-UCB) and Theorem 3.1 (numbering
unverified): on a linear MDP (:mod:`mdplab.linear_mdp`) with features
:math:`\phi(s,a) \in \mathbb R^d` known to the learner, at the start of episode :math:`k`, for
:math:`h = H-1, \dots, 0`,

.. math::

    \Lambda_h = \lambda I + \sum_{\tau < k} \phi_h^\tau \phi_h^{\tau\top}, \qquad
    w_h = \Lambda_h^{-1} \sum_{\tau<k} \phi_h^\tau \big[r_h^\tau
        + \max_a Q_{h+1}(s_{h+1}^\tau, a)\big],

.. math::

    Q_h(s,a) = \min\Big\{\phi(s,a)^\top w_h
        + \beta\sqrt{\phi(s,a)^\top \Lambda_h^{-1} \phi(s,a)},\ H - h\Big\},

with :math:`\phi_h^\tau = \phi(s_h^\tau, a_h^\tau)`, :math:`Q_H = 0`, and the greedy policy in
:math:`Q` (ties: the action with the larger bonus, then the lowest index). The paper's bonus
coefficient is :math:`\beta = c\, d H \sqrt{\iota}`, :math:`\iota = \log(2dT/\delta)`,
:math:`T = KH`, for an absolute constant :math:`c` it does not make explicit (``scale`` is
:math:`c`, default 1), :math:`\lambda = 1`; the regret is then
:math:`\tilde O(\sqrt{d^3H^3T})` with probability :math:`1 - \delta` (rewards in [0, 1],
:math:`\|\phi\| \le 1`). Deviations, stated: we clip at :math:`H - h` (the paper clips at
:math:`H`; both upper-bound :math:`Q^*_h`), and the regression target uses the *observed* reward
:math:`r_h^\tau` (the paper assumes the reward known; :math:`r_h = \phi^\top\theta_h` is linear,
so it is learned by the same regression).

Implementation (exact, not an approximation): :math:`\Lambda_h^{-1}` is updated by
Sherman-Morrison; because the state space is finite, the target sum is
:math:`\sum_\tau \phi_h^\tau r_h^\tau + M_h V_{h+1}` with :math:`M_h = \sum_\tau \phi_h^\tau
e_{s_{h+1}^\tau}^\top \in \mathbb R^{d\times S}` and :math:`V_{h+1}(s) = \max_a Q_{h+1}(s,a)`:
:math:`O(H(SAd^2 + dS))` per episode whatever :math:`k`. The tests compare with a plain NumPy
reimplementation that stores every transition and inverts :math:`\Lambda_h`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..linear_mdp import LinearMDP
from .online import Learner, _check_delta, _check_positive

__all__ = ["LSVIUCB", "lsvi_bonus_coefficient"]


def lsvi_bonus_coefficient(d: int, H: int, K: int, delta: float = 0.05,
                           scale: float = 1.0) -> float:
    r""":math:`\beta = c\,dH\sqrt{\log(2dKH/\delta)}` with :math:`c` = ``scale``."""
    return float(scale * d * H * math.sqrt(math.log(2.0 * d * K * H / delta)))


def _features(features) -> np.ndarray:
    if isinstance(features, LinearMDP):
        return np.ascontiguousarray(features.phi, dtype=np.float64)
    try:
        phi = np.array(features, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"features: expected a LinearMDP or an array (S, A, d) ({exc})"
                        ) from None
    if phi.ndim != 3 or min(phi.shape) < 1:
        raise ValueError(f"features has shape {phi.shape}, expected (S, A, d)")
    if not np.all(np.isfinite(phi)):
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(phi))[0])
        raise ValueError(f"features[{idx}] is {phi[idx]}, expected a finite number")
    return phi


class _LSVIAgent:
    def __init__(self, phi, H, beta, lam):
        S, A, d = phi.shape
        self.S, self.A, self.H, self.d = S, A, H, d
        self.F = phi.reshape(S * A, d)
        self.beta, self.lam = beta, lam
        self.Linv = np.tile(np.eye(d) / lam, (H, 1, 1))
        self.b = np.zeros((H, d))
        self.M = np.zeros((H, d, S))
        self.Q = np.zeros((H, S, A))
        self.V = np.zeros((H + 1, S))
        self.bonus = np.zeros((H, S, A))
        self.W = np.zeros((H, d))
        self.pi = np.zeros((H, S, A))
        self.episode = 0

    def policy(self):
        self.episode += 1
        S, A, H, F = self.S, self.A, self.H, self.F
        for h in range(H - 1, -1, -1):
            w = self.Linv[h] @ (self.b[h] + self.M[h] @ self.V[h + 1])
            self.W[h] = w
            quad = np.einsum("xi,ij,xj->x", F, self.Linv[h], F)
            bonus = self.beta * np.sqrt(np.maximum(quad, 0.0))
            self.bonus[h] = bonus.reshape(S, A)
            self.Q[h] = np.minimum(F @ w + bonus, float(H - h)).reshape(S, A)
            self.V[h] = self.Q[h].max(axis=1)
        # greedy; ties (e.g. at the clipping level) to the larger bonus, then the lowest index
        top = self.Q >= self.Q.max(axis=2, keepdims=True)
        score = np.where(top, self.bonus, -np.inf)
        best = score.argmax(axis=2)
        self.pi[:] = 0.0
        np.put_along_axis(self.pi, best[..., None], 1.0, axis=2)
        return self.pi

    def update(self, states, actions, rewards):
        A = self.A
        for h in range(self.H):
            x = self.F[states[h] * A + actions[h]]
            Lx = self.Linv[h] @ x
            self.Linv[h] -= np.outer(Lx, Lx) / (1.0 + x @ Lx)
            self.b[h] += rewards[h] * x
            self.M[h][:, states[h + 1]] += x


@dataclass(frozen=True, eq=False)
class LSVIUCB(Learner):
    r"""LSVI-UCB (Jin et al. 2020, arXiv:1907.05388) as a :class:`mdplab.learn.Learner`.

    Parameters
    ----------
    features : LinearMDP or array_like
        The feature map ``(S, A, d)`` (a :class:`mdplab.LinearMDP` gives its ``phi``).
    scale : float
        :math:`c` in :math:`\beta = c\,dH\sqrt{\log(2dT/\delta)}` (ignored if ``bonus`` is
        given).
    bonus : float, optional
        :math:`\beta` itself.
    lam : float
        Ridge parameter :math:`\lambda > 0`.
    delta : float
        Confidence level in :math:`\iota`.

    Examples
    --------
    >>> import mdplab as ml
    >>> from mdplab.envs.linear import random_linear_mdp
    >>> lin = random_linear_mdp(10, 3, 2, horizon=4, rng=0)
    >>> log = ml.learn.run(LSVIUCB(lin, scale=0.1), lin.to_tabular(), episodes=20, rng=0)
    >>> len(log)
    20
    """

    features: object = field(repr=False)
    scale: float = 1.0
    bonus: float | None = None
    lam: float = 1.0
    delta: float = 0.05
    name = "LSVI-UCB"

    def __post_init__(self):
        phi = _features(self.features)
        object.__setattr__(self, "features", phi)
        _check_positive("scale", self.scale, allow_zero=True)
        if self.bonus is not None:
            _check_positive("bonus", self.bonus, allow_zero=True)
        _check_positive("lam", self.lam)
        _check_delta(self.delta)

    def __repr__(self) -> str:
        S, A, d = self.features.shape
        b = f"bonus={self.bonus!r}" if self.bonus is not None else f"scale={self.scale!r}"
        return f"LSVIUCB(S={S}, A={A}, d={d}, {b}, lam={self.lam!r}, delta={self.delta!r})"

    def start(self, S, A, H, K, rng):
        fs, fa, d = self.features.shape
        if (fs, fa) != (S, A):
            raise ValueError(f"features are for S = {fs}, A = {fa}, but the MDP has S = {S}, "
                             f"A = {A}")
        beta = (float(self.bonus) if self.bonus is not None
                else lsvi_bonus_coefficient(d, H, K, self.delta, self.scale))
        return _LSVIAgent(self.features, H, beta, float(self.lam))
