r"""Tabular Markov decision processes: the model, its validation, policies and converters.

One array layout, stated once (see ``docs/design.md``):

* ``P``: transition kernel, dense ``(S, A, S)`` with ``P[s, a, s'] = Pr(s' | s, a)``, or
  time-inhomogeneous ``(H, S, A, S)``; sparse as a ``scipy.sparse.csr_array`` of shape
  ``(S*A, S)`` (row ``s*A + a``) or ``(H*S*A, S)`` (row ``(h*S + s)*A + a``).
* ``R``: expected reward ``(S, A)`` or time-indexed ``(H, S, A)``.
* ``mu``: initial state distribution ``(S,)`` (uniform when ``None``).
* A policy is a row-stochastic array ``(S, A)`` (stationary) or ``(H, S, A)``.

A model is either *discounted* (``gamma`` in :math:`[0, 1)`, infinite horizon, stationary
``P`` and ``R``) or *finite-horizon* (``horizon = H``, undiscounted, ``P``/``R`` may depend on
the step :math:`h = 0, \dots, H-1`). The objective of a policy :math:`\pi` with KL temperature
:math:`\beta \ge 0` and reference policy :math:`\pi_{\rm ref}` is

.. math::

    J(\pi) = \mathbb{E}\Big[\sum_t \gamma^t \big(R(s_t, a_t)
             - \beta\, \mathrm{KL}(\pi(\cdot|s_t) \,\|\, \pi_{\rm ref}(\cdot|s_t))\big)\Big],
    \qquad s_0 \sim \mu,

(with :math:`\gamma = 1` and :math:`t < H` in the finite-horizon case); see
:mod:`mdplab.solvers` for the Bellman equations.

Models are immutable: their arrays are read-only views. Validation is eager and names the
argument, the index and the value; :func:`check_mdp` exposes the same checks as a user tool.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ._utils import check_dense_fits

__all__ = [
    "TabularMDP",
    "check_mdp",
    "check_policy",
    "uniform_policy",
    "deterministic_policy",
    "from_mdptoolbox",
    "from_quantecon",
    "from_gymnasium_dict",
    "load_mdp",
]

#: Tolerance on the row sums of transition kernels, policies and ``mu``.
ROW_SUM_TOL = 1e-9
_FORMAT_VERSION = 1


def _fmt_index(idx: tuple[int, ...]) -> str:
    return ", ".join(str(int(i)) for i in idx)


def _check_finite_nonneg(name: str, arr: np.ndarray, shape_names: str) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = np.argwhere(bad)[0]
        raise ValueError(
            f"{name}[{_fmt_index(idx)}] is {arr[tuple(idx)]}, expected a finite number"
        )
    neg = arr < 0
    if neg.any():
        idx = np.argwhere(neg)[0]
        raise ValueError(
            f"{name}[{_fmt_index(idx)}] = {arr[tuple(idx)]:.6g} is negative; "
            f"{name} {shape_names} must be non-negative"
        )


def _check_rows_sum_to_one(name: str, arr: np.ndarray) -> None:
    """``arr`` sums to 1 along its last axis within ``ROW_SUM_TOL`` (message names the row)."""
    sums = arr.sum(axis=-1)
    bad = np.abs(sums - 1.0) > ROW_SUM_TOL
    if bad.any():
        idx = np.argwhere(bad)[0]
        where = f"{name}[{_fmt_index(idx)}, :]" if arr.ndim > 1 else name
        raise ValueError(
            f"{where} sums to {sums[tuple(idx)]:.12g}, expected 1 within {ROW_SUM_TOL:g}"
        )


def _as_float_array(name: str, x) -> np.ndarray:
    if sp.issparse(x):
        raise TypeError(f"{name}: expected a dense array, got a scipy sparse matrix")
    if np.iscomplexobj(x):
        raise TypeError(f"{name}: expected real numbers, got complex values")
    try:
        arr = np.array(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected an array of numbers ({exc})") from None
    return arr


def _readonly(arr: np.ndarray) -> np.ndarray:
    arr.flags.writeable = False
    return arr


class TabularMDP:
    r"""A finite Markov decision process (immutable).

    Parameters
    ----------
    P : array_like or scipy.sparse array
        Transition kernel: dense ``(S, A, S)``, time-inhomogeneous ``(H, S, A, S)``, or sparse
        CSR ``(S*A, S)`` / ``(H*S*A, S)``. Every row must be a distribution (within 1e-9).
    R : array_like
        Expected rewards ``(S, A)`` or ``(H, S, A)``; finite.
    gamma : float, optional
        Discount factor in ``[0, 1)`` for an infinite-horizon discounted problem.
    horizon : int, optional
        Number of steps ``H >= 1`` for a finite-horizon undiscounted problem. Exactly one of
        ``gamma`` and ``horizon`` must be given.
    mu : array_like, optional
        Initial state distribution ``(S,)``; uniform when ``None``.

    Attributes
    ----------
    P, R, mu, gamma, horizon, S, A, H
        ``H`` is ``horizon`` (``None`` for discounted models).
    is_sparse : bool
        ``P`` is stored as CSR.
    time_varying : bool
        ``P`` or ``R`` depends on the step (finite horizon only).

    Examples
    --------
    >>> import numpy as np, mdplab as ml
    >>> P = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]]])
    >>> R = np.array([[0.0, 1.0], [2.0, 0.0]])
    >>> mdp = ml.TabularMDP(P, R, gamma=0.9)
    >>> mdp.S, mdp.A
    (2, 2)
    """

    __slots__ = ("_P", "_R", "_mu", "_gamma", "_horizon", "_S", "_A", "_p_time", "_r_time")

    def __init__(self, P, R, *, gamma=None, horizon=None, mu=None):
        if (gamma is None) == (horizon is None):
            raise ValueError(
                "give exactly one of gamma (discounted) and horizon (finite horizon); "
                f"got gamma={gamma!r}, horizon={horizon!r}"
            )
        if gamma is not None:
            if isinstance(gamma, bool) or not isinstance(
                gamma, (int, float, np.floating, np.integer)
            ):
                raise TypeError(f"gamma: expected a float in [0, 1), got {type(gamma).__name__}")
            gamma = float(gamma)
            if not (0.0 <= gamma < 1.0):
                raise ValueError(f"gamma = {gamma!r} is outside [0, 1)")
        if horizon is not None:
            if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)):
                raise TypeError(f"horizon: expected a positive int, got {type(horizon).__name__}")
            horizon = int(horizon)
            if horizon < 1:
                raise ValueError(f"horizon = {horizon} must be >= 1")

        R = _as_float_array("R", R)
        if R.ndim not in (2, 3):
            raise ValueError(f"R has shape {R.shape}, expected (S, A) or (H, S, A)")
        S, A = R.shape[-2:]
        if S < 1 or A < 1:
            raise ValueError(f"R has shape {R.shape}: need at least one state and one action")
        r_time = R.ndim == 3
        if not np.all(np.isfinite(R)):
            idx = np.argwhere(~np.isfinite(R))[0]
            raise ValueError(f"R[{_fmt_index(idx)}] is {R[tuple(idx)]}, expected a finite number")

        if sp.issparse(P):
            if np.iscomplexobj(P.data):
                raise TypeError("P: expected real numbers, got a complex sparse matrix")
            P = sp.csr_array(P, dtype=np.float64)
            P.sum_duplicates()
            P.sort_indices()
            if P.shape[1] != S:
                raise ValueError(
                    f"sparse P has shape {P.shape}: its {P.shape[1]} columns must equal S = {S} "
                    f"(from R with shape {R.shape})"
                )
            rows = P.shape[0]
            if rows == S * A:
                p_time = False
            elif rows % (S * A) == 0 and rows > S * A:
                p_time = True
                p_h = rows // (S * A)
            else:
                raise ValueError(
                    f"sparse P has {rows} rows, expected S*A = {S * A} or H*S*A "
                    f"(S = {S}, A = {A} from R with shape {R.shape})"
                )
            data = P.data
            if not np.all(np.isfinite(data)):
                raise ValueError("sparse P has non-finite entries (NaN or inf)")
            if np.any(data < 0):
                k = int(np.argmax(data < 0))
                row = int(np.searchsorted(P.indptr, k, side="right") - 1)
                raise ValueError(
                    f"P[row {row}, {P.indices[k]}] = {data[k]:.6g} is negative; P must be "
                    "non-negative"
                )
            sums = np.asarray(P.sum(axis=1)).ravel()
            bad = np.abs(sums - 1.0) > ROW_SUM_TOL
            if bad.any():
                row = int(np.argmax(bad))
                h, rem = divmod(row, S * A)
                s, a = divmod(rem, A)
                where = f"P[{h}, {s}, {a}, :]" if p_time else f"P[{s}, {a}, :]"
                raise ValueError(
                    f"{where} (sparse row {row}) sums to {sums[row]:.12g}, expected 1 within "
                    f"{ROW_SUM_TOL:g}"
                )
            for arr in (P.data, P.indices, P.indptr):
                arr.flags.writeable = False
        else:
            P = _as_float_array("P", P)
            if P.ndim == 3:
                p_time = False
                expected = (S, A, S)
            elif P.ndim == 4:
                p_time = True
                p_h = P.shape[0]
                expected = (p_h, S, A, S)
            else:
                raise ValueError(
                    f"P has shape {P.shape}, expected (S, A, S) or (H, S, A, S) "
                    f"with S = {S}, A = {A} from R"
                )
            if P.shape != expected:
                raise ValueError(
                    f"P has shape {P.shape} but R has shape {R.shape}: expected P of shape "
                    f"{expected}"
                )
            _check_finite_nonneg("P", P, "(transition probabilities)")
            _check_rows_sum_to_one("P", P)
            _readonly(P)

        if gamma is not None and (p_time or r_time):
            raise ValueError(
                "time-indexed P or R needs a finite horizon: pass horizon=H instead of gamma"
            )
        if horizon is not None:
            if p_time and p_h != horizon:
                raise ValueError(f"P has {p_h} time steps but horizon = {horizon}")
            if r_time and R.shape[0] != horizon:
                raise ValueError(f"R has {R.shape[0]} time steps but horizon = {horizon}")

        if mu is None:
            mu = np.full(S, 1.0 / S)
        else:
            mu = _as_float_array("mu", mu)
            if mu.shape != (S,):
                raise ValueError(f"mu has shape {mu.shape}, expected ({S},)")
            _check_finite_nonneg("mu", mu, "(initial distribution)")
            if abs(mu.sum() - 1.0) > ROW_SUM_TOL:
                raise ValueError(
                    f"mu sums to {mu.sum():.12g}, expected 1 within {ROW_SUM_TOL:g}: "
                    "mu is not a distribution"
                )

        init = object.__setattr__
        init(self, "_P", P)
        init(self, "_R", _readonly(R))
        init(self, "_mu", _readonly(mu))
        init(self, "_gamma", gamma)
        init(self, "_horizon", horizon)
        init(self, "_S", int(S))
        init(self, "_A", int(A))
        init(self, "_p_time", bool(p_time))
        init(self, "_r_time", bool(r_time))

    # ------------------------------------------------------------------ attributes
    P = property(lambda self: self._P, doc="Transition kernel (read-only).")
    R = property(lambda self: self._R, doc="Expected rewards (read-only).")
    mu = property(lambda self: self._mu, doc="Initial state distribution (read-only).")
    gamma = property(lambda self: self._gamma, doc="Discount factor, or None (finite horizon).")
    horizon = property(lambda self: self._horizon, doc="Horizon H, or None (discounted).")
    H = horizon
    S = property(lambda self: self._S, doc="Number of states.")
    A = property(lambda self: self._A, doc="Number of actions.")

    @property
    def is_sparse(self) -> bool:
        return sp.issparse(self._P)

    @property
    def discounted(self) -> bool:
        return self._gamma is not None

    @property
    def time_varying(self) -> bool:
        """``P`` or ``R`` is indexed by the step ``h`` (finite horizon only)."""
        return self._p_time or self._r_time

    @property
    def policy_shape(self) -> tuple[int, ...]:
        """Shape of a policy: ``(S, A)`` when discounted, ``(H, S, A)`` with a finite horizon."""
        return (self._S, self._A) if self.discounted else (self._horizon, self._S, self._A)

    def __reduce__(self):  # pickling (multiprocessing, Dask): rebuild through the constructor
        return (_rebuild, (self._P, self._R, self._gamma, self._horizon, self._mu))

    def __setattr__(self, name, value):
        raise AttributeError("TabularMDP is immutable; build a new model with .with_(...)")

    def __repr__(self) -> str:
        kind = f"gamma={self._gamma}" if self.discounted else f"horizon={self._horizon}"
        layout = "sparse" if self.is_sparse else "dense"
        tv = ", time-varying" if self.time_varying else ""
        nnz = f", nnz={self._P.nnz}" if self.is_sparse else ""
        return f"TabularMDP(S={self._S}, A={self._A}, {kind}, {layout}{nnz}{tv})"

    # ------------------------------------------------------------------ per-step access
    def transitions(self, h: int = 0):
        """Kernel of step ``h`` as a 2-D ``(S*A, S)`` array or CSR (row ``s*A + a``)."""
        S, A = self._S, self._A
        if self.is_sparse:
            if not self._p_time:
                return self._P
            return self._P[h * S * A : (h + 1) * S * A]
        P = self._P[h] if self._p_time else self._P
        return P.reshape(S * A, S)

    def rewards(self, h: int = 0) -> np.ndarray:
        """Rewards of step ``h``, shape ``(S, A)``."""
        return self._R[h] if self._r_time else self._R

    def with_(self, **changes) -> TabularMDP:
        """A copy with some of ``P, R, gamma, horizon, mu`` replaced (validated again)."""
        args = {"P": self._P, "R": self._R, "mu": self._mu}
        if "gamma" in changes or "horizon" in changes:
            args.update(gamma=None, horizon=None)
        else:
            args.update(gamma=self._gamma, horizon=self._horizon)
        args.update(changes)
        return TabularMDP(args.pop("P"), args.pop("R"), **args)

    def dense(self) -> TabularMDP:
        """The same model with a dense kernel."""
        if not self.is_sparse:
            return self
        S, A = self._S, self._A
        check_dense_fits(self._P.shape, "TabularMDP.dense",
                         "keep the sparse form (every solver accepts it)")
        P = self._P.toarray()
        P = P.reshape(-1, S, A, S) if self._p_time else P.reshape(S, A, S)
        return self.with_(P=P)

    def sparse(self) -> TabularMDP:
        """The same model with a CSR kernel."""
        if self.is_sparse:
            return self
        return self.with_(P=sp.csr_array(self._P.reshape(-1, self._S)))

    # ------------------------------------------------------------------ save / load
    def save(self, path) -> Path:
        """Write the model to a ``.npz`` file (read back with :func:`load_mdp`).

        The write is atomic: the file is written under a temporary name in the same folder
        and renamed, so an interrupted save never leaves a truncated model behind.
        """
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(".npz")
        arrays = {
            "format_version": np.array(_FORMAT_VERSION),
            "R": self._R,
            "mu": self._mu,
            "gamma": np.array(np.nan if self._gamma is None else self._gamma),
            "horizon": np.array(-1 if self._horizon is None else self._horizon),
        }
        if self.is_sparse:
            arrays.update(
                P_data=self._P.data,
                P_indices=self._P.indices,
                P_indptr=self._P.indptr,
                P_shape=np.array(self._P.shape),
            )
        else:
            arrays["P"] = self._P
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **arrays)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    @classmethod
    def load(cls, path) -> TabularMDP:
        """Read a model written by :meth:`save`; see :func:`load_mdp`."""
        return load_mdp(path)


def _rebuild(P, R, gamma, horizon, mu) -> TabularMDP:
    return TabularMDP(P, R, gamma=gamma, horizon=horizon, mu=mu)


def load_mdp(path) -> TabularMDP:
    """Load a model from ``.npz``, validating it fully.

    A missing, corrupted or truncated file, or one that is not an mdplab model, raises
    ``ValueError`` naming the file; a half-built model is never returned.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such model file: {path}")
    try:
        with np.load(path, allow_pickle=False) as f:
            keys = set(f.files)
            if "format_version" not in keys:
                raise ValueError("it has no 'format_version' entry")
            version = int(f["format_version"])
            if version != _FORMAT_VERSION:
                raise ValueError(f"format version {version} is not supported")
            R, mu = f["R"], f["mu"]
            gamma = float(f["gamma"])
            horizon = int(f["horizon"])
            if "P" in keys:
                P = f["P"]
            else:
                P = sp.csr_array(
                    (f["P_data"], f["P_indices"], f["P_indptr"]), shape=tuple(f["P_shape"])
                )
    except (zipfile.BadZipFile, EOFError, OSError, KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"{path} is not a valid mdplab model file: {exc}") from None
    try:
        return TabularMDP(
            P,
            R,
            gamma=None if np.isnan(gamma) else gamma,
            horizon=None if horizon < 0 else horizon,
            mu=mu,
        )
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path} holds an invalid model: {exc}") from None


