"""Memory-bandwidth bound of a Bellman sweep.

A sweep of a Bellman operator must read every stored byte of the transition kernel ``P`` at least
once, so ``bytes(P) / bandwidth`` is a lower bound on its time (the other arrays, ``V``, ``R``,
``Q``, are smaller by a factor ``k`` = successors per row for sparse kernels, ``S`` for dense ones).
We measure the bandwidth the machine actually sustains for a large streaming read: a Numba
``prange`` sum over a 1 GiB float64 array with all threads (best of 5), plus a single-thread
number for reference (SciPy's sparse mat-vec and most peer code are single-threaded).

Bytes of ``P`` read per sweep:

* dense ``(S, A, S)`` float64: ``8 S A S``;
* CSR ``(S*A, S)`` with int32 indices: ``12 nnz + 8 (S A + 1)`` (values + column indices +
  row pointers; int64 pointers as SciPy and mdplab store them for big arrays are counted as 8).
"""

from __future__ import annotations

import os
import time

import numba as nb
import numpy as np

__all__ = ["measure_bandwidth", "kernel_bytes", "sweep_bound"]


@nb.njit(parallel=True, fastmath=True, cache=True)
def _psum(x, nthreads):
    n = x.shape[0]
    chunk = (n + nthreads - 1) // nthreads
    part = np.zeros(nthreads)
    for t in nb.prange(nthreads):
        lo = t * chunk
        hi = min(n, lo + chunk)
        acc0 = 0.0
        acc1 = 0.0
        acc2 = 0.0
        acc3 = 0.0
        i = lo
        while i + 4 <= hi:
            acc0 += x[i]
            acc1 += x[i + 1]
            acc2 += x[i + 2]
            acc3 += x[i + 3]
            i += 4
        while i < hi:
            acc0 += x[i]
            i += 1
        part[t] = acc0 + acc1 + acc2 + acc3
    return part.sum()


def measure_bandwidth(nbytes: int = 1 << 30, repeats: int = 5, threads: int | None = None) -> float:
    """Best-of-``repeats`` streaming read bandwidth in bytes/s over an ``nbytes`` array."""
    threads = threads or nb.config.NUMBA_NUM_THREADS
    old = nb.get_num_threads()
    nb.set_num_threads(threads)
    try:
        x = np.ones(nbytes // 8)
        _psum(x[:1000], threads)  # compile / load from cache
        best = np.inf
        for _ in range(repeats):
            t0 = time.perf_counter()
            _psum(x, threads)
            best = min(best, time.perf_counter() - t0)
        return x.nbytes / best
    finally:
        nb.set_num_threads(old)


def kernel_bytes(S: int, A: int, nnz: int | None = None, indptr_itemsize: int = 4) -> int:
    """Bytes of ``P`` one sweep reads: dense when ``nnz`` is None, else CSR."""
    if nnz is None:
        return 8 * S * A * S
    return 12 * nnz + indptr_itemsize * (S * A + 1)


def sweep_bound(S: int, A: int, bandwidth: float, nnz: int | None = None,
                indptr_itemsize: int = 8) -> float:
    """Lower bound (s) on one Bellman sweep: bytes of P / bandwidth."""
    return kernel_bytes(S, A, nnz, indptr_itemsize) / bandwidth


if __name__ == "__main__":  # pragma: no cover
    print(f"threads={nb.config.NUMBA_NUM_THREADS} cpu={os.cpu_count()}")
    for t in sorted({1, nb.config.NUMBA_NUM_THREADS}):
        print(f"{t} thread(s): {measure_bandwidth(threads=t) / 1e9:.2f} GB/s")
