r"""Reward levels of a discrete outcome distribution: the structure every BoN formula uses.

An *outcome distribution* is a reference pmf :math:`p` over :math:`K` outcomes with rewards
:math:`r`. Best-of-:math:`n` and exponential tilting only see the reward, so everything is
computed on the **reward levels**: the distinct reward values :math:`v_1 < \dots < v_J`, their
masses :math:`q_j = \sum_{y:\, r(y) = v_j} p(y)` and the cumulative distribution

.. math::

    F_j = \sum_{i \le j} q_i = P_p(r(Y) \le v_j), \qquad
    F^-_j = F_{j-1} = P_p(r(Y) < v_j), \qquad G_j = 1 - F_j = \sum_{i > j} q_i .

Any distribution that depends on the outcome only through its reward level and is
proportional to :math:`p` inside each level (BoN with ties split in proportion to :math:`p`,
every tilt :math:`p e^{r/\beta}/Z`) is described exactly by a pmf over levels, and its KL
divergence to :math:`p` equals the KL of the level pmfs.

Precision. Everything is kept in log space so that masses down to ``1e-300`` (and level
masses of sums of many tokens, far below the smallest double) are handled: :math:`\log F_j`
is computed from the lower cumulative sum where :math:`F_j \le 1/2` and as
:math:`\log(1 - G_j)` (``log1p``) from the upper tail where :math:`F_j > 1/2`, so it is
accurate to a few ulps at both ends. Divergences are computed from log-ratios
:math:`y = \log(\phi/p)` as :math:`\mathrm{KL}(\phi\|p) = \sum p\, h(y)` with
:math:`h(y) = y e^y - (e^y - 1) \ge 0` (exact because :math:`\sum p e^y = 1`), a sum of
non-negative terms that keeps its relative accuracy when the divergence is tiny.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

SUM_TOL = 1e-9  # tolerance on sum(p) = 1, as for transition kernels
TIE_BREAKS = ("random", "first", "last")


def check_outcomes(p, r, *, name_p: str = "p", name_r: str = "r") -> tuple[np.ndarray, np.ndarray]:
    """Validate a reference pmf and rewards; return float arrays (``p`` renormalised).

    ``p``: 1-D, finite, non-negative, summing to 1 within ``1e-9``; zeros are allowed (those
    outcomes are never produced by BoN or by a tilt). ``r``: 1-D, finite, same length.
    """
    p = _as_float_1d(p, name_p)
    r = _as_float_1d(r, name_r)
    if p.size == 0:
        raise ValueError(f"{name_p}: expected at least one outcome, got an empty array")
    if r.shape != p.shape:
        raise ValueError(f"{name_r}: expected shape {p.shape} (one reward per outcome of "
                         f"{name_p}), got {r.shape}")
    bad = np.flatnonzero(~np.isfinite(p))
    if bad.size:
        raise ValueError(f"{name_p}[{bad[0]}] is {p[bad[0]]}, expected a finite probability")
    bad = np.flatnonzero(p < 0)
    if bad.size:
        raise ValueError(f"{name_p}[{bad[0]}] = {p[bad[0]]:.6g} is negative")
    total = float(np.sum(p))
    if abs(total - 1.0) > SUM_TOL:
        raise ValueError(f"{name_p} sums to {total:.12g}, expected 1 within {SUM_TOL:g}")
    bad = np.flatnonzero(~np.isfinite(r))
    if bad.size:
        raise ValueError(f"{name_r}[{bad[0]}] is {r[bad[0]]}, expected a finite reward")
    return p / total, r


def _as_float_1d(x, name: str) -> np.ndarray:
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(f"{name}: expected a 1-D array of numbers, got {type(x).__name__}")
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name}: expected a 1-D array of numbers ({exc})") from None
    if np.iscomplexobj(arr):
        raise TypeError(f"{name}: expected real numbers, got complex dtype {arr.dtype}")
    if arr.dtype == object:  # a list of numbers with mixed types, Fractions, Decimals...
        try:
            arr = arr.astype(float)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name}: expected a 1-D array of numbers ({exc})") from None
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"{name}: expected a 1-D array of numbers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got shape {arr.shape}")
    return arr.astype(float)


def check_n(n, name: str = "n") -> tuple[np.ndarray, bool]:
    """Validate the number of draws: real values >= 1 (continuous ``n`` allowed).

    Returns a 1-D float array and whether ``n`` was a scalar.
    """
    arr = np.asarray(n)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number)):
        raise TypeError(f"{name}: expected a number or an array of numbers, got {arr.dtype}")
    scalar = arr.ndim == 0
    arr = np.atleast_1d(arr).astype(float)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a scalar or a 1-D array, got shape {arr.shape}")
    bad = np.flatnonzero(~(arr >= 1.0) | ~np.isfinite(arr))
    if bad.size:
        raise ValueError(f"{name}: the number of draws must be a finite real >= 1, "
                         f"got {arr[bad[0]]!r}")
    return arr, scalar


def check_beta(beta, name: str = "beta") -> tuple[np.ndarray, bool]:
    """Validate temperatures: ``beta > 0`` (``inf`` allowed: no tilt)."""
    arr = np.asarray(beta)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name}: expected a number or an array of numbers, got {arr.dtype}")
    scalar = arr.ndim == 0
    arr = np.atleast_1d(arr).astype(float)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a scalar or a 1-D array, got shape {arr.shape}")
    bad = np.flatnonzero(~(arr > 0))
    if bad.size:
        raise ValueError(f"{name} must be > 0 (the KL temperature; use inf for no tilt), "
                         f"got {arr[bad[0]]!r}")
    return arr, scalar


@dataclass(frozen=True, eq=False)
class RewardLevels:
    r"""The reward levels of an outcome distribution, in log space.

    Attributes
    ----------
    values : (J,) distinct reward values, increasing.
    log_mass : (J,) :math:`\log q_j` (``-inf`` for a level of zero mass).
    log_cdf : (J,) :math:`\log F_j`.
    log_cdf_below : (J,) :math:`\log F^-_j = \log F_{j-1}` (``-inf`` for the lowest level).
    log_ratio_below : (J,) :math:`\log(F^-_j / F_j)` computed without cancellation.
    log_tail : (J,) :math:`\log G_j = \log(1 - F_j)` (``-inf`` for the top level).
    level_of : (K,) the level index of each outcome (``None`` for levels built directly).

    Computed on first use (needed only for astronomically many draws or tails below the
    smallest double): ``log_neg_log_cdf`` :math:`= \log(-\log F_j)` and
    ``log_neg_log_ratio`` :math:`= \log(-\log(F^-_j/F_j))`.
    """

    values: np.ndarray
    log_mass: np.ndarray
    log_cdf: np.ndarray
    log_cdf_below: np.ndarray
    log_ratio_below: np.ndarray
    log_tail: np.ndarray
    level_of: np.ndarray | None = None

    @cached_property
    def log_neg_log_cdf(self) -> np.ndarray:
        # log(-log F): from the tail G = 1 - F where F > 1/2 (accurate when G underflows)
        with np.errstate(divide="ignore", invalid="ignore"):
            small_tail = self.log_tail < np.log(0.5)
            return np.where(small_tail,
                            _log_neg_log1m(np.where(small_tail, self.log_tail, -1.0)),
                            np.log(-self.log_cdf))

    @cached_property
    def log_neg_log_ratio(self) -> np.ndarray:
        # log(-log(F^-/F)) = log(-log(1 - q/F))
        with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
            log_frac = self.log_mass - self.log_cdf
            small = log_frac < np.log(0.5)
            out = np.where(small, _log_neg_log1m(np.where(small, log_frac, -1.0)),
                           np.log(-self.log_ratio_below))
            return np.where(np.isneginf(self.log_mass) | np.isneginf(self.log_cdf), -np.inf,
                            out)

    @property
    def J(self) -> int:
        return int(self.values.size)

    @property
    def mass(self) -> np.ndarray:
        return np.exp(self.log_mass)

    @property
    def cdf(self) -> np.ndarray:
        return np.exp(self.log_cdf)

    @property
    def cdf_below(self) -> np.ndarray:
        return np.exp(self.log_cdf_below)

    def __repr__(self) -> str:
        return (f"RewardLevels(J={self.J}, values in [{self.values[0]:.6g}, "
                f"{self.values[-1]:.6g}])")


_CACHE: list[tuple[np.ndarray, np.ndarray, str, RewardLevels]] = []
_CACHE_SIZE = 4
_CACHE_MAX_K = 20_000_000


def reward_levels(p, r, *, tie_break: str = "random") -> RewardLevels:
    r"""Group outcomes into reward levels (``O(K log K)``).

    ``tie_break`` says how BoN chooses among draws of equal reward: ``"random"`` (uniformly
    among the tied draws, so a level's mass is split in proportion to ``p``), ``"first"`` (the
    outcome with the smallest index wins) or ``"last"`` (the largest index wins). The two
    deterministic rules refine the ranking to one level per outcome.

    The last few results are cached (a hit requires arrays equal element by element to a
    cached input, compared exactly), so calling :func:`~mdplab.bon.pmf`,
    :func:`~mdplab.bon.kl`, ... on the same large outcome distribution sorts it once.
    """
    if tie_break not in TIE_BREAKS:
        raise ValueError(f"tie_break: expected one of {TIE_BREAKS}, got {tie_break!r}")
    p, r = check_outcomes(p, r)
    for cp, cr, ct, levels in _CACHE:
        if ct == tie_break and cp.shape == p.shape and np.array_equal(cp, p) \
                and np.array_equal(cr, r):
            return levels
    levels = _build_levels(p, r, tie_break)
    if p.size <= _CACHE_MAX_K:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(0)
        _CACHE.append((p, r, tie_break, levels))
    return levels


def _build_levels(p: np.ndarray, r: np.ndarray, tie_break: str) -> RewardLevels:
    K = p.size
    if tie_break == "random":
        order = np.argsort(r)  # stability is irrelevant: tied outcomes are pooled
        rs = r[order]
        new = np.empty(K, dtype=bool)
        new[0] = True
        np.not_equal(rs[1:], rs[:-1], out=new[1:])
        starts = np.flatnonzero(new)
        values = rs[starts]
        mass = np.add.reduceat(p[order], starts)
        level_sorted = np.cumsum(new) - 1
    else:
        # rank by (reward, preference among ties): "first" puts small indices on top
        idx = np.arange(K)
        key2 = -idx if tie_break == "first" else idx
        order = np.lexsort((key2, r))
        values = r[order]
        mass = p[order]
        level_sorted = idx
    level_of = np.empty(K, dtype=np.intp)
    level_of[order] = level_sorted
    for arr in (values, mass, level_of):
        arr.flags.writeable = False
    return _levels_linear(values, mass, level_of)


def _levels_linear(values: np.ndarray, mass: np.ndarray, level_of) -> RewardLevels:
    """Levels from linear masses (no underflow below ~1e-308): cumulative sums in linear
    space, logs taken at the end, each from the side where it is accurate."""
    F = np.cumsum(mass)
    G = np.cumsum(mass[::-1])[::-1]  # sum_{i >= j}
    G = np.append(G[1:], 0.0)        # strictly above j
    with np.errstate(divide="ignore", invalid="ignore"):
        log_mass = np.log(mass)
        log_cdf = np.where(F <= 0.5, np.log(F), np.log1p(-G))
        log_tail = np.log(G)
    return _finish(values, log_mass, log_cdf, log_tail, level_of)


def _log_neg_log1m(log_x: np.ndarray) -> np.ndarray:
    r""":math:`\log(-\log(1 - x))` from :math:`\log x`, for :math:`x \in [0, 1/2]`, accurate when
    :math:`x` underflows: :math:`\log x + \log(-\log(1-x)/x)`."""
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        x = np.exp(log_x)
        corr = np.where(x > 1e-8, np.log(-np.log1p(-x) / np.where(x > 0, x, 1.0)), x / 2)
    return log_x + corr


def _finish(values, log_mass, log_cdf, log_tail, level_of) -> RewardLevels:
    """Derived log quantities shared by both constructors (see :class:`RewardLevels`)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_cdf = np.where(np.isneginf(log_tail), 0.0, log_cdf)
        log_cdf_below = np.empty_like(log_cdf)
        log_cdf_below[0] = -np.inf
        log_cdf_below[1:] = log_cdf[:-1]
        frac = np.exp(log_mass - log_cdf)                   # q / F
        ratio = np.where(frac < 0.5, np.log1p(-frac), log_cdf_below - log_cdf)
        ratio = np.where(np.isneginf(log_cdf), 0.0, ratio)  # empty prefix: F^- = F = 0
    for arr in (values, log_mass, log_cdf, log_cdf_below, ratio, log_tail):
        arr.flags.writeable = False
    return RewardLevels(values, log_mass, log_cdf, log_cdf_below, ratio, log_tail, level_of)