def check_mdp(mdp) -> TabularMDP:
    """Validate a model (or a ``(P, R, gamma|horizon, mu)`` dict) and return it.

    Models are validated on construction, so this is mostly useful on a ``dict`` of arrays:
    ``check_mdp({"P": P, "R": R, "gamma": 0.9})`` raises the same precise errors as the
    constructor (the row, the index and the offending value).
    """
    if isinstance(mdp, TabularMDP):
        return mdp
    if isinstance(mdp, dict):
        kwargs = dict(mdp)
        try:
            P, R = kwargs.pop("P"), kwargs.pop("R")
        except KeyError as exc:
            raise ValueError(f"check_mdp: the dict has no {exc.args[0]!r} entry") from None
        return TabularMDP(P, R, **kwargs)
    raise TypeError(f"check_mdp: expected a TabularMDP or a dict, got {type(mdp).__name__}")


# ---------------------------------------------------------------------- policies


def check_policy(mdp: TabularMDP, policy, name: str = "policy") -> np.ndarray:
    """Validate ``policy`` for ``mdp`` and return it as a float array.

    Discounted models take ``(S, A)``; finite-horizon models take ``(H, S, A)`` or a
    stationary ``(S, A)`` (broadcast over steps). Rows must be distributions within 1e-9.
    """
    pi = _as_float_array(name, policy)
    S, A = mdp.S, mdp.A
    if mdp.discounted:
        if pi.shape != (S, A):
            raise ValueError(f"{name} has shape {pi.shape}, expected ({S}, {A})")
    else:
        if pi.shape == (S, A):
            pi = np.broadcast_to(pi, (mdp.H, S, A))
        elif pi.shape != (mdp.H, S, A):
            raise ValueError(
                f"{name} has shape {pi.shape}, expected ({mdp.H}, {S}, {A}) or ({S}, {A})"
            )
    _check_finite_nonneg(name, pi, "(action probabilities)")
    _check_rows_sum_to_one(name, pi)
    return pi


