"""Result types of the exact solvers, in the mould of ``scipy.optimize.OptimizeResult``.

:class:`Solution` is what :func:`mdplab.solve` returns for every method; :class:`PolicyValue` is
what :func:`mdplab.evaluate` returns. Both are frozen dataclasses with NumPy fields and a short,
readable ``repr`` (shapes, not arrays).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np


def _short(value) -> str:
    if isinstance(value, np.ndarray):
        return f"array{value.shape}"
    if isinstance(value, float):
        return f"{value:.3g}"
    return repr(value)


class _Repr:
    def __repr__(self) -> str:  # pragma: no cover - cosmetic
        body = ", ".join(f"{f.name}={_short(getattr(self, f.name))}" for f in fields(self)
                         if f.repr)
        return f"{type(self).__name__}({body})"


@dataclass(frozen=True, repr=False)
class Solution(_Repr):
    r"""Optimal values and policy of a (KL-regularized) MDP.

    Attributes
    ----------
    V : ndarray
        Optimal (soft) value, ``(S,)`` discounted or ``(H+1, S)`` finite horizon (``V[H] = 0``).
    Q : ndarray
        ``Q = R + gamma P V``, ``(S, A)`` or ``(H, S, A)``.
    policy : ndarray
        Optimal policy: greedy (``beta = 0``, ties to the lowest action index) or
        ``ref * exp((Q - V) / beta)``; ``(S, A)`` or ``(H, S, A)``.
    iterations : int
        Outer iterations (sweeps for VI, improvement steps for PI/MPI, steps for backward
        induction, solver iterations for the LP).
    residual : float
        ``max |T V - V|`` of the returned ``V`` (Bellman residual; 0 up to rounding for
        backward induction).
    error_bound : float
        Guaranteed bound on ``max |V - V*|`` used by the stopping rule (McQueen-Porteus bounds
        for discounted problems; ``nan`` for the LP, whose accuracy is the solver's).
    converged : bool
        ``error_bound <= tol`` was reached (``False`` when ``max_iter`` was hit; a warning is
        issued as well).
    method : str
        ``"vi"``, ``"pi"``, ``"mpi"``, ``"backward"`` or ``"lp"``.
    beta : float
        KL temperature (0 for the unregularized problem).
    message : str
        Human-readable account of how the solver stopped.
    history : ndarray
        Per-iteration Bellman residuals ``max |T V_k - V_k|`` (for convergence studies).
    """

    V: np.ndarray
    Q: np.ndarray
    policy: np.ndarray
    iterations: int
    residual: float
    error_bound: float
    converged: bool
    method: str
    beta: float
    message: str = ""
    history: np.ndarray = field(default_factory=lambda: np.empty(0))


@dataclass(frozen=True, repr=False)
class PolicyValue(_Repr):
    r"""Exact value of a fixed policy.

    ``V`` is ``(S,)`` (discounted) or ``(H+1, S)`` (finite horizon), ``Q`` is ``(S, A)`` or
    ``(H, S, A)``, and ``J = mu @ V`` (``mu @ V[0]``) is the expected (KL-penalised) return.
    """

    V: np.ndarray
    Q: np.ndarray
    J: float