def levels_from_log_mass(values, log_mass, *, level_of=None) -> RewardLevels:
    """Build :class:`RewardLevels` from increasing values and (normalised) log masses.

    Used for distributions given directly by levels, such as the law of a sum of many
    i.i.d. token rewards whose masses underflow in linear space.
    """
    values = np.asarray(values, dtype=float)
    log_mass = np.asarray(log_mass, dtype=float)
    if values.ndim != 1 or values.shape != log_mass.shape or values.size == 0:
        raise ValueError("levels: values and log_mass must be 1-D arrays of the same length")
    if np.any(np.diff(values) <= 0):
        raise ValueError("levels: values must be strictly increasing")
    lse = np.logaddexp.reduce(log_mass)
    if not abs(lse) <= 1e-9:
        raise ValueError(f"levels: masses sum to exp({lse:.3g}), expected 1 within 1e-9")
    log_mass = log_mass - lse
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = np.logaddexp.accumulate(log_mass)                 # log F_j from below
        upper_incl = np.logaddexp.accumulate(log_mass[::-1])[::-1]  # log sum_{i >= j} q_i
        log_tail = np.append(upper_incl[1:], -np.inf)             # log G_j, strictly above
        from_tail = np.log1p(-np.exp(log_tail))
        log_cdf = np.where(lower <= np.log(0.5), lower, from_tail)
    return _finish(values, log_mass, log_cdf, log_tail, level_of)


