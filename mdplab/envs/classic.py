r"""Classic small MDPs from the exploration and operations-research literature.

:func:`chain`
    A chain of ``n`` states :math:`0, \dots, n-1` with actions ``0 = left`` and ``1 = right``.
    An action moves one step in its direction with probability :math:`1 - \text{slip}` and one
    step in the *opposite* direction with probability :math:`\text{slip}`; a move off either
    end leaves the state unchanged. Every step taken in the right end state :math:`n-1` pays
    ``right_reward`` (for either action), and taking ``left`` in state 0 pays ``left_reward``
    (0 by default; a small positive value makes the left end a distracting local optimum).
    Episodes start in state 0 (``mu`` one-hot on 0), so the reward is :math:`n-1` steps away
    and a uniformly random policy needs :math:`\Theta(n^2)` steps to reach it: the standard
    slow-mixing, hard-exploration chain (e.g. Osband, Van Roy & Wen 2016, *Generalization and
    exploration via randomized value functions*, arXiv:1402.0635, Sec. 6.1).

:func:`riverswim`
    RiverSwim of Strehl & Littman (2008), *An analysis of model-based interval estimation for
    Markov decision processes*, J. Comput. Syst. Sci. 74(8):1309-1331, Sec. 6, and the variant
    of Osband, Russo & Van Roy (2013), *(More) efficient reinforcement learning via posterior
    sampling*, NeurIPS, arXiv:1306.0940, App. (``variant="osband"``). ``n`` states in a row,
    actions ``0 = left`` (swim with the current: moves left with probability 1) and
    ``1 = right`` (swim against it, probabilities below; a move off an end stays put):

    ==================  =========================  ==========================
    ``right`` from      ``"strehl-littman"``       ``"osband"``
                        (left / stay / right)      (left / stay / right)
    ==================  =========================  ==========================
    state 0             0 / 0.7 / 0.3              0 / 0.4 / 0.6
    states 1 .. n-2     0.1 / 0.6 / 0.3            0.05 / 0.6 / 0.35
    state n-1           0.7 / 0.3 / 0              0.4 / 0.6 / 0
    ==================  =========================  ==========================

    Rewards sit on two self-loop transitions: ``left`` in state 0 (which stays in 0) pays
    ``r_left`` = 5 (S&L) or 5/1000 (Osband), and ``right`` in state ``n-1`` *staying* in
    ``n-1`` pays ``r_right`` = 10000 (S&L) or 1 (Osband). Expected rewards are therefore
    ``R[0, left] = r_left`` and ``R[n-1, right] = p_stay(n-1) * r_right`` (3000 and 0.6 at the
    defaults). Initial state: uniform over states 1 and 2 for S&L (0-indexed, as in the public
    re-implementations we checked), state 0 for Osband. Pass ``mu=`` to override.

:func:`forest`
    The forest-management example of pymdptoolbox (``mdptoolbox.example.forest``; Cordwell,
    Chadès et al., *MDPtoolbox*, https://github.com/sawcordwell/pymdptoolbox): states
    :math:`0, \dots, S-1` are forest ages; action ``0 = wait``, ``1 = cut``. Waiting ages the
    forest by one step (the oldest stays oldest) with probability :math:`1-p` and a fire resets
    it to state 0 with probability :math:`p`; cutting resets it to 0. Rewards: ``wait`` pays
    ``r1`` in the oldest state, ``cut`` pays 0 in state 0, 1 in states :math:`1..S-2` and
    ``r2`` in the oldest state. Same ``P`` and ``R`` as pymdptoolbox, in mdplab's layout
    (``P[s, a, s']`` rather than pymdptoolbox's ``P[a, s, s']``).
"""

from __future__ import annotations

import numpy as np

from ..mdp import TabularMDP
from ._common import (
    check_int,
    check_real,
    csr_from_triplets,
    dense_from_csr,
    time_args,
    use_sparse,
)

__all__ = ["chain", "riverswim", "forest"]

