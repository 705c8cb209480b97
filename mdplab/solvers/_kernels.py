"""Numba kernels of the exact solvers (the only compiled code of :mod:`mdplab.solvers`).

Every kernel has a plain-NumPy counterpart in :mod:`mdplab.solvers.bellman` and an agreement
test in ``tests/test_kernels.py``. Kernels are compiled with ``cache=True`` and
``fastmath=False`` (IEEE semantics: the summation order is fixed, results are reproducible),
and parallelise over states with ``prange`` (each state is written by exactly one thread).

Sparse kernels read the CSR arrays ``(indptr, indices, data)`` of the ``(S*A, S)`` kernel
(row ``s*A + a``). Dense models compute ``P @ V`` with BLAS (already at memory bandwidth) and
use :func:`soft_max_rows` for the per-state (soft) maximum.
"""

from __future__ import annotations

import math
import types

import numba as nb
import numpy as np

_JIT = dict(cache=True, fastmath=False, nogil=True)

#: Below this many array entries a kernel runs its serial build: waking the worker threads
#: costs more than it saves on small problems (and far more on a loaded machine).
PARALLEL_MIN_WORK = 1_000_000


class _SerialOrParallel:
    """One kernel source compiled twice: serial for small inputs, ``parallel=True`` for large.

    The serial build is compiled from a renamed copy of the function so that Numba's on-disk
    cache keeps the two builds apart. The choice depends only on the largest array argument.
    """

    def __init__(self, fn):
        code = fn.__code__.replace(
            co_name=fn.__name__ + "_serial", co_qualname=fn.__qualname__ + "_serial"
        )
        serial_fn = types.FunctionType(
            code, fn.__globals__, fn.__name__ + "_serial", fn.__defaults__
        )
        self.serial = nb.njit(**_JIT)(serial_fn)
        self.parallel = nb.njit(parallel=True, **_JIT)(fn)
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__

    def __call__(self, *args, work: int | None = None):
        """Run the build that suits ``work`` (default: size of the largest array argument)."""
        if work is None:
            work = max((a.size for a in args if isinstance(a, np.ndarray)), default=0)
        kernel = self.parallel if work >= PARALLEL_MIN_WORK else self.serial
        return kernel(*args)


@nb.njit(inline="always", **_JIT)
def _soft_value(Q, ref, s, beta):
    """beta * log sum_a ref[s, a] exp(Q[s, a] / beta) (max over ref's support when beta == 0).

    Indexes the 2-D arrays directly (no row views) and is inlined into every caller: a call
    per state with array slices costs more than the arithmetic."""
    A = Q.shape[1]
    m = -np.inf
    lo = np.inf
    for a in range(A):
        if ref[s, a] > 0.0:
            q = Q[s, a]
            if q > m:
                m = q
            if q < lo:
                lo = q
    if beta == 0.0:
        return m
    if (lo - m) / beta < -0.6931471805599453:
        # some terms are below 1/2: sum ref e^x directly (one exp per action)
        z = 0.0
        for a in range(A):
            if ref[s, a] > 0.0:
                z += ref[s, a] * math.exp((Q[s, a] - m) / beta)
        if z <= 0.5:
            return m + beta * math.log(z)
    # z = 1 + y with y small: log1p of sum ref * expm1(x) keeps the digits of y
    y = 0.0
    for a in range(A):
        if ref[s, a] > 0.0:
            y += ref[s, a] * math.expm1((Q[s, a] - m) / beta)
    return m + beta * math.log1p(y)


@nb.njit(inline="always", **_JIT)
def _row_dot(indptr, indices, data, row, V):
    """P[row] . V for a CSR matrix.

    The loop counter and the gather index are unsigned: Numba then emits no negative-index
    wraparound code in the inner loop (measured 1.3-1.6x faster than signed indices, on par
    with SciPy's C matvec on one thread)."""
    acc = 0.0
    for k in range(nb.uintp(indptr[row]), nb.uintp(indptr[row + 1])):
        acc += data[k] * V[nb.uintp(indices[k])]
    return acc


@_SerialOrParallel
def soft_max_rows(Q, ref, beta, out):
    """out[s] = soft max of Q[s, :] against ref[s, :] (hard max on ref's support if beta == 0)."""
    for s in nb.prange(Q.shape[0]):
        out[s] = _soft_value(Q, ref, s, beta)


