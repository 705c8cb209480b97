r"""Offline data sets for finite-horizon tabular MDPs: behavior policies, sampling, coverage.

Data
----
An offline data set holds :math:`N` trajectories of a finite-horizon MDP (horizon :math:`H`)
collected by a behavior policy :math:`\mu`:
:math:`\mathcal D = \{(s^i_0, a^i_0, r^i_0, \dots, s^i_{H-1}, a^i_{H-1}, r^i_{H-1}, s^i_H)\}_{i<N}`
(:class:`OfflineDataset`: ``states (N, H+1)``, ``actions (N, H)``, ``rewards (N, H)``). The
counts are :math:`n_h(s,a) = \#\{i : s^i_h = s, a^i_h = a\}` and
:math:`n_h(s) = \sum_a n_h(s,a)`. The empirical model (:func:`empirical_model`) is

.. math::

    \hat P_h(s'|s,a) = \frac{\#\{i: (s^i_h, a^i_h, s^i_{h+1}) = (s,a,s')\}}{n_h(s,a)}, \qquad
    \hat r_h(s,a) = \frac{1}{n_h(s,a)} \sum_{i: (s^i_h,a^i_h) = (s,a)} r^i_h,

undefined (zero rows) where :math:`n_h(s,a) = 0`.

Behavior policies with a controlled coverage
--------------------------------------------
:func:`behavior_policy` mixes the optimal policy :math:`\pi^*`, the uniform policy and the
adversarially bad policy :math:`\pi^-` (the minimiser of the value, :math:`\pi^-` optimal for
:math:`-R`) with weights :math:`(w_*, w_u, w_-)`. Two mixtures are offered:

* ``mix="occupancy"`` (default): the data are a mixture of trajectories of the three policies
  (each trajectory picks one policy with probabilities :math:`w`); its state-action occupancy
  is :math:`d^\mu_h = w_* d^{\pi^*}_h + w_u d^{u}_h + w_- d^{\pi^-}_h` and :math:`\mu` is the
  Markov policy with that occupancy, :math:`\mu_h(a|s) = d^\mu_h(s,a)/d^\mu_h(s)` (uniform where
  :math:`d^\mu_h(s) = 0`). Then :math:`C^*(\mu) \le 1/w_*` and :math:`C^*` decreases
  monotonically in :math:`w_*` for a fixed ratio :math:`w_u : w_-`, so
  :func:`behavior_with_concentrability` reaches a target :math:`C^*` by bisection.
* ``mix="action"``: the per-state mixture :math:`\mu_h(a|s) = w_* \pi^*_h(a|s) + w_u/A +
  w_- \pi^-_h(a|s)`.

Coverage
--------
The single-policy concentrability coefficient of Rashidinejad, Zhu, Ma, Jiao & Russell (2021,
*Bridging offline RL and imitation learning: a tale of pessimism*, arXiv:2103.12021, Sec. 2-3,
their :math:`C^*` for the episodic MDP; numbering unverified here) is

.. math:: C^* = \max_{h, s, a} \frac{d^{\pi^*}_h(s,a)}{d^\mu_h(s,a)}

(with :math:`0/0 = 0` and :math:`x/0 = \infty` for :math:`x > 0`), computed exactly from the
occupancies of :func:`mdplab.occupancy` (:func:`concentrability`). Its empirical counterpart
replaces :math:`d^\mu_h(s,a)` by :math:`n_h(s,a)/N` (:func:`coverage`).

Files
-----
:meth:`OfflineDataset.save` writes an ``.npz`` file through a temporary file in the same folder
and an atomic rename (a crash leaves the old file or the new one, never a torn file);
:func:`load_dataset` rejects truncated files, missing or unexpected keys and wrong dtypes with a
message naming the file and the problem.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._utils import as_rng
from ..mdp import TabularMDP, _as_float_array, check_policy

__all__ = [
    "Coverage",
    "EmpiricalModel",
    "OfflineDataset",
    "adversarial_policy",
    "behavior_policy",
    "behavior_with_concentrability",
    "check_dataset",
    "concentrability",
    "coverage",
    "empirical_model",
    "load_dataset",
    "sample_dataset",
]

_FORMAT = "mdplab-offline-dataset"
_VERSION = 1
_KEYS = {"format", "version", "S", "A", "states", "actions", "rewards"}


# --------------------------------------------------------------------------- helpers
def _check_finite_horizon(mdp, name: str = "mdp") -> TabularMDP:
    if not isinstance(mdp, TabularMDP):
        raise TypeError(f"{name}: expected a TabularMDP, got {type(mdp).__name__}")
    if mdp.discounted:
        raise ValueError(
            f"{name} is discounted (gamma={mdp.gamma}); the offline tools need a finite-horizon "
            "model: build it with horizon=H"
        )
    return mdp


def _full_policy(mdp: TabularMDP, policy, name: str) -> np.ndarray:
    """``policy`` validated and broadcast to ``(H, S, A)``."""
    arr = _as_float_array(name, policy) if policy is not None else None
    if arr is not None and arr.shape == (mdp.S, mdp.A):
        arr = np.broadcast_to(arr, (mdp.H, mdp.S, mdp.A))
    pi = check_policy(mdp, arr, name=name)
    return np.ascontiguousarray(pi, dtype=np.float64)


def _dense_P(mdp: TabularMDP) -> np.ndarray:
    """Transition kernel as a dense ``(H, S, A, S)`` array."""
    S, A = mdp.S, mdp.A
    out = np.empty((mdp.H, S, A, S))
    for h in range(mdp.H):
        P = mdp.transitions(h)
        P = P.toarray() if hasattr(P, "toarray") else np.asarray(P)
        out[h] = P.reshape(S, A, S)
    return out


def _dense_R(mdp: TabularMDP) -> np.ndarray:
    return np.stack([np.asarray(mdp.rewards(h), dtype=np.float64) for h in range(mdp.H)])


def _sample_rows(cdf_rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draws: index of the first entry of each row of ``cdf_rows`` above ``u``."""
    idx = (u[:, None] >= cdf_rows).sum(axis=1)
    # rounding: the last cumulative sum may be 1 - 1e-16; never return an out-of-range index
    return np.minimum(idx, cdf_rows.shape[1] - 1)


