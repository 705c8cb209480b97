"""Instance generators: every function returns a validated :class:`mdplab.TabularMDP`.

=====================  ==================================================================
:func:`random_mdp`     flat-Dirichlet kernels, dense or with ``k`` distinct successors (CSR)
:func:`garnet`         Garnet MDPs (Archibald, McKinnon & Thomas 1995; Bhatnagar et al. 2009)
:func:`gridworld`      gridworlds with walls, slip and absorbing goals; ASCII maps
:func:`chain`          the slow-mixing (slippery) chain
:func:`riverswim`      RiverSwim (Strehl & Littman 2008; Osband, Russo & Van Roy 2013)
:func:`forest`         pymdptoolbox's forest-management example
:func:`from_gymnasium` Gymnasium toy_text environments (FrozenLake, Taxi, CliffWalking)
=====================  ==================================================================

Linear MDPs (:class:`mdplab.LinearMDP`, module :mod:`mdplab.envs.linear`):
:func:`random_linear_mdp` (simplex features), :func:`tabular_as_linear` (one-hot features),
:func:`hard_linear_mdp` (the lower-bound "wait / goal" family).

Random generators take ``rng`` (an int seed or a ``numpy.random.Generator``): the same seed
gives the same model. Every generator accepts ``gamma=`` (discounted) or ``horizon=`` (finite
horizon); kernels are CSR ``(S*A, S)`` when large (``sparse=None`` means automatic).
Each module's docstring states the exact model and its source.
"""

from .classic import RIVERSWIM_VARIANTS, chain, forest, riverswim
from .grid import GRID_ACTIONS, Grid, gridworld, render_gridworld
from .linear import hard_linear_mdp, random_linear_mdp, tabular_as_linear
from .random_mdps import garnet, random_mdp
from .toy_text import from_gymnasium

__all__ = [
    "GRID_ACTIONS",
    "Grid",
    "RIVERSWIM_VARIANTS",
    "chain",
    "forest",
    "from_gymnasium",
    "garnet",
    "gridworld",
    "hard_linear_mdp",
    "random_linear_mdp",
    "random_mdp",
    "render_gridworld",
    "riverswim",
    "tabular_as_linear",
]