@_SerialOrParallel
def bellman_csr(indptr, indices, data, R, ref, V, gamma, beta, Q, out, actions):
    """Q[s, a] = R[s, a] + gamma * P[s*A + a] . V and out[s] = soft max of Q[s, :].

    With ``beta == 0`` and a non-empty ``actions`` (length S), also records the greedy action
    (the lowest index attaining the maximum on ref's support, as :func:`policy_from_q`)."""
    S, A = R.shape
    record = beta == 0.0 and actions.shape[0] == S
    for s in nb.prange(S):
        for a in range(A):
            Q[s, a] = R[s, a] + gamma * _row_dot(indptr, indices, data, s * A + a, V)
        out[s] = _soft_value(Q, ref, s, beta)
        if record:
            for a in range(A):
                if ref[s, a] > 0.0 and Q[s, a] == out[s]:
                    actions[s] = a
                    break


@nb.njit(inline="always", **_JIT)
def _policy_row(indptr, indices, data, pi, src, s):
    """sum_a pi[s, a] * (P[s*A + a] . src), skipping actions with pi = 0."""
    A = pi.shape[1]
    tot = 0.0
    for a in range(A):
        w = pi[s, a]
        if w == 0.0:
            continue
        tot += w * _row_dot(indptr, indices, data, s * A + a, src)
    return tot


@_SerialOrParallel
def policy_backup_csr(indptr, indices, data, r_pi, pi, V, gamma, out):
    """out[s] = r_pi[s] + gamma * sum_a pi[s, a] * (P[s*A + a] . V); rows with pi = 0 skipped."""
    for s in nb.prange(pi.shape[0]):
        out[s] = r_pi[s] + gamma * _policy_row(indptr, indices, data, pi, V, s)


@nb.njit(inline="always", **_JIT)
def _increment_span(new, old):
    """max - min of new - old (serial: a reduction)."""
    lo = np.inf
    hi = -np.inf
    for s in range(new.shape[0]):
        d = new[s] - old[s]
        if d < lo:
            lo = d
        if d > hi:
            hi = d
    return hi - lo


@_SerialOrParallel
def policy_sweeps_csr(indptr, indices, data, r_pi, pi, V, gamma, n_sweeps, tmp, stop_span):
    """Up to ``n_sweeps`` Jacobi sweeps ``V <- r_pi + gamma P_pi V`` in place (``tmp``:
    scratch); returns the number of sweeps done.

    With ``stop_span > 0`` the sweeps stop as soon as the span (max - min) of one sweep's
    increment is at most ``stop_span`` (adaptive partial evaluation); ``stop_span <= 0``
    always does ``n_sweeps``. Used by modified policy iteration; one call replaces
    ``n_sweeps`` Python-level calls. The two buffers alternate roles (no copies, no
    reassigned array variables, which would keep Numba from parallelising the loops)."""
    S = pi.shape[0]
    done = 0
    for it in range(n_sweeps):
        if it % 2 == 0:
            for s in nb.prange(S):
                tmp[s] = r_pi[s] + gamma * _policy_row(indptr, indices, data, pi, V, s)
        else:
            for s in nb.prange(S):
                V[s] = r_pi[s] + gamma * _policy_row(indptr, indices, data, pi, tmp, s)
        done = it + 1
        if stop_span > 0.0 and _increment_span(tmp, V) <= stop_span:
            break
    if done % 2 == 1:
        for s in nb.prange(S):
            V[s] = tmp[s]
    return done


@_SerialOrParallel
def action_sweeps_csr(indptr, indices, data, actions, r_pi, V, gamma, n_sweeps, tmp, stop_span):
    """:func:`policy_sweeps_csr` for the deterministic policy ``s -> actions[s]``: each sweep
    reads only the rows ``s * A + actions[s]`` of ``P`` (as many bytes as a gathered
    ``P_pi``, without building it)."""
    S = actions.shape[0]
    A = (indptr.shape[0] - 1) // S
    done = 0
    for it in range(n_sweeps):
        if it % 2 == 0:
            for s in nb.prange(S):
                row = s * A + actions[s]
                tmp[s] = r_pi[s] + gamma * _row_dot(indptr, indices, data, row, V)
        else:
            for s in nb.prange(S):
                row = s * A + actions[s]
                V[s] = r_pi[s] + gamma * _row_dot(indptr, indices, data, row, tmp)
        done = it + 1
        if stop_span > 0.0 and _increment_span(tmp, V) <= stop_span:
            break
    if done % 2 == 1:
        for s in nb.prange(S):
            V[s] = tmp[s]
    return done


@_SerialOrParallel
def row_lengths(indptr, A, actions, out):
    """out[s] = number of non-zeros of row ``s * A + actions[s]`` of a CSR matrix."""
    for s in nb.prange(actions.shape[0]):
        row = s * A + actions[s]
        out[s] = indptr[row + 1] - indptr[row]