def uniform_policy(mdp: TabularMDP) -> np.ndarray:
    """The uniform policy, shape :attr:`TabularMDP.policy_shape`."""
    return np.full(mdp.policy_shape, 1.0 / mdp.A)


def deterministic_policy(mdp: TabularMDP, actions) -> np.ndarray:
    """One-hot policy from integer actions of shape ``(S,)`` or ``(H, S)``."""
    actions = np.asarray(actions)
    if not np.issubdtype(actions.dtype, np.integer):
        raise TypeError(f"actions: expected integers, got dtype {actions.dtype}")
    if actions.size and (actions.min() < 0 or actions.max() >= mdp.A):
        raise ValueError(
            f"actions must lie in [0, {mdp.A - 1}], got range [{actions.min()}, {actions.max()}]"
        )
    expected = mdp.policy_shape[:-1]
    if actions.shape != expected:
        if not mdp.discounted and actions.shape == (mdp.S,):
            actions = np.broadcast_to(actions, expected)
        else:
            raise ValueError(f"actions has shape {actions.shape}, expected {expected}")
    return np.eye(mdp.A)[actions]


# ---------------------------------------------------------------------- converters


def from_mdptoolbox(P, R, *, gamma=None, horizon=None, mu=None) -> TabularMDP:
    """Build a model from pymdptoolbox's layout.

    pymdptoolbox stores ``P`` as ``(A, S, S)`` (a sequence of ``A`` matrices, dense or sparse)
    and ``R`` as ``(S,)`` (state rewards), ``(S, A)``, or ``(A, S, S)`` (transition rewards,
    reduced here to expected rewards ``R[s, a] = sum_s' P[a, s, s'] R[a, s, s']``).
    """
    mats = [m.toarray() if sp.issparse(m) else np.asarray(m, dtype=float) for m in P]
    Pa = np.stack(mats)  # (A, S, S)
    if Pa.ndim != 3 or Pa.shape[1] != Pa.shape[2]:
        raise ValueError(f"P: expected pymdptoolbox layout (A, S, S), got shape {Pa.shape}")
    A, S, _ = Pa.shape
    if isinstance(R, (list, tuple)) or (not sp.issparse(R) and np.ndim(R) == 3):
        Rm = np.stack([r.toarray() if sp.issparse(r) else np.asarray(r, dtype=float) for r in R])
        if Rm.shape != (A, S, S):
            raise ValueError(
                f"R: transition rewards must have shape ({A}, {S}, {S}), got {Rm.shape}"
            )
        Rsa = np.einsum("ast,ast->sa", Pa, Rm)
    else:
        Rm = np.asarray(R, dtype=float)
        if Rm.shape == (S,):
            Rsa = np.repeat(Rm[:, None], A, axis=1)
        elif Rm.shape == (S, A):
            Rsa = Rm
        else:
            raise ValueError(
                f"R: expected shape ({S},), ({S}, {A}) or ({A}, {S}, {S}), got {Rm.shape}"
            )
    return TabularMDP(Pa.transpose(1, 0, 2), Rsa, gamma=gamma, horizon=horizon, mu=mu)


