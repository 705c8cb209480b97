r"""Bellman building blocks in plain NumPy: Q-values, the (soft) max, greedy and softmax policies.

These are the public, readable versions of the operators the solvers iterate (the Numba kernels
in :mod:`mdplab.solvers._kernels` compute the same quantities and are tested against these).

For a value function :math:`V` the state-action values are

.. math:: Q(s, a) = R(s, a) + \gamma \sum_{s'} P(s' | s, a) V(s')

(:math:`\gamma = 1` and step-indexed :math:`P_h, R_h` in the finite-horizon case). The
KL-regularized (soft) Bellman operator with temperature :math:`\beta > 0` and reference
policy :math:`\pi_{\rm ref}` is

.. math::

    (T_\beta V)(s) = \max_{\pi(\cdot|s)} \sum_a \pi(a|s) Q(s,a)
                     - \beta\,\mathrm{KL}(\pi(\cdot|s)\,\|\,\pi_{\rm ref}(\cdot|s))
                   = \beta \log \sum_a \pi_{\rm ref}(a|s)\, e^{Q(s,a)/\beta},

maximised by the Gibbs policy :math:`\pi(a|s) = \pi_{\rm ref}(a|s)\,e^{(Q(s,a) - V(s))/\beta}`
(the Donsker-Varadhan variational formula; e.g. Neu, Jonsson & Gomez, "A unified view of
entropy-regularized Markov decision processes", arXiv:1705.07798, Sec. 3, stated there for
average reward; equation numbers not verified here). At
:math:`\beta = 0` it is the hard maximum over the support of :math:`\pi_{\rm ref}` (the limit
:math:`\beta \to 0^+`); with ``ref=None`` (uniform) that is the ordinary Bellman operator.

Numerics. With :math:`m = \max_{a:\,\pi_{\rm ref}(a|s) > 0} Q(s,a)` and
:math:`x_a = (Q(s,a) - m)/\beta \le 0`,
:math:`T_\beta V(s) = m + \beta \log(1 + y)` with :math:`y = \sum_a \pi_{\rm ref}(a|s)
\,\mathrm{expm1}(x_a)` evaluated by ``log1p`` when :math:`y > -1/2` (accurate for huge
:math:`\beta`, where :math:`y` is tiny) and by :math:`\log\sum_a \pi_{\rm ref} e^{x_a}` otherwise
(accurate for tiny :math:`\beta`). Nothing overflows for :math:`\beta \in [10^{-8}, 10^{8}]` and
:math:`|R| \le 10^6`; actions outside the support of the reference get probability exactly 0.
"""

from __future__ import annotations

import numpy as np

from .._utils import kl_divergence
from ..mdp import TabularMDP, _as_float_array, _check_rows_sum_to_one

__all__ = [
    "q_values",
    "soft_max",
    "greedy_policy",
    "softmax_policy",
    "bellman_operator",
    "policy_reward",
    "check_ref",
]


def check_ref(mdp: TabularMDP, ref, name: str = "ref") -> np.ndarray:
    """Validate the reference policy and return it as ``(S, A)`` or ``(H, S, A)`` floats.

    ``None`` means uniform. Rows must be distributions within 1e-9; they are renormalised to sum
    to 1 in floating point (the numerics above rely on it). A finite-horizon model accepts a
    stationary ``(S, A)`` reference.
    """
    S, A = mdp.S, mdp.A
    if ref is None:
        return np.full((S, A), 1.0 / A)
    ref = _as_float_array(name, ref)  # TypeError naming it for complex / non-numeric input
    ok = {(S, A)} if mdp.discounted else {(S, A), (mdp.H, S, A)}
    if ref.shape not in ok:
        raise ValueError(f"{name} has shape {ref.shape}, expected one of {sorted(ok)}")
    if not np.all(np.isfinite(ref)) or np.any(ref < 0):
        raise ValueError(f"{name} must be finite and non-negative")
    _check_rows_sum_to_one(name, ref)
    ref /= ref.sum(axis=-1, keepdims=True)
    return ref


def _check_beta(beta) -> float:
    if isinstance(beta, bool) or not isinstance(beta, (int, float, np.integer, np.floating)):
        raise TypeError(f"beta: expected a non-negative float, got {type(beta).__name__}")
    beta = float(beta)
    if not (beta >= 0.0) or not np.isfinite(beta):
        raise ValueError(f"beta = {beta!r} must be a finite number >= 0")
    return beta