@_SerialOrParallel
def copy_rows(indptr, indices, data, A, actions, out_ptr, out_ind, out_dat):
    """Copy row ``s * A + actions[s]`` to positions ``out_ptr[s]:out_ptr[s + 1]`` (states in
    parallel: each writes its own slice)."""
    for s in nb.prange(actions.shape[0]):
        row = s * A + actions[s]
        start = nb.uintp(indptr[row])
        k = nb.uintp(out_ptr[s])
        for j in range(nb.uintp(indptr[row + 1]) - start):
            out_ind[k + j] = indices[start + j]
            out_dat[k + j] = data[start + j]


def select_rows_csr(indptr, indices, data, A, actions):
    """CSR arrays of the rows ``s * A + actions[s]`` of a ``(S*A, S)`` CSR matrix: the
    transition matrix ``P_pi`` of a deterministic policy (a gather, no sort; lengths, prefix
    sum, then a parallel copy)."""
    S = actions.shape[0]
    lengths = np.empty(S, dtype=np.int64)
    row_lengths(indptr, A, actions, lengths, work=S)
    out_ptr = np.zeros(S + 1, dtype=indptr.dtype)
    np.cumsum(lengths, out=out_ptr[1:])
    nnz = int(out_ptr[S])
    out_ind = np.empty(nnz, dtype=indices.dtype)
    out_dat = np.empty(nnz, dtype=data.dtype)
    copy_rows(indptr, indices, data, A, actions, out_ptr, out_ind, out_dat, work=nnz)
    return out_ptr, out_ind, out_dat


@_SerialOrParallel
def greedy_actions(Q, ref, R, actions, r_pi):
    """actions[s] = argmax of Q[s, :] on ref's support (ties to the lowest index) and
    r_pi[s] = R[s, actions[s]]: the greedy policy of :func:`policy_from_q` at beta = 0,
    without the ``(S, A)`` one-hot array."""
    S, A = Q.shape
    for s in nb.prange(S):
        best = -1
        m = -np.inf
        for a in range(A):
            if ref[s, a] > 0.0 and (best < 0 or Q[s, a] > m):
                m = Q[s, a]
                best = a
        actions[s] = best
        r_pi[s] = R[s, best]


@_SerialOrParallel
def policy_from_q(Q, V, ref, beta, pi):
    """pi[s] = ref e^{(Q - V)/beta} renormalised, or one-hot argmax on ref's support (beta = 0,
    ties to the lowest index)."""
    S, A = Q.shape
    for s in nb.prange(S):
        if beta == 0.0:
            best = -1
            m = -np.inf
            for a in range(A):
                pi[s, a] = 0.0
                if ref[s, a] > 0.0 and (best < 0 or Q[s, a] > m):
                    m = Q[s, a]
                    best = a
            pi[s, best] = 1.0
        else:
            tot = 0.0
            for a in range(A):
                w = 0.0
                if ref[s, a] > 0.0:
                    w = ref[s, a] * math.exp((Q[s, a] - V[s]) / beta)
                pi[s, a] = w
                tot += w
            for a in range(A):
                pi[s, a] /= tot


@_SerialOrParallel
def policy_reward_rows(R, pi, ref, log_z, beta, out):
    """out[s] = sum_a pi[s,a] (R[s,a] - beta log(pi[s,a] z[s] / ref[s,a])), with 0 log 0 = 0.

    ``log_z[s] = log sum_a ref[s, a]`` (0 up to rounding): the KL is taken against the exactly
    normalised reference, as in ``_soft_value`` (matters when ``beta`` is huge)."""
    S, A = R.shape
    for s in nb.prange(S):
        tot = 0.0
        for a in range(A):
            w = pi[s, a]
            if w > 0.0:
                tot += w * R[s, a]
                if beta > 0.0:
                    if ref[s, a] > 0.0:
                        tot -= beta * w * (math.log(w / ref[s, a]) + log_z[s])
                    else:
                        tot = -np.inf
        out[s] = tot


@nb.njit(**_JIT)
def gauss_seidel_csr(indptr, indices, data, R, ref, V, gamma, beta, forward, Qrow):
    """One in-place Gauss-Seidel sweep of the (soft) Bellman operator; returns max |change|.

    States are updated in increasing (``forward``) or decreasing order, each with the newest
    values of the others (serial by nature). ``Qrow`` is a ``(1, A)`` scratch array."""
    S, A = R.shape
    change = 0.0
    for i in range(S):
        s = i if forward else S - 1 - i
        for a in range(A):
            Qrow[0, a] = R[s, a] + gamma * _row_dot(indptr, indices, data, s * A + a, V)
        new = _soft_value(Qrow, ref[s : s + 1], 0, beta)
        d = abs(new - V[s])
        if d > change:
            change = d
        V[s] = new
    return change
