"""Memory-bandwidth bound of a Bellman sweep.

A sweep of a Bellman operator must read every stored byte of the transition kernel ``P`` at least
once, so ``bytes(P) / bandwidth`` is a lower bound on its time (the other arrays, ``V``, ``R``,
``Q``, are smaller by a factor ``k`` = successors per row for sparse kernels, ``S`` for dense ones).
We measure the bandwidth the machine actually sustains for a large streaming read: a Numba
``prange`` sum over a 1 GiB float64 array with all threads (best of 5); the bound uses the
larger of that and a BLAS matrix-vector product over the same 1 GiB (both are reported), plus
a single-thread number for reference (SciPy's sparse mat-vec and most peer code are
single-threaded).

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
def _psum(x):
    s = 0.0
    for i in nb.prange(x.shape[0]):
        s += x[i]
    return s


def _best(fn, nbytes: int, repeats: int) -> float:
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return nbytes / best


def measure_bandwidth(nbytes: int = 1 << 30, repeats: int = 5, threads: int | None = None,
                      gemv: bool = False) -> float:
    """Best-of-``repeats`` streaming-read bandwidth (bytes/s) over an ``nbytes`` float64 array.

    A Numba ``prange`` sum with ``threads`` threads (default: all); with ``gemv=True`` also a
    BLAS matrix-vector product over the same bytes, and the larger of the two is returned.
    """
    threads = threads or nb.config.NUMBA_NUM_THREADS
    old = nb.get_num_threads()
    nb.set_num_threads(threads)
    try:
        x = np.ones(nbytes // 8)
        _psum(x[:1000])  # compile / load from cache
        bw = _best(lambda: _psum(x), x.nbytes, repeats)
        if gemv:
            cols = 4096
            M = x[: (x.size // cols) * cols].reshape(-1, cols)
            v = np.ones(cols)
            out = np.empty(M.shape[0])
            bw = max(bw, _best(lambda: np.dot(M, v, out=out), M.nbytes, repeats))
        return bw
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
        print(f"{t} thread(s): prange sum {measure_bandwidth(threads=t) / 1e9:.2f} GB/s")
    print(f"max(prange sum, BLAS gemv): {measure_bandwidth(gemv=True) / 1e9:.2f} GB/s")