#: RiverSwim parameters: probabilities (left, stay, right) of ``right`` at the left end, in the
#: middle and at the right end; the two rewards; the initial states.
RIVERSWIM_VARIANTS = {
    "strehl-littman": {
        "bottom": (0.0, 0.7, 0.3), "middle": (0.1, 0.6, 0.3), "top": (0.7, 0.3, 0.0),
        "r_left": 5.0, "r_right": 10000.0, "start": (1, 2),
    },
    "osband": {
        "bottom": (0.0, 0.4, 0.6), "middle": (0.05, 0.6, 0.35), "top": (0.4, 0.6, 0.0),
        "r_left": 5.0 / 1000.0, "r_right": 1.0, "start": (0,),
    },
}


def _assemble(n: int, A: int, rows, cols, vals, R, sparse, targs, mu) -> TabularMDP:
    P = csr_from_triplets(np.asarray(rows), np.asarray(cols), np.asarray(vals, dtype=float),
                          n * A, n)
    if not sparse:
        P = dense_from_csr(P, n, A)
    return TabularMDP(P, R, mu=mu, **targs)


def _one_hot_or(mu, n: int, states) -> np.ndarray:
    if mu is not None:
        return mu
    out = np.zeros(n)
    out[list(states)] = 1.0 / len(states)
    return out


def chain(n: int, gamma: float | None = 0.9, slip: float = 0.0, horizon: int | None = None, *,
          right_reward: float = 1.0, left_reward: float = 0.0, sparse: bool | None = None,
          mu=None) -> TabularMDP:
    r"""A (possibly slippery) chain of ``n`` states; actions ``0 = left``, ``1 = right``.

    Parameters
    ----------
    n : int
        Number of states (``>= 2``).
    gamma : float, default 0.9
        Discount factor; leave it at its default when giving ``horizon``.
    slip : float in [0, 1], default 0
        Probability that an action moves in the opposite direction.
    horizon : int, optional
        Finite horizon ``H`` (undiscounted) instead of ``gamma``.
    right_reward : float, default 1
        ``R[n-1, a]`` for both actions: the reward of every step spent at the right end.
    left_reward : float, default 0
        Added to ``R[0, left]``.
    sparse : bool, optional
        CSR ``(2n, n)`` kernel when True; ``None`` (default) picks CSR when ``n > 2000``.
    mu : array_like, optional
        Initial distribution; one-hot on state 0 when ``None``.

    Examples
    --------
    >>> from mdplab.envs import chain
    >>> mdp = chain(5, slip=0.1)
    >>> mdp.P[2, 1]
    array([0. , 0.1, 0. , 0.9, 0. ])
    """
    n = check_int("n", n, 2)
    slip = check_real("slip", slip, 0.0, 1.0)
    right_reward = check_real("right_reward", right_reward)
    left_reward = check_real("left_reward", left_reward)
    targs = time_args(gamma, horizon, 0.9)
    sparse = use_sparse(sparse, n)
    s = np.arange(n)
    step = np.array([-1, 1])  # action 0 = left, 1 = right
    intended = np.clip(s[:, None] + step[None, :], 0, n - 1)   # (n, 2)
    opposite = np.clip(s[:, None] - step[None, :], 0, n - 1)   # (n, 2)
    rows = np.broadcast_to(np.arange(2 * n).reshape(n, 2), (n, 2))
    R = np.zeros((n, 2))
    R[n - 1, :] += right_reward
    R[0, 0] += left_reward
    return _assemble(
        n, 2,
        np.concatenate([rows.ravel(), rows.ravel()]),
        np.concatenate([intended.ravel(), opposite.ravel()]),
        np.concatenate([np.full(2 * n, 1.0 - slip), np.full(2 * n, slip)]),
        R, sparse, targs, _one_hot_or(mu, n, (0,)),
    )


