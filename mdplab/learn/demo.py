r"""Behavior cloning and demonstration-regularized RL (tabular, finite horizon).

Tiapkin, Belomestny, Calandriello, Moulines, Munos, Naumov, Perrault, Valko & Ménard (2023),
*Demonstration-regularized RL*, ICLR 2024, arXiv:2310.17303 (sections on behavior cloning and
demonstration-regularized BPI; theorem numbering unverified here).

Behavior cloning
----------------
From :math:`N^E` expert trajectories, counts :math:`n_h(s,a)` and :math:`n_h(s) = \sum_a n_h(s,a)`,
the MLE with a log (Laplace / add-one) regulariser

.. math::

    \pi^{\rm BC}_h(a|s) = \frac{n_h(s,a) + 1}{n_h(s) + A}

(uniform on unvisited states; every action keeps probability :math:`\ge 1/(n_h(s)+A)`, so the KL
below is finite). The paper's guarantee is
:math:`\mathbb E\,\mathrm{KL}_{\rm traj}(\pi^E\|\pi^{\rm BC}) = \tilde O(SAH/N^E)`; with
:math:`\mathrm{KL}_{\rm traj}(\pi\|\pi') = \mathbb E_\pi[\sum_h \mathrm{KL}(\pi_h(\cdot|s_h)\|
\pi'_h(\cdot|s_h))]` computed exactly by :func:`trajectory_kl`. For a **deterministic** expert
we have the exact bound (our derivation): :math:`n_h(s) \sim \mathrm{Bin}(N^E, d^E_h(s))`,
:math:`\mathrm{KL} = \log\frac{n+A}{n+1} \le \frac{A-1}{n+1}` and
:math:`\mathbb E\frac{1}{n+1} \le \frac{1}{(N^E+1)\,d}`, hence

.. math::

    \mathbb E\,\mathrm{KL}_{\rm traj}(\pi^E\|\pi^{\rm BC})
    \le \frac{(A-1)\,\#\{(h,s): d^E_h(s) > 0\}}{N^E + 1} \le \frac{(A-1) S H}{N^E + 1}.

Demonstration-regularized BPI
-----------------------------
For :math:`\lambda > 0`, any :math:`\hat\pi` that is :math:`\varepsilon_{\rm reg}`-optimal for the
objective regularized toward :math:`\pi^{\rm BC}` satisfies (compare with :math:`\pi^E` inside
the regularized objective; the KL of :math:`\hat\pi` is :math:`\ge 0`)

.. math::

    V^* - V^{\hat\pi} \le \varepsilon_E + \lambda\,\mathrm{KL}_{\rm traj}(\pi^E\|\pi^{\rm BC})
        + \varepsilon_{\rm reg}.

With :math:`\mathrm{KL}_{\rm traj} \approx C_{\rm BC}/N^E` the paper's choice is
:math:`\lambda^* = \varepsilon/(3 C_{\rm BC}/N^E)` and :math:`\varepsilon_{\rm reg} =
\varepsilon/3`, so the middle term is :math:`\varepsilon/3`; the regularized BPI then costs
:math:`\tilde O(1/(\lambda^*\varepsilon)) = \tilde O(C_{\rm BC}/(\varepsilon^2 N^E))` episodes.
:func:`demo_regularized_bpi` does exactly this with :class:`mdplab.learn.RegularizedUCBVI`
(reference :math:`\pi^{\rm BC}`, temperature :math:`\lambda^*`, target :math:`\varepsilon/3`),
with :math:`C_{\rm BC} = SAH` by default (the catalogue's choice; the paper's constant carries
log factors).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._utils import as_rng
from ..mdp import TabularMDP
from . import _kernels as _k
from .regularized import RegularizedUCBVI, _check_ref_array, identify

__all__ = [
    "DemoResult",
    "behavior_cloning",
    "demo_regularized_bpi",
    "demo_regularized_lambda",
    "sample_trajectories",
    "trajectory_kl",
]


def _policy_array(mdp: TabularMDP, policy, name: str) -> np.ndarray:
    """``policy`` as a full ``(H, S, A)`` float array (``(S, A)`` is broadcast over steps)."""
    H, S, A = mdp.H, mdp.S, mdp.A
    arr = _check_ref_array(policy, S, A, H, name=name)
    return np.ascontiguousarray(np.broadcast_to(arr, (H, S, A)))


def sample_trajectories(mdp: TabularMDP, policy, n: int, *, rng=None):
    """``n`` trajectories of ``policy`` in ``mdp``: ``(states (n, H+1), actions (n, H))``.

    ``policy`` is ``(S, A)`` or ``(H, S, A)``; ``rng`` seeds the draws.
    """
    from .runner import _check_int, _check_mdp_for_learning, _dense_model

    _check_mdp_for_learning(mdp)
    n = _check_int("n", n, 1)
    pi = _policy_array(mdp, policy, "policy")
    H = mdp.H
    P, R = _dense_model(mdp)
    Pcdf = np.cumsum(P, axis=-1)
    mu_cdf = np.cumsum(np.asarray(mdp.mu, dtype=np.float64))
    u = as_rng(rng).random((n, 3 * H + 1))
    states = np.empty((n, H + 1), dtype=np.int64)
    actions = np.empty((n, H), dtype=np.int64)
    obs = np.empty(H)
    for i in range(n):
        _k.sample_episode(Pcdf, R, mu_cdf, pi, u[i], False, states[i], actions[i], obs)
    return states, actions


def _index_array(name: str, x) -> np.ndarray:
    """``x`` as an array of real numbers (object arrays of numbers are converted); booleans,
    complex numbers, strings and other objects raise ``TypeError`` naming ``name``."""
    arr = np.asarray(x)
    if arr.dtype.kind == "O":
        try:
            arr = np.array(arr.tolist())
        except (TypeError, ValueError):
            pass
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name}: expected integer indices, got dtype {arr.dtype}")
    return arr


def _check_demos(states, actions, S: int, A: int, H: int | None):
    states = _index_array("states", states)
    actions = _index_array("actions", actions)
    if states.ndim != 2 or actions.ndim != 2:
        raise ValueError(f"states, actions: expected 2-d arrays (trajectories x steps), got "
                         f"shapes {states.shape} and {actions.shape}")
    n, Ha = actions.shape
    if states.shape[0] != n or states.shape[1] not in (Ha, Ha + 1):
        raise ValueError(f"states has shape {states.shape}; expected ({n}, {Ha}) or "
                         f"({n}, {Ha + 1}) to match actions {actions.shape}")
    if H is not None and Ha != H:
        raise ValueError(f"actions has {Ha} steps per trajectory, expected the horizon H = {H}")
    for name, arr, hi in (("states", states, S), ("actions", actions, A)):
        if not np.issubdtype(arr.dtype, np.integer):
            if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
                raise ValueError(f"{name}: expected integer indices, got dtype {arr.dtype}")
        if arr.size and (arr.min() < 0 or arr.max() >= hi):
            bad = arr[(arr < 0) | (arr >= hi)].flat[0]
            raise ValueError(f"{name}: index {bad} out of range [0, {hi - 1}]")
    return states[:, :Ha].astype(np.int64), actions.astype(np.int64)


def behavior_cloning(states, actions, S: int, A: int, *, smoothing: float = 1.0) -> np.ndarray:
    r"""Tabular behavior cloning with additive smoothing:
    :math:`\pi_h(a|s) = (n_h(s,a) + \alpha)/(n_h(s) + A\alpha)`, ``alpha = smoothing``
    (``1``: the Laplace / log-regularized MLE of the paper).

    Parameters
    ----------
    states : array (N, H) or (N, H+1) of ints
        Expert states (a final state column is ignored).
    actions : array (N, H) of ints
    S, A : int
    smoothing : float
        ``alpha > 0``.

    Returns
    -------
    numpy.ndarray
        ``(H, S, A)`` policy.
    """
    from .online import _check_positive
    from .runner import _check_int

    S, A = _check_int("S", S, 1), _check_int("A", A, 1)
    alpha = _check_positive("smoothing", smoothing)
    states, actions = _check_demos(states, actions, S, A, None)
    n, H = actions.shape
    counts = np.zeros((H, S, A))
    hh = np.broadcast_to(np.arange(H), (n, H))
    np.add.at(counts, (hh, states, actions), 1.0)
    if alpha > 1:  # divide through by alpha first: A * alpha may overflow
        return (counts / alpha + 1.0) / (counts.sum(axis=-1, keepdims=True) / alpha + A)
    return (counts + alpha) / (counts.sum(axis=-1, keepdims=True) + A * alpha)


def trajectory_kl(mdp: TabularMDP, policy, other) -> float:
    r"""Exact :math:`\mathrm{KL}_{\rm traj}(\pi\|\pi') = \mathbb E_\pi[\sum_h
    \mathrm{KL}(\pi_h(\cdot|s_h)\|\pi'_h(\cdot|s_h))]` (the KL between the trajectory laws of two
    policies in the same MDP), by forward propagation of :math:`d^\pi`."""
    from .offline_data import _check_finite_horizon
    from .runner import _dense_model

    _check_finite_horizon(mdp)
    pi = _policy_array(mdp, policy, "policy")
    pi2 = _policy_array(mdp, other, "other")
    P, R = _dense_model(mdp)
    with np.errstate(divide="ignore"):
        log2 = np.log(pi2)
    _, kl = _k.policy_value(P, R, np.ascontiguousarray(mdp.mu, dtype=np.float64), pi, log2)
    return float(kl)


def demo_regularized_lambda(epsilon: float, n_demos: int, c_bc: float) -> float:
    r""":math:`\lambda^* = \varepsilon / (3 C_{\rm BC}/N^E)` (catalogue 1.2, after
    arXiv:2310.17303)."""
    return float(epsilon) * int(n_demos) / (3.0 * float(c_bc))


@dataclass(frozen=True)
class DemoResult:
    """Output of :func:`demo_regularized_bpi`.

    Attributes
    ----------
    policy : numpy.ndarray
        The returned policy ``(H, S, A)``.
    bc_policy : numpy.ndarray
        :math:`\\pi^{\\rm BC}` (the reference of the regularization).
    lam : float
        The temperature :math:`\\lambda^*` used.
    episodes : int
        Online episodes used (the certified stopping time at :math:`\\varepsilon/3`).
    stopped : bool
        The certified gap reached :math:`\\varepsilon/3` within ``max_episodes``.
    gap : float
        Certified bound on the regularized suboptimality at stopping.
    suboptimality : float
        Exact :math:`V^* - V^{\\hat\\pi}` (unregularized) of ``policy``.
    bc_suboptimality : float
        Exact :math:`V^* - V^{\\pi^{\\rm BC}}`.
    """

    policy: np.ndarray
    bc_policy: np.ndarray
    lam: float
    episodes: int
    stopped: bool
    gap: float
    suboptimality: float
    bc_suboptimality: float


def demo_regularized_bpi(
    mdp: TabularMDP,
    states,
    actions,
    epsilon: float,
    *,
    c_bc: float | None = None,
    rng=None,
    delta: float = 0.05,
    max_episodes: int = 1_000_000,
) -> DemoResult:
    r"""Demonstration-regularized best-policy identification (arXiv:2310.17303):
    behavior cloning on the demonstrations, then :class:`RegularizedUCBVI` toward
    :math:`\pi^{\rm BC}` with :math:`\lambda^* = \varepsilon N^E/(3 C_{\rm BC})` until its
    certified regularized gap is :math:`\le \varepsilon/3`.

    Parameters
    ----------
    mdp : TabularMDP
        Finite horizon, rewards in [0, 1] (the environment of the online phase).
    states, actions : arrays (N^E, H+1) / (N^E, H)
        Expert trajectories (e.g. from :func:`sample_trajectories`).
    epsilon : float
        Target accuracy.
    c_bc : float, optional
        :math:`C_{\rm BC}` in :math:`\mathrm{KL}_{\rm traj} \approx C_{\rm BC}/N^E`; default
        :math:`SAH`.
    rng, delta, max_episodes
        Seed, confidence and episode cap of the online phase.
    """
    from ..solvers import evaluate, solve
    from .online import _check_positive
    from .runner import _check_mdp_for_learning

    _check_mdp_for_learning(mdp)
    eps = _check_positive("epsilon", epsilon)
    S, A, H = mdp.S, mdp.A, mdp.H
    states, actions = _check_demos(states, actions, S, A, H)
    n_demos = actions.shape[0]
    if n_demos < 1:
        raise ValueError("states, actions: at least one expert trajectory is needed")
    c_bc = float(S * A * H) if c_bc is None else _check_positive("c_bc", c_bc)
    bc = behavior_cloning(states, actions, S, A)
    lam = demo_regularized_lambda(eps, n_demos, c_bc)
    res = identify(RegularizedUCBVI(beta=lam, ref=bc, delta=delta), mdp, eps / 3.0, rng=rng,
                   max_episodes=max_episodes)
    pi = res.attrs["policies"][0]
    v_star = float(mdp.mu @ solve(mdp).V[0])
    return DemoResult(
        policy=pi,
        bc_policy=bc,
        lam=lam,
        episodes=int(res["episodes"].iloc[0]),
        stopped=bool(res["stopped"].iloc[0]),
        gap=float(res["gap"].iloc[0]),
        suboptimality=v_star - float(evaluate(mdp, pi).J),
        bc_suboptimality=v_star - float(evaluate(mdp, bc).J),
    )
