r"""Random tabular MDPs: Dirichlet kernels (dense or with ``k`` successors) and Garnet MDPs.

:func:`random_mdp`
    Every row :math:`P(\cdot \mid s, a)` is an independent draw from the flat Dirichlet
    distribution :math:`\mathrm{Dir}(1, \dots, 1)` (uniform on the probability simplex),
    over all :math:`S` states (dense) or over a uniformly random set of ``k = sparsity``
    distinct successor states (sparse CSR). Rewards :math:`R(s, a)` are i.i.d.
    :math:`U[0, 1]` (``reward="uniform"``) or :math:`N(0, 1)` (``reward="normal"``).
    A flat Dirichlet vector is drawn as i.i.d. standard exponentials divided by their sum.

:func:`garnet`
    Garnet ("Generic Average Reward Non-stationary Environment Testbed") MDPs of
    Archibald, McKinnon & Thomas (1995), *On the generation of Markov decision processes*,
    J. Oper. Res. Soc. 46(3):354-361, in the form used by Bhatnagar, Sutton, Ghavamzadeh &
    Lee (2009), *Natural actor-critic algorithms*, Automatica 45(11):2471-2482, Sec. 6:
    ``Garnet(S, A, b)``. Each :math:`(s, a)` has ``b = branching`` distinct successors drawn
    uniformly at random; their probabilities are the lengths of the ``b`` pieces of
    :math:`[0, 1]` cut at ``b - 1`` i.i.d. uniform points (uniform random partition of the
    unit interval; in distribution the same as :math:`\mathrm{Dir}(1, \dots, 1)`). Rewards
    (``reward="state"``, the default) depend on the state only: :math:`R(s, a) = r(s)` with
    :math:`r(s) \sim N(0, 1)` i.i.d., the expected rewards of Bhatnagar et al. (who add
    :math:`N(0, \sigma^2)` observation noise to them; a model of expected rewards drops
    :math:`\sigma`). ``reward="state-action"`` draws :math:`R(s, a) \sim N(0, 1)` for every
    pair and ``reward="uniform"`` draws :math:`U[0, 1]` for every pair.

Both scale to millions of states: the sparse kernels are built directly as CSR arrays
(``indptr``/``indices``/``data``) with vectorized NumPy and no Python loop over states; see
:func:`mdplab.envs._common.distinct_successors` for how the distinct successors are drawn.
"""

from __future__ import annotations

import numpy as np

from .._utils import as_rng, check_dense_fits
from ..mdp import TabularMDP
from ._common import (
    check_int,
    csr_from_rows,
    dense_from_csr,
    dirichlet_rows,
    distinct_successors,
    time_args,
    use_sparse,
)

__all__ = ["random_mdp", "garnet"]

_RANDOM_REWARDS = ("uniform", "normal")
_GARNET_REWARDS = ("state", "state-action", "uniform")


def _draw_rewards(rng: np.random.Generator, kind: str, shape: tuple[int, ...]) -> np.ndarray:
    if kind == "uniform":
        return rng.random(shape)
    return rng.standard_normal(shape)


def random_mdp(S: int, A: int, gamma: float | None = 0.9, horizon: int | None = None,
               sparsity: int | None = None, rng=None, reward: str = "uniform", *,
               time_varying: bool = False, mu=None) -> TabularMDP:
    r"""A random MDP with flat-Dirichlet transition rows and i.i.d. rewards.

    Parameters
    ----------
    S, A : int
        Numbers of states and actions (``>= 1``).
    gamma : float, default 0.9
        Discount factor; leave it at its default when giving ``horizon``.
    horizon : int, optional
        Finite horizon ``H``: the model is undiscounted with ``H`` steps.
    sparsity : int, optional
        ``None``: dense rows, ``P(. | s, a) ~ Dir(1, ..., 1)`` over all ``S`` states, returned
        as a dense ``(S, A, S)`` array. An int ``k`` in ``[1, S]``: each row has exactly ``k``
        distinct successors (a uniformly random ``k``-subset) with ``Dir(1, ..., 1)`` weights,
        returned as a ``scipy.sparse.csr_array`` of shape ``(S*A, S)``.
    rng : int, Generator or None
        Seed or generator (see :func:`mdplab._utils.as_rng`). Draw order: kernel, then rewards.
    reward : {"uniform", "normal"}
        ``R[s, a] ~ U[0, 1]`` or ``N(0, 1)``, i.i.d.
    time_varying : bool, default False
        With ``horizon=H``: draw an independent kernel and reward per step, so ``P`` is
        ``(H, S, A, S)`` (or CSR ``(H*S*A, S)``) and ``R`` is ``(H, S, A)``.
    mu : array_like, optional
        Initial distribution ``(S,)``; uniform when ``None``.

    Examples
    --------
    >>> from mdplab.envs import random_mdp
    >>> random_mdp(5, 2, rng=0)
    TabularMDP(S=5, A=2, gamma=0.9, dense)
    >>> random_mdp(1000, 4, sparsity=3, rng=0).P.nnz
    12000
    """
    S = check_int("S", S, 1)
    A = check_int("A", A, 1)
    if reward not in _RANDOM_REWARDS:
        raise ValueError(f"reward = {reward!r} is not one of {_RANDOM_REWARDS}")
    if sparsity is not None:
        sparsity = check_int("sparsity", sparsity, 1, S)
    targs = time_args(gamma, horizon, 0.9)
    if time_varying and horizon is None:
        raise ValueError("time_varying=True needs a finite horizon: pass horizon=H")
    rng = as_rng(rng)
    H = check_int("horizon", horizon, 1) if time_varying else 1
    lead = (H,) if time_varying else ()

    if sparsity is None:
        check_dense_fits(lead + (S, A, S), "random_mdp",
                         "pass sparsity=k (k successors per state-action pair) for a sparse "
                         "CSR kernel")
        P = dirichlet_rows(rng, lead + (S, A, S))
    else:
        n = H * S * A
        idx = distinct_successors(rng, n, S, sparsity)
        P = csr_from_rows(idx, dirichlet_rows(rng, (n, sparsity)), S)
    R = _draw_rewards(rng, reward, lead + (S, A))
    return TabularMDP(P, R, mu=mu, **targs)


