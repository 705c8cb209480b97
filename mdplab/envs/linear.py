r"""Linear-MDP instance generators: every function returns a validated :class:`mdplab.LinearMDP`.

:func:`random_linear_mdp` -- "simplex features" (the safe constructive generator):
    :math:`\phi(s,a) \sim \mathrm{Dir}(\alpha \mathbf 1_d)` (non-negative, summing to 1), factor
    distributions :math:`\psi_{h,i} \sim \mathrm{Dir}(\mathbf 1_S)` over next states for
    :math:`i = 1, \dots, d` (``mu_feat[h, i] = psi_{h,i}``), so that
    :math:`P_h(\cdot|s,a) = \sum_i \phi_i(s,a)\,\psi_{h,i}` is a mixture of distributions
    (valid by construction), and :math:`\theta_h \sim U[0,1]^d`, so
    :math:`r_h = \phi^\top\theta_h \in [0,1]`. Jin et al.'s normalisation holds:
    :math:`\|\phi\|_2 \le \|\phi\|_1 = 1`, :math:`\sum_{s'}\mu_h(s') = \mathbf 1_d` so
    :math:`\|\mu_h(\mathcal S)\|_2 = \sqrt d`, :math:`\|\theta_h\|_2 \le \sqrt d`; the
    :math:`(SA \times S)` matrix :math:`P_h` has rank :math:`\le d`.

:func:`tabular_as_linear` -- any finite-horizon tabular MDP is a linear MDP with one-hot
    features :math:`\phi(s,a) = e_{sA + a}` (:math:`d = SA`), ``mu_feat[h] = P_h`` as an
    :math:`(SA \times S)` matrix and :math:`\theta_h = R_h` flattened.

:func:`hard_linear_mdp` -- the two-state "wait / goal" family behind the linear-MDP lower bounds
    (Zhou, Gu & Szepesvári 2021, *Nearly minimax optimal reinforcement learning for linear
    mixture Markov decision processes*, COLT, arXiv:2012.08507, lower-bound section, numbering
    unverified; the same construction underlies the :math:`\Omega(d\sqrt{H^3K})`-type bounds
    for linear MDPs), written with time-inhomogeneous kernels instead of their chain of
    :math:`H+2` states: with :math:`m = d - 2` sign coordinates and the :math:`A = 2^m`
    actions :math:`a \in \{-1, +1\}^m`, from the "wait" state 0 at step :math:`h`

    .. math::

        P_h(\text{goal} \mid \text{wait}, a) = p_0 + \langle \nu_h, a\rangle, \qquad
        \nu_h \in \{-\Delta/m, +\Delta/m\}^m \text{ (uniformly random signs)},

    otherwise stay in "wait"; "goal" (state 1) is absorbing and pays reward 1 at every step,
    "wait" pays 0; :math:`s_0 = ` wait. The best action :math:`\mathrm{sign}(\nu_h)` reaches the
    goal with probability :math:`p_0 + \Delta`, the worst with :math:`p_0 - \Delta`; finding it
    means identifying :math:`m` signs per step from Bernoulli outcomes whose means differ by
    :math:`O(\Delta/m)`. Features (dimension :math:`d`, :math:`c = \sqrt{m+1}`):
    :math:`\phi(\text{wait}, a) = (1, a, 0)/c`, :math:`\phi(\text{goal}, a) = e_d`;
    :math:`\mu_h(\text{goal}) = c\,(p_0, \nu_h, 0) + e_d`,
    :math:`\mu_h(\text{wait}) = c\,(1 - p_0, -\nu_h, 0)`; :math:`\theta = e_d`.
"""

from __future__ import annotations

import itertools

import numpy as np

from .._utils import as_rng
from ..linear_mdp import LinearMDP
from ..mdp import TabularMDP
from ._common import check_int, check_real

__all__ = ["random_linear_mdp", "tabular_as_linear", "hard_linear_mdp"]


