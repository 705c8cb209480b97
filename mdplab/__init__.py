"""mdplab: exact solvers, best-of-N analytics and claim checks for KL-regularized RL."""

from ._utils import kl_divergence
from .mdp import (
    TabularMDP,
    check_mdp,
    check_policy,
    deterministic_policy,
    from_gymnasium_dict,
    from_mdptoolbox,
    from_quantecon,
    load_mdp,
    uniform_policy,
)

__version__ = "0.1.0"

__all__ = [
    "TabularMDP",
    "check_mdp",
    "check_policy",
    "deterministic_policy",
    "from_gymnasium_dict",
    "from_mdptoolbox",
    "from_quantecon",
    "kl_divergence",
    "load_mdp",
    "uniform_policy",
]
