"""Shared helpers of the instance generators: argument checks and sparse-kernel assembly.

Nothing here is public. The one non-trivial piece is :func:`distinct_successors`, which draws,
for each of ``n`` rows, ``k`` *distinct* states out of ``S`` uniformly at random (a uniformly
random ``k``-subset per row), fully vectorized:

* when ``k**2 <= S`` (sparse regime): draw ``k`` states with replacement per row, sort each row,
  and redraw only the rows that contain a repeat. Conditioning i.i.d. uniform draws on being
  distinct gives a uniform ordered ``k``-tuple of distinct states, hence a uniform ``k``-subset.
  A row repeats with probability at most ``k(k-1)/(2S) <= 1/2``, so the number of redraw rounds
  is logarithmic in ``n``;
* otherwise (``S < k**2``, so ``S`` is small): give every state an i.i.d. uniform key and keep the
  ``k`` smallest keys of each row (``argpartition``), in chunks of rows to bound memory.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp

#: ``sparse=None`` picks a CSR kernel when the number of states exceeds this.
SPARSE_AUTO_THRESHOLD = 2000
_INT32_MAX = np.iinfo(np.int32).max
#: Entries per chunk when generating large kernels (fixed: results depend on it).
_CHUNK_ENTRIES = 1 << 16


def check_int(name: str, value, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an ``int`` (``TypeError`` if not integral, ``ValueError`` if out of range)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__} {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} = {value} must be >= {minimum}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} = {value} must be <= {maximum}")
    return value


def check_real(name: str, value, low: float | None = None, high: float | None = None,
               low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite ``float`` in ``[low, high]`` (either end open on request)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} = {value} must be finite")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} = {value!r} must be {'>' if low_open else '>='} {low}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name} = {value!r} must be {'<' if high_open else '<='} {high}")
    return value


def time_args(gamma, horizon, default_gamma) -> dict:
    """Keyword arguments ``gamma``/``horizon`` for :class:`~mdplab.TabularMDP`.

    Every generator has a default discount; passing ``horizon=H`` makes the model finite-horizon
    (undiscounted), and then ``gamma`` must be left at its default (or ``None``).
    """
    if horizon is None:
        if gamma is None:
            raise ValueError("gamma = None needs a finite horizon: pass horizon=H")
        return {"gamma": gamma, "horizon": None}
    if gamma is not None and gamma != default_gamma:
        raise ValueError(
            f"give either gamma (discounted) or horizon (finite horizon), got gamma={gamma!r} "
            f"and horizon={horizon!r}"
        )
    return {"gamma": None, "horizon": horizon}


def use_sparse(sparse, S: int) -> bool:
    """Resolve ``sparse=None`` (auto: CSR when ``S > SPARSE_AUTO_THRESHOLD``)."""
    if sparse is None:
        return S > SPARSE_AUTO_THRESHOLD
    if not isinstance(sparse, (bool, np.bool_)):
        raise TypeError(f"sparse: expected True, False or None, got {sparse!r}")
    return bool(sparse)


def index_dtype(*maxvals: int):
    """``int32`` when every value fits (what SciPy uses), else ``int64``."""
    return np.int32 if max(maxvals) <= _INT32_MAX else np.int64


def distinct_successors(rng: np.random.Generator, n: int, S: int, k: int) -> np.ndarray:
    """``(n, k)`` array: row ``i`` is a uniformly random ``k``-subset of ``range(S)``, sorted.

    Rows are generated in fixed-size chunks (cache-friendly, small temporaries); the chunk size
    is a constant, so the result depends only on the generator state.
    """
    dtype = index_dtype(S)
    if k == S:
        return np.broadcast_to(np.arange(S, dtype=dtype), (n, S)).copy()
    out = np.empty((n, k), dtype=dtype)
    if k * k <= S:
        chunk = max(1, _CHUNK_ENTRIES // k)
        for start in range(0, n, chunk):  # loop over chunks of rows, not over states
            m = min(chunk, n - start)
            idx = rng.integers(0, S, size=(m, k), dtype=dtype)
            idx.sort(axis=1)
            bad = _rows_with_repeats(idx)
            while bad.size:
                new = rng.integers(0, S, size=(bad.size, k), dtype=dtype)
                new.sort(axis=1)
                idx[bad] = new
                bad = bad[_rows_with_repeats(new)]
            out[start:start + m] = idx
        return out
    chunk = max(1, _CHUNK_ENTRIES // S)
    for start in range(0, n, chunk):  # S < k**2 is small here
        stop = min(n, start + chunk)
        keys = rng.random((stop - start, S))
        sel = np.argpartition(keys, k - 1, axis=1)[:, :k]
        sel.sort(axis=1)
        out[start:stop] = sel
    return out


def _rows_with_repeats(idx: np.ndarray) -> np.ndarray:
    """Indices of the rows of a row-sorted ``(n, k)`` array that hold a repeated value.

    One pass over the flattened array (adjacent equal pairs), then only the few hits are mapped
    back to rows; pairs that straddle two rows are discarded.
    """
    k = idx.shape[1]
    flat = idx.reshape(-1)
    hits = np.flatnonzero(flat[1:] == flat[:-1])
    hits = hits[(hits % k) != k - 1]
    return np.unique(hits // k)


def csr_from_rows(indices: np.ndarray, data: np.ndarray, n_cols: int) -> sp.csr_array:
    """CSR array with ``indices.shape[1]`` stored entries per row (sorted, distinct columns)."""
    n, k = indices.shape
    dtype = index_dtype(n * k, n_cols)
    indptr = np.arange(0, n * k + 1, k, dtype=dtype)
    P = sp.csr_array(
        (data.reshape(-1), indices.reshape(-1).astype(dtype, copy=False), indptr),
        shape=(n, n_cols),
    )
    P.has_sorted_indices = True
    P.has_canonical_format = True
    return P


def csr_from_triplets(rows, cols, vals, n_rows: int, n_cols: int) -> sp.csr_array:
    """CSR array from COO triplets; duplicate ``(row, col)`` entries are summed, zeros dropped."""
    keep = vals != 0
    P = sp.coo_array((vals[keep], (rows[keep], cols[keep])), shape=(n_rows, n_cols)).tocsr()
    P.sum_duplicates()
    P.sort_indices()
    return P


def dense_from_csr(P: sp.csr_array, S: int, A: int) -> np.ndarray:
    """``(S, A, S)`` (or ``(H, S, A, S)``) dense kernel from a ``(S*A, S)`` (``(H*S*A, S)``) CSR."""
    D = P.toarray()
    H = D.shape[0] // (S * A)
    return D.reshape(S, A, S) if H == 1 else D.reshape(H, S, A, S)


def dirichlet_rows(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """i.i.d. Dirichlet(1, ..., 1) vectors along the last axis (normalized exponentials)."""
    k = shape[-1]
    out = np.empty(shape)
    flat = out.reshape(-1, k)
    ones = np.ones(k)
    chunk = max(1, _CHUNK_ENTRIES // k)
    for start in range(0, flat.shape[0], chunk):
        w = flat[start:start + chunk]
        rng.standard_exponential(out=w)
        w /= (w @ ones)[:, None]  # BLAS row sums: fast for short rows
    return out