def garnet(S: int, A: int, branching: int, gamma: float | None = 0.9,
           horizon: int | None = None, rng=None, reward: str = "state", *,
           sparse: bool | None = None, mu=None) -> TabularMDP:
    r"""A Garnet MDP ``Garnet(S, A, branching)`` (Archibald et al. 1995; Bhatnagar et al. 2009).

    Parameters
    ----------
    S, A : int
        Numbers of states and actions (``>= 1``).
    branching : int
        Branching factor ``b`` in ``[1, S]``: the number of distinct successors of every
        state-action pair. Their probabilities are the spacings of ``b - 1`` sorted i.i.d.
        ``U[0, 1]`` cut points (a uniform random partition of ``[0, 1]``).
    gamma : float, default 0.9
        Discount factor; leave it at its default when giving ``horizon``.
    horizon : int, optional
        Finite horizon ``H`` (undiscounted) instead of ``gamma``.
    rng : int, Generator or None
        Seed or generator. Draw order: successors, cut points, rewards.
    reward : {"state", "state-action", "uniform"}
        ``"state"`` (Bhatnagar et al. 2009): ``R[s, a] = r(s)``, ``r(s) ~ N(0, 1)`` i.i.d.;
        ``"state-action"``: ``R[s, a] ~ N(0, 1)`` i.i.d.; ``"uniform"``: ``R[s, a] ~ U[0, 1]``.
    sparse : bool, optional
        CSR ``(S*A, S)`` kernel when True, dense ``(S, A, S)`` when False; ``None`` (default)
        picks CSR when ``S > 2000``.
    mu : array_like, optional
        Initial distribution ``(S,)``; uniform when ``None``.

    Examples
    --------
    >>> from mdplab.envs import garnet
    >>> mdp = garnet(50, 3, branching=5, rng=1)
    >>> int((mdp.P > 0).sum(axis=-1).max())
    5
    """
    S = check_int("S", S, 1)
    A = check_int("A", A, 1)
    b = check_int("branching", branching, 1, S)
    if reward not in _GARNET_REWARDS:
        raise ValueError(f"reward = {reward!r} is not one of {_GARNET_REWARDS}")
    targs = time_args(gamma, horizon, 0.9)
    sparse = use_sparse(sparse, S)
    rng = as_rng(rng)
    n = S * A
    idx = distinct_successors(rng, n, S, b)
    cuts = rng.random((n, b - 1))
    cuts.sort(axis=1)
    edges = np.concatenate([np.zeros((n, 1)), cuts, np.ones((n, 1))], axis=1)
    probs = np.diff(edges, axis=1)
    # Order of the pieces is irrelevant (the successors are a random set), but the pieces must
    # sum to 1 exactly up to rounding: the telescoping sum of np.diff guarantees it.
    P = csr_from_rows(idx, probs, S)
    if reward == "state":
        R = np.repeat(rng.standard_normal(S)[:, None], A, axis=1)
    elif reward == "state-action":
        R = rng.standard_normal((S, A))
    else:
        R = rng.random((S, A))
    if not sparse:
        P = dense_from_csr(P, S, A)
    return TabularMDP(P, R, mu=mu, **targs)