def from_quantecon(R, Q, beta, s_indices=None, a_indices=None, mu=None) -> TabularMDP:
    """Build a discounted model from QuantEcon ``DiscreteDP`` arguments.

    Product form: ``R`` of shape ``(S, A)`` and ``Q`` of shape ``(S, A, S)``; state-action-pair
    form: ``R`` of shape ``(L,)``, ``Q`` of shape ``(L, S)`` (dense or sparse) with
    ``s_indices``/``a_indices``. ``beta`` is QuantEcon's name for the discount factor. Every
    state must have the same number of feasible actions ``A`` (mdplab has no action masks);
    infeasible actions (reward ``-inf``) are rejected with a clear error.
    """
    if s_indices is None:
        R = np.asarray(R, dtype=float)
        if np.isneginf(R).any():
            raise ValueError(
                "R contains -inf (infeasible actions); mdplab needs all actions feasible"
            )
        Q = Q.toarray() if sp.issparse(Q) else np.asarray(Q, dtype=float)
        return TabularMDP(Q, R, gamma=beta, mu=mu)
    s_idx = np.asarray(s_indices)
    a_idx = np.asarray(a_indices)
    R = np.asarray(R, dtype=float)
    S = int(Q.shape[1])
    counts = np.bincount(s_idx, minlength=S)
    if counts.min() != counts.max():
        raise ValueError(
            "state-action pairs: states have different numbers of actions "
            f"({counts.min()} to {counts.max()}); mdplab needs the same A in every state"
        )
    A = int(counts[0])
    if a_idx.max() >= A:
        raise ValueError(f"a_indices reach {a_idx.max()} but each state has {A} actions")
    order = np.lexsort((a_idx, s_idx))
    rows = s_idx[order] * A + a_idx[order]
    if not np.array_equal(rows, np.arange(S * A)):
        raise ValueError("state-action pairs: each (s, a) must appear exactly once")
    Rsa = R[order].reshape(S, A)
    Qm = (
        sp.csr_array(Q)[order]
        if sp.issparse(Q)
        else np.asarray(Q, dtype=float)[order].reshape(S, A, S)
    )
    return TabularMDP(Qm, Rsa, gamma=beta, mu=mu)


