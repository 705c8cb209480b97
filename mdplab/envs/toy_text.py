r"""Gymnasium ``toy_text`` environments (FrozenLake, Taxi, CliffWalking, ...) as tabular MDPs.

Gymnasium (Towers et al. 2024, *Gymnasium: A standard interface for reinforcement learning
environments*, arXiv:2407.17032) stores the model of its ``toy_text`` environments in
``env.unwrapped.P``: ``P[s][a]`` is a list of ``(prob, next_state, reward, terminated)``.
:func:`from_gymnasium` reads it with :func:`mdplab.from_gymnasium_dict`: expected rewards
:math:`R(s, a) = \sum \text{prob} \cdot \text{reward}`, and when a transition terminates, one
absorbing zero-reward state (index ``S``) is appended and terminating transitions lead there,
which is exactly the episodic semantics of the environment. The initial distribution is the
environment's ``initial_state_distrib`` when it has one (all three named above do), with 0 on
the appended absorbing state.

Gymnasium is optional: it is imported only when a name (``"FrozenLake-v1"``) is given. Any
object with the ``P`` dict and ``Discrete`` spaces works, including legacy ``gym`` envs.
"""

from __future__ import annotations

import numpy as np

from ..mdp import TabularMDP, from_gymnasium_dict
from ._common import time_args

__all__ = ["from_gymnasium"]


def _space_n(env, name: str) -> int | None:
    space = getattr(env, name, None)
    n = getattr(space, "n", None)
    return None if n is None else int(n)


def from_gymnasium(env_or_name, gamma: float | None = 0.99, horizon: int | None = None, *,
                   mu=None, **make_kwargs) -> TabularMDP:
    """A tabular MDP from a Gymnasium ``toy_text`` environment (or its registered name).

    Parameters
    ----------
    env_or_name : str or environment
        A registered id such as ``"FrozenLake-v1"``, ``"Taxi-v3"``, ``"CliffWalking-v0"``
        (created with ``gymnasium.make(name, **make_kwargs)``, e.g. ``is_slippery=False``), or
        an environment object exposing the ``P`` dict (on itself or on ``.unwrapped``).
    gamma : float, default 0.99
        Discount factor; leave it at its default when giving ``horizon``.
    horizon : int, optional
        Finite horizon ``H`` (undiscounted) instead of ``gamma``.
    mu : array_like, optional
        Initial distribution over the environment's states (without the appended absorbing
        state); the environment's ``initial_state_distrib`` when ``None``, else uniform.

    Raises
    ------
    ImportError
        A name is given and Gymnasium is not installed.
    TypeError
        The environment has no ``P`` dict (it is not a ``toy_text``-style environment).

    Examples
    --------
    >>> from mdplab.envs import from_gymnasium
    >>> mdp = from_gymnasium("FrozenLake-v1", is_slippery=False)  # doctest: +SKIP
    >>> mdp.S, mdp.A  # doctest: +SKIP
    (17, 4)
    """
    targs = time_args(gamma, horizon, 0.99)
    if isinstance(env_or_name, str):
        try:
            import gymnasium
        except ImportError:  # pragma: no cover - depends on the environment
            raise ImportError(
                f"from_gymnasium({env_or_name!r}) needs Gymnasium to create the environment: "
                "pip install gymnasium (or pass an environment object that has a P dict)"
            ) from None
        env = gymnasium.make(env_or_name, **make_kwargs)
    else:
        if make_kwargs:
            raise TypeError(
                f"from_gymnasium: keyword arguments {sorted(make_kwargs)} are only used with an "
                "environment name"
            )
        env = env_or_name
    base = getattr(env, "unwrapped", env)
    P = getattr(base, "P", None)
    if not isinstance(P, dict):
        raise TypeError(
            f"env_or_name: {type(base).__name__} has no transition dict P (P[s][a] = "
            "[(prob, next_state, reward, terminated), ...]); only toy_text-style environments "
            "(FrozenLake, Taxi, CliffWalking) expose their model"
        )
    S = _space_n(base, "observation_space") or len(P)
    A = _space_n(base, "action_space") or len(P[0])
    if len(P) != S:
        raise ValueError(f"env.P has {len(P)} states but observation_space.n = {S}")
    if mu is None:
        isd = getattr(base, "initial_state_distrib", None)
        if isd is not None:
            mu = np.asarray(isd, dtype=float)
            if mu.shape != (S,):
                raise ValueError(
                    f"env.initial_state_distrib has shape {mu.shape}, expected ({S},)"
                )
    return from_gymnasium_dict(P, n_states=S, n_actions=A, mu=mu, **targs)
