r"""Linear MDPs: a finite-horizon model whose kernel and rewards are linear in known features.

Definition (Jin, Yang, Wang & Jordan 2020, *Provably efficient reinforcement learning with
linear function approximation*, COLT, arXiv:1907.05388, Assumption A; numbering unverified).
A finite-horizon MDP with states :math:`s \in [S]`, actions :math:`a \in [A]` and steps
:math:`h = 0, \dots, H-1` is *linear* with feature map :math:`\phi: [S]\times[A] \to \mathbb R^d`
if there are :math:`d` (signed) measures :math:`\mu_h = (\mu_{h,1}, \dots, \mu_{h,d})` over
next states and vectors :math:`\theta_h \in \mathbb R^d` with

.. math::

    P_h(s' \mid s, a) = \langle \phi(s,a), \mu_h(s') \rangle, \qquad
    r_h(s, a) = \langle \phi(s, a), \theta_h \rangle .

Array layout (mdplab's one layout, extended by a feature axis ``d`` last):

* ``phi``: ``(S, A, d)`` -- the features (the same at every step);
* ``mu_feat``: ``(d, S)`` (the same at every step) or ``(H, d, S)``:
  ``mu_feat[h, i, s'] = mu_{h,i}(s')``, so ``P_h = phi.reshape(S*A, d) @ mu_feat[h]``;
* ``theta``: ``(d,)`` or ``(H, d)``;
* ``mu``: the initial state distribution ``(S,)`` (uniform when ``None``), as in
  :class:`mdplab.TabularMDP` (not to be confused with the feature measures ``mu_feat``).

Validation is eager: shapes, finiteness (NaN / inf are named with their index), and that every
:math:`P_h(\cdot|s,a)` is a distribution: entries :math:`\ge -10^{-12}` (``NEG_TOL``: products of
signed features may round a true zero to :math:`-10^{-17}`; anything more negative is an error
naming :math:`(h, s, a, s')`) and rows summing to 1 within :math:`10^{-9}`
(``mdplab.mdp.ROW_SUM_TOL``). :meth:`LinearMDP.to_tabular` builds the equivalent
:class:`mdplab.TabularMDP` (entries in :math:`[-10^{-12}, 0)` set to 0, the only rounding it
does), on which every exact solver of mdplab runs.

The normalisation of Assumption A (:math:`\|\phi(s,a)\|_2 \le 1`,
:math:`\|\mu_h(\mathcal S)\|_2 = \|\sum_{s'} |\mu_h(s')|\|_2 \le \sqrt d`,
:math:`\|\theta_h\|_2 \le \sqrt d`) is what LSVI-UCB's bonus assumes; it is *reported* by
:meth:`LinearMDP.norms`, not enforced (a model is valid as long as its kernel is).
"""

from __future__ import annotations

import numpy as np

from .mdp import ROW_SUM_TOL, TabularMDP, _as_float_array, _fmt_index, _readonly

__all__ = ["LinearMDP", "NEG_TOL"]

#: Most negative kernel entry accepted as a rounding error of the products ``<phi, mu>``.
NEG_TOL = 1e-12


def _check_horizon(horizon) -> int:
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)):
        raise TypeError(f"horizon: expected a positive int, got {type(horizon).__name__}")
    if horizon < 1:
        raise ValueError(f"horizon = {horizon} must be >= 1")
    return int(horizon)


def _check_finite(name: str, arr: np.ndarray) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = np.argwhere(bad)[0]
        raise ValueError(f"{name}[{_fmt_index(idx)}] is {arr[tuple(idx)]}, expected a finite "
                         "number")