def q_values(mdp: TabularMDP, V, h: int = 0) -> np.ndarray:
    """``Q = R + gamma P V`` of step ``h`` (``gamma = 1`` for finite-horizon models), ``(S, A)``."""
    V = np.asarray(V, dtype=np.float64)
    gamma = mdp.gamma if mdp.discounted else 1.0
    PV = mdp.transitions(h) @ V
    return mdp.rewards(h) + gamma * np.asarray(PV).reshape(mdp.S, mdp.A)


def soft_max(Q, beta: float, ref) -> np.ndarray:
    r""":math:`\beta \log \sum_a \mathrm{ref}(a) e^{Q_a/\beta}` over the last axis (stable).

    ``beta = 0`` gives the maximum over the support of ``ref``.
    """
    Q = np.asarray(Q, dtype=np.float64)
    ref = np.broadcast_to(np.asarray(ref, dtype=np.float64), Q.shape)
    support = ref > 0
    Qs = np.where(support, Q, -np.inf)
    m = Qs.max(axis=-1)
    if beta == 0.0:
        return m
    with np.errstate(invalid="ignore"):
        x = np.where(support, (Q - m[..., None]) / beta, -np.inf)
    y = np.sum(np.where(support, ref * np.expm1(x), 0.0), axis=-1)
    direct = np.sum(np.where(support, ref * np.exp(x), 0.0), axis=-1)
    with np.errstate(divide="ignore"):
        out = np.where(y > -0.5, np.log1p(np.maximum(y, -0.5)), np.log(direct))
    return m + beta * out


def greedy_policy(Q, ref=None) -> np.ndarray:
    """One-hot argmax of ``Q`` over the last axis (within the support of ``ref``; ties to the
    lowest index)."""
    Q = np.asarray(Q, dtype=np.float64)
    Qs = Q if ref is None else np.where(np.broadcast_to(ref, Q.shape) > 0, Q, -np.inf)
    return np.eye(Q.shape[-1])[np.argmax(Qs, axis=-1)]


def softmax_policy(Q, V, beta: float, ref) -> np.ndarray:
    r"""Gibbs policy :math:`\mathrm{ref}\, e^{(Q - V)/\beta}` (renormalised; exact zeros off the
    support of ``ref``). ``beta = 0`` gives :func:`greedy_policy`."""
    if beta == 0.0:
        return greedy_policy(Q, ref)
    Q = np.asarray(Q, dtype=np.float64)
    ref = np.broadcast_to(np.asarray(ref, dtype=np.float64), Q.shape)
    with np.errstate(invalid="ignore", over="ignore"):
        pi = np.where(ref > 0, ref * np.exp((Q - np.asarray(V)[..., None]) / beta), 0.0)
    return pi / pi.sum(axis=-1, keepdims=True)


def bellman_operator(mdp: TabularMDP, V, beta: float = 0.0, ref=None, h: int = 0):
    """Apply the (soft) Bellman optimality operator once: returns ``(T V, Q)``."""
    beta = _check_beta(beta)
    ref = check_ref(mdp, ref)
    ref_h = ref[h] if ref.ndim == 3 else ref
    Q = q_values(mdp, V, h)
    return soft_max(Q, beta, ref_h), Q


def policy_reward(R, policy, beta: float = 0.0, ref=None) -> np.ndarray:
    r"""Expected one-step reward of a policy including the KL penalty:
    :math:`r_\pi(s) = \sum_a \pi(a|s)\,[R(s,a) - \beta \log(\pi(a|s)/\mathrm{ref}(a|s))]`.

    Returns ``-inf`` where ``beta > 0`` and the policy leaves the support of ``ref``.
    """
    R = np.asarray(R, dtype=np.float64)
    pi = np.asarray(policy, dtype=np.float64)
    r = np.sum(pi * R, axis=-1)
    if beta > 0.0:
        if ref is None:
            ref = np.full(pi.shape, 1.0 / pi.shape[-1])
        r = r - beta * kl_divergence(pi, np.broadcast_to(ref, pi.shape))
    return r
