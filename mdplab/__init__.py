"""mdplab: exact solvers, best-of-N analytics and claim checks for KL-regularized RL."""

from . import envs
from ._utils import kl_divergence
from .linear_mdp import LinearMDP
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
from .solvers import (
    PolicyValue,
    Solution,
    bellman_operator,
    evaluate,
    greedy_policy,
    occupancy,
    policy_reward,
    q_values,
    soft_max,
    softmax_policy,
    solve,
)

__version__ = "0.1.0"


_LAZY = ("plot", "claims", "report", "bon", "learn", "sweep", "proxies")


def __getattr__(name):  # subpackages loaded on first use: ml.plot, ml.claims, ml.bon, ml.learn ...
    if name in _LAZY:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'mdplab' has no attribute {name!r}")

__all__ = [
    "envs",
    "PolicyValue",
    "Solution",
    "bellman_operator",
    "evaluate",
    "greedy_policy",
    "occupancy",
    "policy_reward",
    "q_values",
    "soft_max",
    "softmax_policy",
    "solve",
    "TabularMDP",
    "LinearMDP",
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