class LinearMDP:
    r"""A finite-horizon linear MDP (immutable); see the module docstring for the math.

    Parameters
    ----------
    phi : array_like
        Features ``(S, A, d)``.
    mu_feat : array_like
        Feature measures over next states, ``(d, S)`` or ``(H, d, S)``.
    theta : array_like
        Reward parameters ``(d,)`` or ``(H, d)``.
    horizon : int
        Number of steps ``H >= 1``.
    mu : array_like, optional
        Initial state distribution ``(S,)``; uniform when ``None``.

    Examples
    --------
    >>> import numpy as np, mdplab as ml
    >>> phi = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.5, 0.5], [1.0, 0.0]]])  # S=2, A=2, d=2
    >>> mu_feat = np.array([[0.9, 0.1], [0.2, 0.8]])                         # (d, S)
    >>> lin = LinearMDP(phi, mu_feat, theta=[0.0, 1.0], horizon=3)
    >>> lin.to_tabular().P.shape
    (2, 2, 2)
    """

    __slots__ = ("_phi", "_mu_feat", "_theta", "_H", "_mu", "_S", "_A", "_d", "_P")

    def __init__(self, phi, mu_feat, theta, horizon, *, mu=None):
        H = _check_horizon(horizon)
        phi = _as_float_array("phi", phi)
        if phi.ndim != 3:
            raise ValueError(f"phi has shape {phi.shape}, expected (S, A, d)")
        S, A, d = phi.shape
        if min(S, A, d) < 1:
            raise ValueError(f"phi has shape {phi.shape}: need S, A, d >= 1")
        _check_finite("phi", phi)
        mu_feat = _as_float_array("mu_feat", mu_feat)
        if mu_feat.ndim == 2:
            if mu_feat.shape != (d, S):
                raise ValueError(f"mu_feat has shape {mu_feat.shape}, expected (d, S) = "
                                 f"({d}, {S}) or (H, d, S) = ({H}, {d}, {S}) (S, d from phi)")
        elif mu_feat.ndim == 3:
            if mu_feat.shape != (H, d, S):
                raise ValueError(f"mu_feat has shape {mu_feat.shape}, expected (H, d, S) = "
                                 f"({H}, {d}, {S}) or (d, S) = ({d}, {S}) (S, d from phi, "
                                 "H = horizon)")
        else:
            raise ValueError(f"mu_feat has shape {mu_feat.shape}, expected (d, S) or (H, d, S)")
        _check_finite("mu_feat", mu_feat)
        theta = _as_float_array("theta", theta)
        if theta.shape not in ((d,), (H, d)):
            raise ValueError(f"theta has shape {theta.shape}, expected (d,) = ({d},) or (H, d) "
                             f"= ({H}, {d}) (d from phi)")
        _check_finite("theta", theta)
        if mu is None:
            mu = np.full(S, 1.0 / S)
        else:
            mu = _as_float_array("mu", mu)
            if mu.shape != (S,):
                raise ValueError(f"mu has shape {mu.shape}, expected ({S},)")
            _check_finite("mu", mu)
            if np.any(mu < 0) or abs(mu.sum() - 1.0) > ROW_SUM_TOL:
                raise ValueError(f"mu must be a distribution (non-negative, summing to 1 within "
                                 f"{ROW_SUM_TOL:g}); got min {mu.min():.6g}, sum "
                                 f"{mu.sum():.12g}")
        # the kernel P_h = phi @ mu_h, validated step by step
        F = phi.reshape(S * A, d)
        steps = mu_feat if mu_feat.ndim == 3 else mu_feat[None]
        P = np.einsum("xi,hij->hxj", F, steps).reshape(-1, S, A, S)
        neg = P < -NEG_TOL
        if neg.any():
            h, s, a, t = np.argwhere(neg)[0]
            hh = f"{h}" if mu_feat.ndim == 3 else "h"
            raise ValueError(
                f"the kernel is not a distribution: P_{hh}({t} | s={s}, a={a}) = "
                f"<phi[{s}, {a}], mu_feat{'[' + str(h) + ']' if mu_feat.ndim == 3 else ''}"
                f"[:, {t}]> = {P[h, s, a, t]:.6g} is negative (tolerance {NEG_TOL:g})")
        sums = P.sum(axis=-1)
        bad = np.abs(sums - 1.0) > ROW_SUM_TOL
        if bad.any():
            h, s, a = np.argwhere(bad)[0]
            hh = f"{h}" if mu_feat.ndim == 3 else "h"
            raise ValueError(
                f"the kernel is not a distribution: P_{hh}(. | s={s}, a={a}) = <phi[{s}, {a}], "
                f"mu_feat> sums to {sums[h, s, a]:.12g}, expected 1 within {ROW_SUM_TOL:g}")
        P = np.where(P < 0, 0.0, P)
        init = object.__setattr__
        init(self, "_phi", _readonly(phi))
        init(self, "_mu_feat", _readonly(mu_feat))
        init(self, "_theta", _readonly(theta))
        init(self, "_H", H)
        init(self, "_mu", _readonly(mu))
        init(self, "_S", int(S))
        init(self, "_A", int(A))
        init(self, "_d", int(d))
        init(self, "_P", _readonly(P[0] if mu_feat.ndim == 2 else P))

    phi = property(lambda self: self._phi, doc="Features ``(S, A, d)`` (read-only).")
    mu_feat = property(lambda self: self._mu_feat,
                       doc="Feature measures ``(d, S)`` or ``(H, d, S)`` (read-only).")
    theta = property(lambda self: self._theta, doc="Reward parameters ``(d,)`` or ``(H, d)``.")
    mu = property(lambda self: self._mu, doc="Initial state distribution ``(S,)``.")
    horizon = property(lambda self: self._H, doc="Horizon ``H``.")
    H = horizon
    S = property(lambda self: self._S, doc="Number of states.")
    A = property(lambda self: self._A, doc="Number of actions.")
    d = property(lambda self: self._d, doc="Feature dimension.")

    def __setattr__(self, name, value):
        raise AttributeError("LinearMDP is immutable; build a new model")

    def __reduce__(self):
        return (_rebuild, (self._phi, self._mu_feat, self._theta, self._H, self._mu))

    def __repr__(self) -> str:
        tv = ", time-varying" if self._mu_feat.ndim == 3 or self._theta.ndim == 2 else ""
        return f"LinearMDP(S={self._S}, A={self._A}, d={self._d}, horizon={self._H}{tv})"

    @property
    def P(self) -> np.ndarray:
        """The kernel ``<phi, mu_feat>``: ``(S, A, S)`` or ``(H, S, A, S)`` (read-only)."""
        return self._P

    @property
    def R(self) -> np.ndarray:
        """Rewards ``<phi, theta>``: ``(S, A)`` or ``(H, S, A)``."""
        return np.einsum("sai,...i->...sa", self._phi, self._theta)

    def transitions(self, h: int = 0) -> np.ndarray:
        """Kernel of step ``h`` as ``(S*A, S)`` (row ``s*A + a``)."""
        P = self._P[h] if self._P.ndim == 4 else self._P
        return P.reshape(self._S * self._A, self._S)

    def rewards(self, h: int = 0) -> np.ndarray:
        """Rewards of step ``h``, ``(S, A)``."""
        theta = self._theta[h] if self._theta.ndim == 2 else self._theta
        return self._phi @ theta

    def to_tabular(self) -> TabularMDP:
        """The same model as a finite-horizon :class:`mdplab.TabularMDP` (exact solvers)."""
        return TabularMDP(self._P, self.R, horizon=self._H, mu=self._mu)

    def norms(self) -> dict:
        r"""The quantities of Jin et al.'s normalisation (Assumption A):
        ``phi`` :math:`=\max_{s,a}\|\phi(s,a)\|_2` (:math:`\le 1`),
        ``mu`` :math:`=\max_h \|\sum_{s'}|\mu_h(s')|\|_2` (:math:`\le\sqrt d`),
        ``theta`` :math:`=\max_h\|\theta_h\|_2` (:math:`\le\sqrt d`), ``sqrt_d``, and
        ``satisfied`` (all three bounds hold within 1e-12)."""
        phi = float(np.linalg.norm(self._phi, axis=-1).max())
        steps = self._mu_feat if self._mu_feat.ndim == 3 else self._mu_feat[None]
        mu = float(np.linalg.norm(np.abs(steps).sum(axis=-1), axis=-1).max())
        theta = float(np.linalg.norm(np.atleast_2d(self._theta), axis=-1).max())
        rd = float(np.sqrt(self._d))
        ok = phi <= 1 + 1e-12 and mu <= rd + 1e-12 and theta <= rd + 1e-12
        return {"phi": phi, "mu": mu, "theta": theta, "sqrt_d": rd, "satisfied": bool(ok)}


def _rebuild(phi, mu_feat, theta, H, mu) -> LinearMDP:
    return LinearMDP(phi, mu_feat, theta, H, mu=mu)