# --------------------------------------------------------------------------- data set
@dataclass(frozen=True, eq=False)
class OfflineDataset:
    r"""``N`` trajectories of a finite-horizon MDP with ``S`` states and ``A`` actions.

    Attributes
    ----------
    states : ndarray of int64, (N, H+1)
        :math:`s^i_0, \dots, s^i_H` (the last column is the state reached after step ``H-1``).
    actions : ndarray of int64, (N, H)
    rewards : ndarray of float64, (N, H)
    S, A : int

    Construction validates everything: an empty data set, indices out of range, non-integer
    indices and non-finite rewards raise ``ValueError`` naming the array and the entry.
    The arrays are stored read-only.
    """

    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    S: int
    A: int

    def __post_init__(self):
        for name in ("S", "A"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"{name}: expected a positive int, got {type(v).__name__}")
            if v < 1:
                raise ValueError(f"{name} = {v} must be >= 1")
            object.__setattr__(self, name, int(v))
        states = _int_array("states", self.states, 2)
        actions = _int_array("actions", self.actions, 2)
        rewards = _as_float_array("rewards", self.rewards)  # TypeError for complex, strings
        if actions.shape[0] == 0 or states.shape[0] == 0:
            raise ValueError("the data set is empty: states/actions have 0 trajectories")
        N, H = actions.shape
        if H < 1:
            raise ValueError(f"actions has shape {actions.shape}: need at least one step")
        if states.shape != (N, H + 1):
            raise ValueError(
                f"states has shape {states.shape}, expected ({N}, {H + 1}) to match actions "
                f"{actions.shape} (one more state than actions per trajectory)"
            )
        if rewards.shape != (N, H):
            raise ValueError(f"rewards has shape {rewards.shape}, expected ({N}, {H})")
        for name, arr, hi in (("states", states, self.S), ("actions", actions, self.A)):
            bad = (arr < 0) | (arr >= hi)
            if bad.any():
                i, t = np.argwhere(bad)[0]
                raise ValueError(
                    f"{name}[{i}, {t}] = {arr[i, t]} is out of range: expected 0 <= {name[:-1]} "
                    f"< {hi}"
                )
        if not np.all(np.isfinite(rewards)):
            i, t = np.argwhere(~np.isfinite(rewards))[0]
            raise ValueError(f"rewards[{i}, {t}] is {rewards[i, t]}, expected a finite number")
        for name, arr in (("states", states), ("actions", actions), ("rewards", rewards)):
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)

    # ------------------------------------------------------------------ shape
    @property
    def N(self) -> int:
        """Number of trajectories."""
        return int(self.actions.shape[0])

    @property
    def H(self) -> int:
        """Horizon (steps per trajectory)."""
        return int(self.actions.shape[1])

    def __len__(self) -> int:
        return self.N

    def __repr__(self) -> str:
        return f"OfflineDataset(N={self.N}, H={self.H}, S={self.S}, A={self.A})"

    def counts(self) -> np.ndarray:
        r""":math:`n_h(s,a)`, shape ``(H, S, A)`` (float64)."""
        H, S, A = self.H, self.S, self.A
        flat = (np.arange(H) * S + self.states[:, :-1]) * A + self.actions
        return np.bincount(flat.ravel(), minlength=H * S * A).astype(np.float64).reshape(H, S, A)

    def subset(self, n: int) -> OfflineDataset:
        """The first ``n`` trajectories (nested data sets for learning curves)."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= self.N:
            raise ValueError(f"n = {n!r}: expected an int in [1, {self.N}]")
        return OfflineDataset(self.states[:n], self.actions[:n], self.rewards[:n], self.S, self.A)

    def __eq__(self, other) -> bool:
        if not isinstance(other, OfflineDataset):
            return NotImplemented
        return (
            (self.S, self.A) == (other.S, other.A)
            and np.array_equal(self.states, other.states)
            and np.array_equal(self.actions, other.actions)
            and np.array_equal(self.rewards, other.rewards)
        )

    __hash__ = None  # type: ignore[assignment]

    # ------------------------------------------------------------------ files
    def save(self, path) -> Path:
        """Write the data set to ``path`` (``.npz`` appended if missing), atomically.

        The file is written to a temporary file in the same folder, flushed to disk and renamed
        over ``path``; an interrupted write never leaves a partial file at ``path``.
        """
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez_compressed(
                    f,
                    format=np.array(_FORMAT),
                    version=np.array(_VERSION, dtype=np.int64),
                    S=np.array(self.S, dtype=np.int64),
                    A=np.array(self.A, dtype=np.int64),
                    states=self.states,
                    actions=self.actions,
                    rewards=self.rewards,
                )
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return path

    @classmethod
    def load(cls, path) -> OfflineDataset:
        """Read a data set written by :meth:`save` (see :func:`load_dataset`)."""
        return load_dataset(path)


def _int_array(name: str, x, ndim: int) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind == "O":  # an object array of numbers is accepted like a list
        try:
            arr = np.array(arr.tolist())
        except (TypeError, ValueError):
            pass
    if arr.ndim != ndim:
        raise ValueError(f"{name} has shape {arr.shape}, expected a {ndim}-d array")
    if arr.dtype.kind in "iu":
        return np.array(arr, dtype=np.int64)
    if arr.dtype.kind == "b" or arr.dtype.kind not in "f":
        raise TypeError(f"{name}: expected integer indices, got dtype {arr.dtype}")
    if arr.size and (not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr))):
        idx = np.argwhere(~np.isfinite(arr) | (arr != np.round(arr)))[0]
        raise ValueError(
            f"{name}[{', '.join(map(str, idx))}] = {arr[tuple(idx)]} is not an integer index"
        )
    return arr.astype(np.int64)


def load_dataset(path) -> OfflineDataset:
    """Load and validate a data set written by :meth:`OfflineDataset.save`.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` (naming the file) for a
    truncated or corrupted file, a file that is not an mdplab data set, missing or unexpected
    keys, wrong dtypes or shapes, and out-of-range indices.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a file path, got {type(path).__name__}")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such data set file: {path}")
    bad = f"{path} is not a valid mdplab offline data set"
    try:
        with np.load(path, allow_pickle=False) as f:
            keys = set(f.files)
            missing, extra = sorted(_KEYS - keys), sorted(keys - _KEYS)
            if missing or extra:
                raise ValueError(
                    f"{bad}: expected the keys {sorted(_KEYS)}; missing {missing}, "
                    f"unexpected {extra}"
                )
            arrays = {k: f[k] for k in _KEYS}
    except ValueError as exc:
        if str(exc).startswith(bad):
            raise
        raise ValueError(f"{bad}: the file is truncated or corrupted ({exc})") from None
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error, KeyError) as exc:
        raise ValueError(f"{bad}: the file is truncated or corrupted ({exc})") from None
    fmt = arrays["format"]
    if fmt.dtype.kind != "U" or fmt.shape != () or str(fmt) != _FORMAT:
        raise ValueError(f"{bad}: its 'format' entry is {fmt!r}, expected {_FORMAT!r}")
    for k in ("version", "S", "A"):
        if arrays[k].dtype.kind not in "iu" or arrays[k].shape != ():
            raise ValueError(
                f"{bad}: {k!r} has dtype {arrays[k].dtype} and shape {arrays[k].shape}, "
                "expected an integer scalar"
            )
    if int(arrays["version"]) != _VERSION:
        raise ValueError(f"{bad}: format version {int(arrays['version'])} is not supported")
    for k, kinds, what in (
        ("states", "iu", "an integer"),
        ("actions", "iu", "an integer"),
        ("rewards", "f", "a floating-point"),
    ):
        if arrays[k].dtype.kind not in kinds:
            raise ValueError(f"{bad}: {k!r} has dtype {arrays[k].dtype}, expected {what} dtype")
    try:
        return OfflineDataset(
            arrays["states"],
            arrays["actions"],
            arrays["rewards"],
            int(arrays["S"]),
            int(arrays["A"]),
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{bad}: {exc}") from None


def check_dataset(dataset: OfflineDataset, mdp: TabularMDP) -> OfflineDataset:
    """Check that ``dataset`` could have come from ``mdp``; return it unchanged.

    Raises ``ValueError`` if the sizes differ (``S``, ``A``, ``H``), if a trajectory starts in a
    state with ``mu = 0``, or if it contains a transition ``(h, s, a) -> s'`` with
    ``P_h(s'|s, a) = 0`` (the message names the trajectory, the step and the transition).
    """
    if not isinstance(dataset, OfflineDataset):
        raise TypeError(f"dataset: expected an OfflineDataset, got {type(dataset).__name__}")
    _check_finite_horizon(mdp)
    if (dataset.S, dataset.A, dataset.H) != (mdp.S, mdp.A, mdp.H):
        raise ValueError(
            f"dataset has S={dataset.S}, A={dataset.A}, H={dataset.H} but mdp has S={mdp.S}, "
            f"A={mdp.A}, H={mdp.H}"
        )
    s0 = dataset.states[:, 0]
    bad0 = np.asarray(mdp.mu)[s0] <= 0
    if bad0.any():
        i = int(np.argmax(bad0))
        raise ValueError(
            f"dataset trajectory {i} starts in state {s0[i]}, which has probability 0 under mdp.mu"
        )
    S, A = mdp.S, mdp.A
    for h in range(dataset.H):
        P = mdp.transitions(h)
        rows = dataset.states[:, h] * A + dataset.actions[:, h]
        nxt = dataset.states[:, h + 1]
        p = np.asarray(P[rows, nxt]).ravel()
        bad = p <= 0
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"dataset trajectory {i}, step {h}: the transition (s={dataset.states[i, h]}, "
                f"a={dataset.actions[i, h]}) -> s'={nxt[i]} has probability 0 under the mdp "
                f"(P[{h}, {dataset.states[i, h]}, {dataset.actions[i, h]}, {nxt[i]}] = 0): the "
                "data set does not come from this model"
            )
    del S
    return dataset


def sample_dataset(mdp: TabularMDP, behavior, n: int, *, rng=None,
                   rewards: str = "mean") -> OfflineDataset:
    r"""``n`` trajectories of ``behavior`` in ``mdp`` (finite horizon).

    Parameters
    ----------
    mdp : TabularMDP
        Finite-horizon model (``P``, ``R`` may depend on the step).
    behavior : array (S, A) or (H, S, A)
        Behavior policy.
    n : int
        Number of trajectories (``>= 1``).
    rng : int or Generator
        Seed: the same seed gives the same data set.
    rewards : {"mean", "bernoulli"}
        ``"mean"``: the observed reward is :math:`R_h(s,a)`; ``"bernoulli"``: it is a
        :math:`\mathrm{Bernoulli}(R_h(s,a))` draw (needs ``R`` in [0, 1]).

    Notes
    -----
    Vectorised over trajectories: per step, one uniform per trajectory for the action, the next
    state and the reward (inverse CDF), drawn in a fixed order, so data sets of two models with
    the same behavior and kernel but different reward means are coupled (common random numbers).
    """
    _check_finite_horizon(mdp)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n: expected an int >= 1, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"n = {n}: a data set needs at least one trajectory")
    if rewards not in ("mean", "bernoulli"):
        raise ValueError(f"rewards = {rewards!r}; expected 'mean' or 'bernoulli'")
    pi = _full_policy(mdp, behavior, "behavior")
    R = _dense_R(mdp)
    if rewards == "bernoulli" and (R.min() < 0 or R.max() > 1):
        raise ValueError(
            f"rewards='bernoulli' needs mdp.R in [0, 1]; it spans [{R.min():.6g}, {R.max():.6g}]"
        )
    gen = as_rng(rng)
    H, S, A = mdp.H, mdp.S, mdp.A
    u = gen.random((H + 1, 3, n))
    states = np.empty((n, H + 1), dtype=np.int64)
    actions = np.empty((n, H), dtype=np.int64)
    rew = np.empty((n, H))
    states[:, 0] = _sample_rows(np.cumsum(mdp.mu)[None, :].repeat(n, 0), u[H, 0])
    for h in range(H):
        s = states[:, h]
        a = _sample_rows(np.cumsum(pi[h][s], axis=1), u[h, 0])
        actions[:, h] = a
        P = mdp.transitions(h)
        rows = P[s * A + a]
        rows = rows.toarray() if hasattr(rows, "toarray") else np.asarray(rows)
        states[:, h + 1] = _sample_rows(np.cumsum(rows, axis=1), u[h, 1])
        r = R[h][s, a]
        rew[:, h] = (u[h, 2] < r).astype(np.float64) if rewards == "bernoulli" else r
    del S
    return OfflineDataset(states, actions, rew, mdp.S, mdp.A)


# --------------------------------------------------------------------------- behavior
def adversarial_policy(mdp: TabularMDP) -> np.ndarray:
    r"""The value-minimising deterministic policy :math:`\pi^- = \arg\min_\pi V^\pi`
    (the optimal policy for the rewards :math:`-R`), ``(H, S, A)``."""
    from ..solvers import solve

    _check_finite_horizon(mdp)
    R = np.asarray(mdp.R)
    return np.asarray(solve(mdp.with_(R=-R)).policy)


def behavior_policy(mdp: TabularMDP, weights=(0.5, 0.5, 0.0), *, mix: str = "occupancy",
                    optimal=None, bad=None) -> np.ndarray:
    r"""Mixture of the optimal, the uniform and the adversarial policy, ``(H, S, A)``.

    Parameters
    ----------
    weights : (w_opt, w_uniform, w_bad)
        Non-negative, summing to 1.
    mix : {"occupancy", "action"}
        ``"occupancy"``: the Markov policy whose occupancy is the mixture of the three
        occupancies (a trajectory-level mixture); ``"action"``: the per-state mixture.
    optimal, bad : array (H, S, A), optional
        The policies to mix (default: ``solve(mdp).policy`` and :func:`adversarial_policy`).
    """
    from ..solvers import occupancy, solve

    _check_finite_horizon(mdp)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (3,) or not np.all(np.isfinite(w)) or np.any(w < 0) or abs(w.sum() - 1) > 1e-9:
        raise ValueError(
            f"weights = {weights!r}: expected three non-negative numbers (optimal, uniform, bad) "
            "summing to 1"
        )
    if mix not in ("occupancy", "action"):
        raise ValueError(f"mix = {mix!r}; expected 'occupancy' or 'action'")
    H, S, A = mdp.H, mdp.S, mdp.A
    pis = [
        _full_policy(mdp, solve(mdp).policy if optimal is None else optimal, "optimal"),
        np.full((H, S, A), 1.0 / A),
        _full_policy(mdp, adversarial_policy(mdp) if bad is None else bad, "bad"),
    ]
    if mix == "action":
        return sum(wi * p for wi, p in zip(w, pis, strict=True))
    d = sum(wi * occupancy(mdp, p) for wi, p in zip(w, pis, strict=True) if wi > 0)
    ds = d.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = np.where(ds > 0, d / np.where(ds > 0, ds, 1.0), 1.0 / A)
    return mu / mu.sum(axis=-1, keepdims=True)


def concentrability(mdp: TabularMDP, behavior, policy=None) -> float:
    r"""Single-policy concentrability :math:`\max_{h,s,a} d^\pi_h(s,a) / d^\mu_h(s,a)`.

    ``policy`` defaults to the optimal policy ``solve(mdp).policy``; ``0/0`` counts as 0 and a
    pair visited by ``policy`` but never by ``behavior`` gives ``inf``. Exact (occupancies from
    :func:`mdplab.occupancy`).
    """
    from ..solvers import occupancy, solve

    _check_finite_horizon(mdp)
    pi = _full_policy(mdp, solve(mdp).policy if policy is None else policy, "policy")
    mu = _full_policy(mdp, behavior, "behavior")
    return _ratio_max(occupancy(mdp, pi), occupancy(mdp, mu))


def _ratio_max(d_pi: np.ndarray, d_mu: np.ndarray) -> float:
    # occupancies below 1e-300 are rounding of exact zeros: a pair is covered iff d_mu > 0
    pos = d_pi > 0
    if np.any(pos & (d_mu <= 0)):
        return float("inf")
    if not pos.any():
        return 0.0
    return float(np.max(d_pi[pos] / d_mu[pos]))


def behavior_with_concentrability(mdp: TabularMDP, C: float, *, uniform_share: float = 1.0,
                                  tol: float = 1e-10) -> tuple[np.ndarray, float]:
    r"""Behavior policy (occupancy mixture) with single-policy concentrability ``C``.

    The behavior is :math:`w\,\pi^* + (1-w)\,\nu` at the occupancy level, with
    :math:`\nu` = ``uniform_share`` uniform + ``1 - uniform_share`` adversarial;
    :math:`C^*(w) = \max d^*/(w d^* + (1-w) d^\nu)` is continuous and non-increasing in ``w``,
    from :math:`C^*(\nu)` at ``w = 0`` to 1 at ``w = 1``, and ``w`` is found by bisection.

    Returns
    -------
    (behavior (H, S, A), w)
    """
    from ..solvers import occupancy, solve

    _check_finite_horizon(mdp)
    if not isinstance(C, (int, float, np.integer, np.floating)) or isinstance(C, bool):
        raise TypeError(f"C: expected a number >= 1, got {type(C).__name__}")
    C = float(C)
    if not (np.isfinite(C) and C >= 1):
        raise ValueError(f"C = {C!r}: a concentrability coefficient is >= 1")
    if not 0 <= uniform_share <= 1:
        raise ValueError(f"uniform_share = {uniform_share!r} must lie in [0, 1]")
    pi_star = _full_policy(mdp, solve(mdp).policy, "optimal")
    bad = adversarial_policy(mdp)
    d_star = occupancy(mdp, pi_star)
    d_nu = uniform_share * occupancy(mdp, np.full_like(pi_star, 1.0 / mdp.A))
    if uniform_share < 1:
        d_nu = d_nu + (1 - uniform_share) * occupancy(mdp, bad)

    def c_of(w):
        return _ratio_max(d_star, w * d_star + (1 - w) * d_nu)

    c_max = c_of(0.0)
    if C > c_max * (1 + 1e-12):
        raise ValueError(
            f"C = {C:g} is not reachable: the largest concentrability of this family (w = 0) "
            f"is {c_max:.6g}; lower uniform_share or C"
        )
    lo, hi = 0.0, 1.0  # c_of(lo) >= C >= c_of(hi)
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if c_of(mid) > C:
            lo = mid
        else:
            hi = mid
    w = hi
    weights = (w, (1 - w) * uniform_share, (1 - w) * (1 - uniform_share))
    return behavior_policy(mdp, weights, optimal=pi_star, bad=bad), w


# --------------------------------------------------------------------------- coverage
@dataclass(frozen=True)
class Coverage:
    r"""Coverage of a data set.

    Attributes
    ----------
    counts : (H, S, A)
        :math:`n_h(s,a)`.
    state_counts : (H, S)
        :math:`n_h(s)`.
    N : int
        Number of trajectories.
    C_star : float
        Empirical concentrability :math:`\max d^{\pi}_h(s,a) / (n_h(s,a)/N)` of the comparator
        (``nan`` without a model).
    missing_mass : float
        :math:`\frac1H \sum_h \sum_{(s,a): n_h(s,a)=0} d^{\pi}_h(s,a)`: share of the comparator's
        occupancy on pairs absent from the data (``nan`` without a model).
    covered_pairs : float
        Fraction of the ``H*S*A`` step-state-action triples seen at least once.
    """

    counts: np.ndarray
    state_counts: np.ndarray
    N: int
    C_star: float
    missing_mass: float
    covered_pairs: float


def coverage(dataset: OfflineDataset, mdp: TabularMDP | None = None, policy=None) -> Coverage:
    """Counts and coverage of ``dataset``; with ``mdp``, the empirical concentrability and the
    missing mass of ``policy`` (default: the optimal policy of ``mdp``)."""
    from ..solvers import occupancy, solve

    if not isinstance(dataset, OfflineDataset):
        raise TypeError(f"dataset: expected an OfflineDataset, got {type(dataset).__name__}")
    n = dataset.counts()
    C, miss = float("nan"), float("nan")
    if mdp is not None:
        check_dataset(dataset, mdp)
        pi = _full_policy(mdp, solve(mdp).policy if policy is None else policy, "policy")
        d = occupancy(mdp, pi)
        C = _ratio_max(d, n / dataset.N)
        miss = float(d[n == 0].sum() / mdp.H)
    return Coverage(
        counts=n,
        state_counts=n.sum(-1),
        N=dataset.N,
        C_star=C,
        missing_mass=miss,
        covered_pairs=float(np.mean(n > 0)),
    )


# --------------------------------------------------------------------------- empirical model
@dataclass(frozen=True)
class EmpiricalModel:
    r"""Count-based model of a data set.

    ``P (H, S, A, S)`` and ``R (H, S, A)`` are the empirical kernel and mean rewards (zero rows
    where ``counts == 0``), ``mu (S,)`` the empirical initial distribution.
    """

    P: np.ndarray
    R: np.ndarray
    counts: np.ndarray
    mu: np.ndarray

    def mdp(self, mu=None) -> TabularMDP:
        """A :class:`TabularMDP` of the empirical model (``horizon = H``). Pairs absent from the
        data get reward 0 and a self-loop (the least favourable completion when rewards are
        non-negative). ``mu`` defaults to the empirical initial distribution."""
        H, S, A = self.R.shape
        P = self.P.copy()
        unseen = self.counts == 0
        hh, ss, aa = np.nonzero(unseen)
        P[hh, ss, aa, ss] = 1.0
        return TabularMDP(P, self.R, horizon=H, mu=self.mu if mu is None else mu)


def empirical_model(dataset: OfflineDataset) -> EmpiricalModel:
    """Maximum-likelihood model of ``dataset`` (see the module docstring)."""
    if not isinstance(dataset, OfflineDataset):
        raise TypeError(f"dataset: expected an OfflineDataset, got {type(dataset).__name__}")
    H, S, A, N = dataset.H, dataset.S, dataset.A, dataset.N
    s, a, s2 = dataset.states[:, :-1], dataset.actions, dataset.states[:, 1:]
    sa = (np.arange(H) * S + s) * A + a  # flat (h, s, a)
    trans = np.bincount((sa * S + s2).ravel(), minlength=H * S * A * S).astype(np.float64)
    trans = trans.reshape(H, S, A, S)
    rsum = np.bincount(sa.ravel(), weights=dataset.rewards.ravel(), minlength=H * S * A)
    rsum = rsum.reshape(H, S, A)
    n = trans.sum(-1)
    safe = np.where(n > 0, n, 1.0)
    mu = np.bincount(dataset.states[:, 0], minlength=S) / N
    return EmpiricalModel(P=trans / safe[..., None], R=rsum / safe, counts=n, mu=mu)
