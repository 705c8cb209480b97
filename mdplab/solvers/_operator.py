"""The Bellman operators of one model step, bound to preallocated buffers (private).

:class:`StepOperator` packages what every solver needs for one kernel ``P_h`` and reward
``R_h`` with a discount ``gamma``, a temperature ``beta`` and a reference ``ref``:

* ``bellman(V)``: ``(T V, Q)`` with ``Q = R + gamma P V`` and ``T V`` the (soft) max;
* ``policy(Q, V)``: greedy (``beta = 0``) or Gibbs policy;
* ``policy_reward(pi)``: ``r_pi`` including the KL penalty;
* ``policy_backup(r_pi, pi, V)``: ``T_pi V = r_pi + gamma P_pi V``;
* ``policy_matrix(pi)``: ``P_pi`` as a dense or CSR ``(S, S)`` matrix;
* ``action_matrix(actions)``: the same for a deterministic policy given by its actions
  (``bellman(V, actions=...)`` records the greedy ones), without an ``(S, A)`` array.

Dense kernels use BLAS for ``P V``; sparse ones the Numba kernels of :mod:`._kernels`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from . import _kernels as K


def _log_row_sums(ref: np.ndarray) -> np.ndarray:
    """``log sum_a ref[s, a]`` accurate to a fraction of an ulp (compensated summation).

    The rows sum to 1 up to rounding; the soft maximum treats them as exactly normalised, and
    so must the KL penalty, or a mismatch of order ``beta * 1e-16`` appears at huge ``beta``.
    """
    total = np.zeros(ref.shape[0])
    err = np.zeros(ref.shape[0])
    for a in range(ref.shape[1]):  # vectorised TwoSum over states (Knuth)
        x = ref[:, a]
        t = total + x
        bp = t - total
        err += (total - (t - bp)) + (x - bp)
        total = t
    return np.log1p((total - 1.0) + err)


_NO_ACTIONS = np.zeros(0, dtype=np.int64)


class StepOperator:
    def __init__(self, P2, R, gamma: float, beta: float, ref: np.ndarray):
        self.S, self.A = R.shape
        self.gamma = float(gamma)
        self.beta = float(beta)
        self.R = np.ascontiguousarray(R, dtype=np.float64)
        self.ref = np.ascontiguousarray(ref, dtype=np.float64)
        self.sparse = sp.issparse(P2)
        if self.sparse:
            self.indptr, self.indices, self.data = P2.indptr, P2.indices, P2.data
            self.csr = (P2.indptr, P2.indices, P2.data)
            self.P2 = P2
        else:
            self.P2 = np.ascontiguousarray(P2)
        self.Q = np.empty((self.S, self.A))
        self.log_z = _log_row_sums(self.ref)

    # -- the optimality operator -------------------------------------------------
    def bellman(self, V: np.ndarray, out: np.ndarray | None = None, Q: np.ndarray | None = None,
                actions: np.ndarray | None = None):
        """Return ``(T V, Q)``; writes into ``out``/``Q`` (defaults: fresh / shared buffer).

        With ``beta = 0`` and an int64 array ``actions`` of length S, also writes the greedy
        actions of ``Q`` into it (during the sweep for sparse models)."""
        Q = self.Q if Q is None else Q
        out = np.empty(self.S) if out is None else out
        if self.sparse:
            K.bellman_csr(
                *self.csr,
                self.R,
                self.ref,
                V,
                self.gamma,
                self.beta,
                Q,
                out,
                _NO_ACTIONS if actions is None else actions,
            )
        else:
            np.dot(self.P2, V, out=Q.reshape(-1))
            Q *= self.gamma
            Q += self.R
            K.soft_max_rows(Q, self.ref, self.beta, out)
            if actions is not None and self.beta == 0.0:
                K.greedy_actions(Q, self.ref, self.R, actions, np.empty(self.S))
        return out, Q

    def gauss_seidel(self, V: np.ndarray, forward: bool) -> float:
        """One in-place Gauss-Seidel sweep (sparse models); returns the largest change."""
        return K.gauss_seidel_csr(
            *self.csr,
            self.R,
            self.ref,
            V,
            self.gamma,
            self.beta,
            forward,
            np.empty((1, self.A)),
        )

    # -- policies ----------------------------------------------------------------
    def policy(self, Q: np.ndarray, V: np.ndarray) -> np.ndarray:
        pi = np.empty_like(Q)
        K.policy_from_q(Q, V, self.ref, self.beta, pi)
        return pi

    def action_matrix(self, actions: np.ndarray):
        """``P_pi`` of the deterministic policy ``s -> actions[s]``: its rows of ``P``, as CSR
        (sparse models) or a dense ``(S, S)`` array."""
        if not self.sparse:
            return self.P2.reshape(self.S, self.A, self.S)[np.arange(self.S), actions]
        ptr, ind, dat = K.select_rows_csr(*self.csr, self.A, actions)
        return sp.csr_array((dat, ind, ptr), shape=(self.S, self.S))

    def policy_reward(self, pi: np.ndarray) -> np.ndarray:
        out = np.empty(self.S)
        K.policy_reward_rows(self.R, np.ascontiguousarray(pi), self.ref, self.log_z, self.beta, out)
        return out

    def gibbs_reward(self, pi: np.ndarray, Q: np.ndarray, V: np.ndarray) -> np.ndarray:
        r"""``r_pi`` of the policy ``pi`` derived from ``(Q, V)`` by :meth:`policy`.

        For the Gibbs policy :math:`\log(\pi/\pi_{\rm ref}) = (Q - V)/\beta`, so
        :math:`r_\pi = \sum_a \pi (R - Q) + V`: no division by ``beta`` and no logarithm of
        a ratio close to 1 (which loses ``beta * 1e-16`` at huge ``beta``). For ``beta = 0`` it
        is the plain expected reward.
        """
        if self.beta == 0.0:
            return self.policy_reward(pi)
        return V + np.einsum("sa,sa->s", pi, self.R - Q)

    def policy_backup(self, r_pi, pi, V, out=None, P_pi=None):
        """``r_pi + gamma P_pi V`` (uses a prebuilt ``P_pi`` when given)."""
        out = np.empty(self.S) if out is None else out
        if P_pi is not None:
            np.copyto(out, P_pi @ V)
            out *= self.gamma
            out += r_pi
        elif self.sparse:
            K.policy_backup_csr(
                *self.csr,
                r_pi,
                np.ascontiguousarray(pi),
                V,
                self.gamma,
                out,
            )
        else:
            out[:] = r_pi + self.gamma * np.einsum(
                "sa,sa->s", pi, (self.P2 @ V).reshape(self.S, self.A)
            )
        return out

    def policy_sweeps(self, r_pi, pi, V, n_sweeps: int, P_pi=None,
                      stop_span: float = 0.0, actions=None) -> int:
        """Up to ``n_sweeps`` applications of ``T_pi`` to ``V`` in place (partial evaluation);
        returns the number done. ``stop_span > 0`` stops early once one sweep's increment has
        a span (max - min) of at most ``stop_span``.

        A deterministic policy can be given as ``actions`` (``pi`` is then ignored): its
        ``P_pi`` is gathered first. With a prebuilt ``P_pi`` the sweeps stream through that
        compact ``(S, S)`` matrix; otherwise through the rows of ``P`` that ``pi`` uses."""
        if actions is not None:
            # gathering P_pi (parallel copy) costs about one sweep; sweeping the compact copy
            # is faster than striding through P's rows once it no longer fits in cache
            P_pi = self.action_matrix(actions)
        if P_pi is not None and sp.issparse(P_pi):
            P_pi = sp.csr_array(P_pi)
            return K.action_sweeps_csr(
                P_pi.indptr,
                P_pi.indices,
                P_pi.data,
                np.zeros(self.S, dtype=np.int64),  # row s of P_pi is "action 0 of state s"
                r_pi,
                V,
                self.gamma,
                n_sweeps,
                np.empty(self.S),
                float(stop_span),
                work=P_pi.nnz,
            )
        if self.sparse and P_pi is None:
            pi = np.ascontiguousarray(pi)
            return K.policy_sweeps_csr(
                *self.csr,
                r_pi,
                pi,
                V,
                self.gamma,
                n_sweeps,
                np.empty(self.S),
                float(stop_span),
            )
        W = np.empty(self.S)
        for it in range(n_sweeps):
            self.policy_backup(r_pi, pi, V, out=W, P_pi=P_pi)
            span = float(np.ptp(W - V)) if stop_span > 0 else np.inf
            V[:] = W
            if span <= stop_span:
                return it + 1
        return n_sweeps

    def policy_matrix(self, pi: np.ndarray):
        """``P_pi[s, s'] = sum_a pi(a|s) P(s'|s, a)``: dense ``(S, S)`` or CSR."""
        S, A = self.S, self.A
        if not self.sparse:
            return np.einsum("sa,sat->st", pi, self.P2.reshape(S, A, S))
        actions = pi.argmax(axis=1)
        if np.all(pi[np.arange(S), actions] == 1.0):  # deterministic: gather the chosen rows
            return self.action_matrix(actions)
        rows, cols = np.nonzero(pi)
        weights = sp.csr_array((pi[rows, cols], (rows, rows * A + cols)), shape=(S, S * A))
        return (weights @ self.P2).tocsr()