def from_gymnasium_dict(
    P_dict, *, n_states=None, n_actions=None, gamma=None, horizon=None, mu=None
) -> TabularMDP:
    """Build a model from a Gymnasium toy_text ``env.P`` dictionary.

    ``P_dict[s][a]`` is a list of ``(prob, next_state, reward, terminated)``. Expected rewards are
    ``R[s, a] = sum prob * reward``. If any transition terminates, one absorbing state (index
    ``S``, zero reward) is added and terminating transitions go there, which is exactly the
    episodic semantics of the environment.
    """
    S = n_states if n_states is not None else len(P_dict)
    A = n_actions if n_actions is not None else len(P_dict[0])
    terminal = any(t[3] for s in range(S) for a in range(A) for t in P_dict[s][a])
    n = S + 1 if terminal else S
    P = np.zeros((n, A, n))
    R = np.zeros((n, A))
    for s in range(S):
        for a in range(A):
            for prob, s2, rew, done in P_dict[s][a]:
                P[s, a, S if done else s2] += prob
                R[s, a] += prob * rew
    if terminal:
        P[S, :, S] = 1.0
        if mu is not None:
            mu = np.append(np.asarray(mu, dtype=float), 0.0)
    return TabularMDP(P, R, gamma=gamma, horizon=horizon, mu=mu)