def riverswim(n: int = 6, gamma: float | None = 0.95, horizon: int | None = None, *,
              variant: str = "strehl-littman", sparse: bool | None = None,
              mu=None) -> TabularMDP:
    r"""RiverSwim (Strehl & Littman 2008; Osband et al. 2013 variant); actions ``0 = left``,
    ``1 = right``.

    Parameters
    ----------
    n : int, default 6
        Number of states (``>= 2``; the papers use 6).
    gamma : float, default 0.95
        Discount factor (Strehl & Littman use 0.95); leave it at its default when giving
        ``horizon`` (Osband et al. use episodes of ``horizon=20``).
    variant : {"strehl-littman", "osband"}
        Probabilities and rewards, tabulated in :data:`RIVERSWIM_VARIANTS` and the module
        docstring.
    sparse : bool, optional
        CSR kernel when True; ``None`` (default) picks CSR when ``n > 2000``.
    mu : array_like, optional
        Initial distribution; the variant's start states when ``None``.

    Examples
    --------
    >>> from mdplab.envs import riverswim
    >>> mdp = riverswim()
    >>> mdp.P[3, 1]
    array([0. , 0. , 0.1, 0.6, 0.3, 0. ])
    >>> mdp.R[[0, 5], [0, 1]]
    array([   5., 3000.])
    """
    n = check_int("n", n, 2)
    if variant not in RIVERSWIM_VARIANTS:
        raise ValueError(f"variant = {variant!r} is not one of {tuple(RIVERSWIM_VARIANTS)}")
    spec = RIVERSWIM_VARIANTS[variant]
    targs = time_args(gamma, horizon, 0.95)
    sparse = use_sparse(sparse, n)
    s = np.arange(n)
    # probabilities (left, stay, right) of the action ``right`` in every state: (n, 3)
    swim = np.tile(np.array(spec["middle"]), (n, 1))
    swim[0] = spec["bottom"]
    swim[n - 1] = spec["top"]
    right_targets = np.stack([np.maximum(s - 1, 0), s, np.minimum(s + 1, n - 1)], axis=1)
    rows = np.concatenate([2 * s, np.repeat(2 * s + 1, 3)])
    cols = np.concatenate([np.maximum(s - 1, 0), right_targets.ravel()])
    vals = np.concatenate([np.ones(n), swim.ravel()])
    R = np.zeros((n, 2))
    R[0, 0] = spec["r_left"]
    R[n - 1, 1] = spec["top"][1] * spec["r_right"]
    start = tuple(i for i in spec["start"] if i < n) or (0,)
    return _assemble(n, 2, rows, cols, vals, R, sparse, targs, _one_hot_or(mu, n, start))


def forest(S: int = 3, r1: float = 4.0, r2: float = 2.0, p: float = 0.1,
           gamma: float | None = 0.9, horizon: int | None = None, *,
           sparse: bool | None = None, mu=None) -> TabularMDP:
    r"""pymdptoolbox's forest-management MDP; actions ``0 = wait``, ``1 = cut``.

    Same ``P`` and ``R`` as ``mdptoolbox.example.forest(S, r1, r2, p)`` (see the module
    docstring), with ``P`` in mdplab's ``(S, A, S)`` layout.

    Parameters
    ----------
    S : int, default 3
        Number of forest ages (``>= 2``).
    r1 : float, default 4
        Reward of ``wait`` in the oldest state (``> 0``).
    r2 : float, default 2
        Reward of ``cut`` in the oldest state (``> 0``).
    p : float in [0, 1], default 0.1
        Yearly probability of a fire.
    gamma : float, default 0.9
        Discount factor; leave it at its default when giving ``horizon``.
    sparse : bool, optional
        CSR kernel when True; ``None`` (default) picks CSR when ``S > 2000``.
    mu : array_like, optional
        Initial distribution; uniform when ``None``.

    Examples
    --------
    >>> from mdplab.envs import forest
    >>> forest().R
    array([[0., 0.],
           [0., 1.],
           [4., 2.]])
    """
    S = check_int("S", S, 2)
    r1 = check_real("r1", r1, 0.0, low_open=True)
    r2 = check_real("r2", r2, 0.0, low_open=True)
    p = check_real("p", p, 0.0, 1.0)
    targs = time_args(gamma, horizon, 0.9)
    sparse = use_sparse(sparse, S)
    s = np.arange(S)
    wait, cut = 2 * s, 2 * s + 1
    rows = np.concatenate([wait, wait, cut])
    zeros = np.zeros(S, dtype=int)
    cols = np.concatenate([zeros, np.minimum(s + 1, S - 1), zeros])
    vals = np.concatenate([np.full(S, p), np.full(S, 1.0 - p), np.ones(S)])
    R = np.zeros((S, 2))
    R[S - 1, 0] = r1
    R[1:, 1] = 1.0
    R[S - 1, 1] = r2
    return _assemble(S, 2, rows, cols, vals, R, sparse, targs, mu)