def random_linear_mdp(S: int, A: int, d: int, horizon: int, rng=None, *,
                      concentration: float = 0.3, time_varying: bool = True,
                      mu=None) -> LinearMDP:
    r"""Random linear MDP with simplex features (see the module docstring).

    Parameters
    ----------
    S, A, d : int
        States, actions, feature dimension (all ``>= 1``).
    horizon : int
        ``H >= 1``.
    rng : int or numpy.random.Generator, optional
    concentration : float
        Dirichlet parameter :math:`\alpha > 0` of the features (small: features close to the
        vertices of the simplex, i.e. nearly "latent-cluster" states).
    time_varying : bool
        Draw ``mu_feat`` and ``theta`` per step (``(H, d, S)``, ``(H, d)``) or once.
    mu : array_like, optional
        Initial distribution (uniform when ``None``).

    Examples
    --------
    >>> lin = random_linear_mdp(20, 4, 3, horizon=5, rng=0)
    >>> lin.d, lin.to_tabular().S
    (3, 20)
    """
    S = check_int("S", S, 1)
    A = check_int("A", A, 1)
    d = check_int("d", d, 1)
    H = check_int("horizon", horizon, 1)
    alpha = check_real("concentration", concentration, 0.0, low_open=True)
    g = as_rng(rng)
    phi = g.dirichlet(np.full(d, alpha), size=(S, A))
    steps = H if time_varying else 1
    psi = g.dirichlet(np.ones(S), size=(steps, d))
    theta = g.random((steps, d))
    if not time_varying:
        psi, theta = psi[0], theta[0]
    return LinearMDP(phi, psi, theta, H, mu=mu)


def tabular_as_linear(mdp: TabularMDP) -> LinearMDP:
    """A finite-horizon :class:`TabularMDP` as a :class:`LinearMDP` with one-hot features
    (``d = S*A``); ``tabular_as_linear(m).to_tabular()`` has the kernel and rewards of ``m``.

    Examples
    --------
    >>> import mdplab as ml
    >>> tab = ml.envs.random_mdp(3, 2, horizon=4, rng=0)
    >>> tabular_as_linear(tab).d
    6
    """
    if not isinstance(mdp, TabularMDP):
        raise TypeError(f"mdp: expected a TabularMDP, got {type(mdp).__name__}")
    if mdp.discounted:
        raise ValueError(f"mdp is discounted (gamma = {mdp.gamma}); a LinearMDP has a finite "
                         "horizon: build the tabular model with horizon=H")
    S, A, H = mdp.S, mdp.A, mdp.H
    phi = np.eye(S * A).reshape(S, A, S * A)
    P = mdp.dense().P if mdp.is_sparse else mdp.P
    mu_feat = np.asarray(P).reshape(-1, S * A, S)
    mu_feat = mu_feat[0] if mu_feat.shape[0] == 1 else mu_feat
    theta = np.asarray(mdp.R).reshape(-1, S * A)
    theta = theta[0] if theta.shape[0] == 1 else theta
    return LinearMDP(phi, mu_feat, theta, H, mu=mdp.mu)


def hard_linear_mdp(d: int, horizon: int, gap: float = 0.1, p0: float = 0.5,
                    rng=None) -> LinearMDP:
    r"""The "wait / goal" hard instance (see the module docstring), ``A = 2**(d - 2)`` actions.

    Parameters
    ----------
    d : int
        Feature dimension, ``3 <= d <= 12`` (``m = d - 2`` sign coordinates).
    horizon : int
        ``H >= 1``.
    gap : float
        :math:`\Delta`: the best action reaches the goal with probability ``p0 + gap``, the
        worst with ``p0 - gap``; needs ``0 <= p0 - gap`` and ``p0 + gap <= 1``.
    p0 : float
        Base probability of reaching the goal.
    rng : int or numpy.random.Generator, optional
        Draws the signs of :math:`\nu_h`.

    Examples
    --------
    >>> lin = hard_linear_mdp(4, horizon=5, gap=0.1, rng=0)
    >>> lin.S, lin.A, lin.d
    (2, 4, 4)
    """
    d = check_int("d", d, 3, 12)
    H = check_int("horizon", horizon, 1)
    gap = check_real("gap", gap, 0.0)
    p0 = check_real("p0", p0, 0.0, 1.0)
    if p0 - gap < 0 or p0 + gap > 1:
        raise ValueError(f"gap = {gap!r}, p0 = {p0!r}: need 0 <= p0 - gap and p0 + gap <= 1")
    m = d - 2
    c = np.sqrt(m + 1.0)
    acts = np.array(list(itertools.product((-1.0, 1.0), repeat=m)))  # (A, m)
    A = acts.shape[0]
    phi = np.zeros((2, A, d))
    phi[0, :, 0] = 1.0 / c
    phi[0, :, 1:1 + m] = acts / c
    phi[1, :, d - 1] = 1.0
    nu = as_rng(rng).choice([-1.0, 1.0], size=(H, m)) * (gap / m)
    mu_feat = np.zeros((H, d, 2))
    mu_feat[:, 0, 1] = c * p0
    mu_feat[:, 1:1 + m, 1] = c * nu
    mu_feat[:, d - 1, 1] = 1.0
    mu_feat[:, 0, 0] = c * (1.0 - p0)
    mu_feat[:, 1:1 + m, 0] = -c * nu
    theta = np.zeros(d)
    theta[d - 1] = 1.0
    return LinearMDP(phi, mu_feat, theta, H, mu=np.array([1.0, 0.0]))