def h_divergence_terms(y: np.ndarray) -> np.ndarray:
    r""":math:`h(y) = y e^y - (e^y - 1) \ge 0`, accurate for small ``|y|`` (series).

    With :math:`y = \log(\phi/p)`, :math:`\mathrm{KL}(\phi\|p) = \sum p\,h(y)` whenever
    :math:`\sum p e^y = 1`. ``y = -inf`` (no mass under :math:`\phi`) gives 1.
    """
    y = np.asarray(y, dtype=float)
    small = np.abs(y) < 1e-3
    with np.errstate(over="ignore", invalid="ignore"):
        ey = np.exp(y)
        direct = np.where(np.isneginf(y), 1.0, y * ey - np.expm1(y))
    ys = np.where(small, y, 0.0)
    series = ys * ys * (0.5 + ys * (1.0 / 3.0 + ys * (1.0 / 8.0 + ys / 30.0)))
    return np.where(small, series, direct)


def kl_from_log_ratio(log_mass: np.ndarray, log_ratio: np.ndarray, axis: int = -1) -> np.ndarray:
    r""":math:`\mathrm{KL}(\phi\|p) = \sum_j q_j h(y_j)` from :math:`\log q` and
    :math:`y = \log(\phi/q)`; terms of zero reference mass contribute nothing.

    For :math:`y > 1` the term is evaluated as :math:`\phi_j (y_j - 1) + q_j` with
    :math:`\phi_j = e^{\log q_j + y_j}`, so it survives reference masses that underflow
    while :math:`\phi_j` does not (long sequences).
    """
    log_mass = np.asarray(log_mass, dtype=float)
    y = np.asarray(log_ratio, dtype=float)
    with np.errstate(under="ignore", over="ignore", invalid="ignore"):
        q = np.exp(log_mass)
        big = y > 1.0
        phi = np.exp(np.where(big, log_mass + y, -np.inf))
        terms = np.where(big, phi * (y - 1.0) + q, q * h_divergence_terms(np.where(big, 0.0, y)))
        terms = np.where(np.isneginf(log_mass), 0.0, terms)
    return np.sum(terms, axis=axis)


def expand_to_outcomes(levels: RewardLevels, p: np.ndarray, level_pmf: np.ndarray) -> np.ndarray:
    """Split each level's probability over its outcomes in proportion to ``p``.

    ``level_pmf`` has shape ``(..., J)``; the result has shape ``(..., K)``.
    """
    if levels.level_of is None:
        raise ValueError("these levels were built without outcomes; use the level pmf")
    mass = levels.mass[levels.level_of]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(mass > 0, p / mass, 0.0)  # p(y) / q(level of y), in [0, 1]
    return np.asarray(level_pmf)[..., levels.level_of] * share
